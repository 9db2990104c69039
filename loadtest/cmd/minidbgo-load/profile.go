package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
)

// profiler records CPU, mutex-contention and blocking profiles of this
// process during a measured run, for --embedded in-process servers: the
// profiles then show the server and the load generator together.
type profiler struct {
	dir, name string
	cpu       *os.File
}

// startProfile starts profiling into dir, files named after name; a nil
// profiler when dir is empty.
func startProfile(dir, name string) (*profiler, error) {
	if dir == "" {
		return nil, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	p := &profiler{dir: dir, name: name}
	f, err := os.Create(filepath.Join(dir, name+".cpu.pprof"))
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	p.cpu = f
	runtime.SetMutexProfileFraction(5)
	runtime.SetBlockProfileRate(10000) // one blocking event per 10 µs blocked
	return p, nil
}

// stop ends profiling and writes the mutex and block profiles.
func (p *profiler) stop() error {
	if p == nil {
		return nil
	}
	pprof.StopCPUProfile()
	err := p.cpu.Close()
	for _, kind := range []string{"mutex", "block"} {
		f, ferr := os.Create(filepath.Join(p.dir, p.name+"."+kind+".pprof"))
		if ferr != nil {
			return ferr
		}
		if werr := pprof.Lookup(kind).WriteTo(f, 0); werr != nil && err == nil {
			err = fmt.Errorf("write %s profile: %w", kind, werr)
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	runtime.SetMutexProfileFraction(0)
	runtime.SetBlockProfileRate(0)
	return err
}

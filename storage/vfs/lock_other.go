//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package vfs

import (
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// processLocks is the fallback lock table for platforms without flock. It
// excludes other lockers in this process only: another process opening the
// same directory is not stopped.
var processLocks struct {
	mu   sync.Mutex
	held map[string]bool // by absolute path
}

// lockFile records this process's pid in name and takes the lock in
// processLocks.
func lockFile(name string) (io.Closer, error) {
	abs, err := filepath.Abs(name)
	if err != nil {
		return nil, &fs.PathError{Op: "lock", Path: name, Err: err}
	}
	processLocks.mu.Lock()
	defer processLocks.mu.Unlock()
	if processLocks.held[abs] {
		return nil, lockedError(name, os.Getpid())
	}
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(pidRecord(os.Getpid())); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, err
	}
	if processLocks.held == nil {
		processLocks.held = make(map[string]bool)
	}
	processLocks.held[abs] = true
	return &fileLock{f: f, abs: abs}, nil
}

// fileLock is a held entry of processLocks; Close releases it.
type fileLock struct {
	once sync.Once
	f    *os.File
	abs  string
}

func (l *fileLock) Close() error {
	err := os.ErrClosed
	l.once.Do(func() {
		processLocks.mu.Lock()
		delete(processLocks.held, l.abs)
		processLocks.mu.Unlock()
		err = l.f.Close()
	})
	if err != nil {
		return &fs.PathError{Op: "unlock", Path: l.f.Name(), Err: err}
	}
	return nil
}

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/minidbgo/minidbgo/loadtest/internal/report"
	"github.com/minidbgo/minidbgo/loadtest/internal/runner"
	"github.com/minidbgo/minidbgo/loadtest/internal/target"
	"github.com/minidbgo/minidbgo/loadtest/internal/workload"
	"github.com/minidbgo/minidbgo/storage"
)

// runEngine is "minidbgo-load engine": db_bench-style workloads against
// package storage, in the order given.
func runEngine(ctx context.Context, command string, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("engine", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		cfg         workload.EngineConfig
		benchmarks  string
		durability  string
		compression string
		cacheMB     int
		asJSON      bool
		progress    bool
	)
	fs.Int64Var(&cfg.N, "n", 100000, "keys per workload (fillsync: n/100 writes; scan: n/scan-length scans)")
	fs.StringVar(&benchmarks, "benchmarks", strings.Join(workload.EngineNames, ","), "comma-separated workloads, run in order")
	fs.IntVar(&cfg.ValueSize, "value-size", 200, "approximate value size in bytes (JSON documents)")
	fs.StringVar(&durability, "durability", "none", "sync, group, periodic:<d> or none (fillsync always syncs)")
	fs.IntVar(&cfg.Concurrency, "concurrency", 1, "concurrent workers")
	fs.StringVar(&compression, "compression", "s2", "block compression: none, s2 or zstd")
	fs.IntVar(&cacheMB, "cache-mb", 0, "block cache in MiB (0: the engine's default, 32; -1 disables it)")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "seed of values and key choices")
	fs.IntVar(&cfg.ScanLength, "scan-length", 100, "entries read by each scan")
	fs.StringVar(&cfg.Dir, "dir", "", "directory for the databases (default: a new temporary directory, removed after)")
	fs.BoolVar(&asJSON, "json", false, "print a JSON report instead of text")
	fs.BoolVar(&progress, "progress", true, "draw a progress bar on standard error when it is a terminal")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	var err error
	if cfg.Durability, err = storage.ParseDurability(durability); err != nil {
		return err
	}
	if cfg.Compression, err = storage.ParseCompression(compression); err != nil {
		return err
	}
	switch {
	case cacheMB < 0:
		cfg.CacheBytes = -1
	case cacheMB > 0:
		cfg.CacheBytes = int64(cacheMB) << 20
	}
	names := strings.Split(benchmarks, ",")
	for _, n := range names {
		if !slices.Contains(workload.EngineNames, n) {
			return fmt.Errorf("%w: unknown workload %q (want %s)", errUsage, n, strings.Join(workload.EngineNames, ","))
		}
	}
	if cfg.Dir == "" {
		d, err := os.MkdirTemp("", "minidbgo-engine-*")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		cfg.Dir = d
	}
	e, err := workload.OpenEngine(cfg)
	if err != nil {
		return err
	}
	out := newOutput(stdout, asJSON, command)
	runErr := func() error {
		for _, name := range names {
			r, err := engineRun(ctx, e, name, progressWriter(stderr, progress))
			if err != nil {
				return err
			}
			out.add(r)
		}
		return nil
	}()
	if err := e.Close(); runErr == nil {
		runErr = err
	}
	if runErr != nil {
		return runErr
	}
	return out.finish()
}

func engineRun(ctx context.Context, e *workload.Engine, name string, bar io.Writer) (*report.Run, error) {
	b, err := e.Prepare(name)
	if err != nil {
		return nil, err
	}
	cfg := runner.Config{Concurrency: b.Concurrency, Requests: b.Requests}
	rn, err := runner.New(cfg, b.Op)
	if err != nil {
		return nil, err
	}
	p := report.StartProgress(bar, name, cfg.Requests, 0, rn.Done)
	sampler := target.StartRSS(target.ProcRSS(0), 0)
	res, err := rn.Run(ctx)
	p.Stop()
	peak, ok, _ := sampler.Stop()
	extra := b.Finish()
	if err != nil {
		return nil, err
	}
	r := report.FromResult(name, "engine", e.Describe(name), rn.Config(), res)
	r.Extra = extra
	if r.ElapsedSec > 0 {
		r.MBPerSec = report.Round1(float64(res.BytesIn+res.BytesOut) / r.ElapsedSec / 1e6)
	}
	if ok {
		r.PeakRSSMB, r.RSSSource = report.Round1(peak), "this process"
	}
	ec := e.Config()
	r.Params = map[string]string{
		"n": fmt.Sprint(ec.N), "value_size": fmt.Sprint(ec.ValueSize), "seed": fmt.Sprint(ec.Seed),
		"durability": ec.Durability.String(), "compression": ec.Compression.String(),
	}
	if name == "fillsync" {
		r.Params["durability"] = "sync"
	}
	if name == "scan" {
		r.Params["scan_length"] = fmt.Sprint(ec.ScanLength)
	}
	return r, nil
}

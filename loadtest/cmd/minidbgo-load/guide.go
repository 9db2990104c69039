package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/minidbgo/minidbgo/loadtest/internal/report"
	"github.com/minidbgo/minidbgo/loadtest/internal/workload"
)

// runGuide is "minidbgo-load guide": the guide's two hey runs,
//
//	hey -n 10000 -c 50 -m POST -H "Content-Type: application/json" \
//	  -d '{"_id":"test-${RANDOM}","data":"test"}' http://localhost:6866/api/products
//	hey -n 10000 -c 50 http://localhost:6866/api/products/p1
//
// with a unique _id per write, then the guide's expected figures beside ours.
func runGuide(ctx context.Context, command string, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("guide", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f httpFlags
	f.register(fs, 10000, 0, 1) // as hey: no warm-up, one run each
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if err := f.parsed(fs); err != nil {
		return err
	}
	out := newOutput(io.Discard, f.json, command)
	if f.json {
		out.w = stdout
	}
	prefix := time.Now().UTC().Format("20060102T150405.000")
	ww, err := workload.New("guide-write", workload.Config{IDPrefix: prefix})
	if err != nil {
		return err
	}
	rw, _ := workload.New("guide-read", workload.Config{})
	srv, err := f.startServer(out)
	if err != nil {
		return err
	}
	var runs []*report.Run
	for _, w := range []workload.Workload{ww, rw} {
		r, err := measure(ctx, &f, srv, w, stderr)
		if err != nil {
			_ = srv.close()
			return err
		}
		runs = append(runs, r)
	}
	if err := srv.close(); err != nil {
		return fmt.Errorf("stop server: %w", err)
	}
	runs[0].Expected, runs[1].Expected = &report.GuideWrites, &report.GuideReads
	for _, r := range runs {
		r.ExpectedRSS = &report.GuideRSS
		out.add(r)
	}
	if !f.json {
		for _, r := range runs {
			report.WriteText(stdout, r)
			fmt.Fprintln(stdout)
		}
		report.WriteGuide(stdout, runs[0], runs[1])
		for _, n := range out.report.Notes {
			fmt.Fprintln(stdout, "note:", n)
		}
		return nil
	}
	return out.finish()
}

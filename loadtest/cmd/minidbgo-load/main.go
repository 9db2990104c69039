// Command minidbgo-load measures MiniDBGo: the guide's two hey runs, HTTP
// scenarios against a server, and db_bench-style workloads against the
// storage engine directly.
//
//	minidbgo-load guide    [target flags]          the guide's runs, beside its expected figures
//	minidbgo-load SCENARIO [target flags] [flags]  one HTTP scenario: write read mixed search bulk update
//	minidbgo-load engine   [flags]                 engine workloads (fillseq … compact)
//	minidbgo-load soak     --server-bin PATH [flags]  soak test: peak RSS and 5xx under mixed load
//	minidbgo-load markdown -o FILE REPORT.json…    the benchmark section of the docs
//
// Target flags: --url URL measures a running server (only loopback
// addresses unless given explicitly); --embedded starts MiniDBGo in this
// process on a temporary directory, or, with --server-bin PATH, the
// minidbgo-server binary as a child process. --baseline first runs the
// same scenario against a trivial net/http handler answering the same
// number of bytes, and reports the server's throughput as a ratio of it;
// the handler runs where the server runs: in this process beside an
// embedded server, and in a child process of its own (this executable,
// re-started with MINIDBGO_LOAD_BASELINE set) beside a server process, so
// that both pay for a process boundary.
//
// Runs are closed-loop like hey's: -c workers, each sending its next
// request when the previous one has been answered, for -n requests or -d
// of time. Every run is seeded (--seed) and deterministic. --json prints a
// machine-readable report (schema minidbgo-load/v1) instead of text; a
// progress bar is drawn on standard error when it is a terminal.
//
// soak runs the minidbgo-server binary (--server-bin) as a child process
// under GOMEMLIMIT=200MiB for -d (10m) of mixed load at -c (50) clients —
// inserts, reads, $set/$inc PATCHes, replacements, deletes, _insertMany,
// indexed and unindexed _find, _count — while POST /api/_compact is sent
// every 20 s and GET /api/dumpDB and an _export stream without pause. It
// samples the server's RSS every second (--out writes the timeline) and
// exits with status 1 when the peak reaches --rss-limit-mb (150) or any
// request failed other than by a deliberate 503. make soak runs it.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/minidbgo/minidbgo/loadtest/internal/report"
	"github.com/minidbgo/minidbgo/loadtest/internal/target"
	"github.com/minidbgo/minidbgo/loadtest/internal/workload"
)

const usage = `usage:
  minidbgo-load guide    [--url URL | --embedded] [--baseline] [--json]
  minidbgo-load SCENARIO [--url URL | --embedded] [-n N | -d DUR] [-c N] [--baseline] [--json] [flags]
                         SCENARIO: write read mixed search bulk update
  minidbgo-load engine   [-n N] [--benchmarks LIST] [--value-size B] [--durability D] [--concurrency N] [--json]
  minidbgo-load soak     --server-bin PATH [-d 10m] [-c 50] [--rss-limit-mb 150] [--json] [--out RSS.csv]
  minidbgo-load markdown -o FILE REPORT.json...
Run "minidbgo-load COMMAND -h" for a command's flags.
`

func main() {
	// A child started by --baseline to serve the reference handler.
	if served, err := target.ServeBaselineProcess(); served {
		if err != nil {
			fmt.Fprintln(os.Stderr, "minidbgo-load: baseline:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, errUsage) {
			fmt.Fprintln(os.Stderr, "minidbgo-load:", err)
		}
		os.Exit(exitCode(err))
	}
}

var errUsage = errors.New("usage")

func exitCode(err error) int {
	if errors.Is(err, errUsage) {
		return 2
	}
	return 1
}

// run executes one command line; stdout receives the report, stderr the
// progress bar and diagnostics.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	cmd, rest := args[0], args[1:]
	command := strings.Join(append([]string{filepath.Base(os.Args[0])}, args...), " ")
	switch {
	case cmd == "guide":
		return runGuide(ctx, command, rest, stdout, stderr)
	case cmd == "engine":
		return runEngine(ctx, command, rest, stdout, stderr)
	case cmd == "soak":
		return runSoak(ctx, command, rest, stdout, stderr)
	case cmd == "markdown":
		return runMarkdown(rest, stderr)
	case slices.Contains(workload.Names, cmd):
		return runScenario(ctx, command, cmd, rest, stdout, stderr)
	case cmd == "-h" || cmd == "--help" || cmd == "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprintf(stderr, "minidbgo-load: unknown command %q\n%s", cmd, usage)
	return errUsage
}

// output collects runs and prints them as text as they finish, or as one
// JSON report at the end.
type output struct {
	w      io.Writer
	json   bool
	report report.Report
}

func newOutput(w io.Writer, asJSON bool, command string) *output {
	return &output{w: w, json: asJSON, report: report.Report{
		Schema: report.Schema, Command: command, Machine: report.DescribeMachine(),
	}}
}

func (o *output) add(r *report.Run) {
	o.report.Runs = append(o.report.Runs, r)
	if !o.json {
		report.WriteText(o.w, r)
		fmt.Fprintln(o.w)
	}
}

func (o *output) note(format string, args ...any) {
	o.report.Notes = append(o.report.Notes, fmt.Sprintf(format, args...))
}

func (o *output) finish() error {
	if !o.json {
		for _, n := range o.report.Notes {
			fmt.Fprintln(o.w, "note:", n)
		}
		return nil
	}
	enc := json.NewEncoder(o.w)
	enc.SetIndent("", "  ")
	return enc.Encode(o.report)
}

// progressWriter is where progress bars go: standard error when it is a
// terminal and progress is not turned off, else nowhere.
func progressWriter(stderr io.Writer, enabled bool) io.Writer {
	f, ok := stderr.(*os.File)
	if !enabled || !ok || !report.IsTerminal(f) {
		return nil
	}
	return stderr
}

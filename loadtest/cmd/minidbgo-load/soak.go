package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/minidbgo/minidbgo/loadtest/internal/report"
	"github.com/minidbgo/minidbgo/loadtest/internal/soak"
)

// errSoakFailed is returned when a soak run was carried out and failed
// its checks (the report says why).
var errSoakFailed = errors.New("soak test failed")

// runSoak is "minidbgo-load soak": the minidbgo-server binary as a child
// process under GOMEMLIMIT=200MiB, mixed load at -c clients for -d with
// compactions requested every 20 s and a dump and an export always
// streaming; RSS sampled every second. Exit status 1 when the peak RSS
// reaches --rss-limit-mb or any request failed other than by a
// deliberate 503.
func runSoak(ctx context.Context, command string, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg soak.Config
	var asJSON, progress bool
	var out, serverEnv, serverLog string
	fs.DurationVar(&cfg.Duration, "d", 10*time.Minute, "duration of the load")
	fs.IntVar(&cfg.Clients, "c", 50, "concurrent clients (closed loop)")
	fs.StringVar(&cfg.ServerBin, "server-bin", "", "the minidbgo-server binary to run as a child process (required)")
	fs.Float64Var(&cfg.RSSLimitMB, "rss-limit-mb", 150, "the server's peak RSS (MiB) must stay under this")
	fs.StringVar(&cfg.MemLimit, "gomemlimit", "200MiB", "the server's GOMEMLIMIT")
	fs.IntVar(&cfg.FlushSize, "flush-size", 5000, "the server's FLUSH_SIZE (records per memtable)")
	fs.IntVar(&cfg.MaxMemMB, "max-mem-mb", 30, "the server's MAX_MEM_MB (memtable MiB)")
	fs.StringVar(&serverEnv, "server-env", "", "extra server environment, comma-separated KEY=VALUE pairs (e.g. GOGC=100)")
	fs.IntVar(&cfg.MaxDocs, "max-docs", 50000, "documents in the data set at most: then inserts turn into deletes of the oldest")
	fs.IntVar(&cfg.Preload, "preload", 0, "documents inserted before the load (default: max-docs/2)")
	fs.IntVar(&cfg.DocSize, "doc-size", 1024, "approximate document size in bytes")
	fs.IntVar(&cfg.Batch, "batch", 20, "documents per _insertMany")
	fs.DurationVar(&cfg.CompactEvery, "compact-every", 20*time.Second, "interval of POST /api/_compact")
	fs.DurationVar(&cfg.SampleEvery, "sample-every", time.Second, "interval of the RSS samples")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "seed of the operation mix")
	fs.BoolVar(&asJSON, "json", false, "print a JSON report instead of text")
	fs.BoolVar(&progress, "progress", true, "print a status line on standard error every 30 s")
	fs.StringVar(&out, "out", "", "write the RSS timeline (one row per sample) to this CSV file")
	fs.StringVar(&cfg.ProfileDir, "profile", "", "save the server's heap profiles here (at RSS peaks above 80% of the limit, and at the end)")
	fs.StringVar(&serverLog, "server-log", "", "write the server's log (JSON lines) to this file")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if cfg.ServerBin == "" {
		return fmt.Errorf("%w: soak needs --server-bin (build it with: go build -o minidbgo-server ./httpd/cmd/minidbgo-server)", errUsage)
	}
	if serverEnv != "" {
		cfg.ServerEnv = strings.Split(serverEnv, ",")
	}
	if progress {
		cfg.Status = stderr
	}
	if serverLog != "" {
		f, err := os.Create(serverLog)
		if err != nil {
			return err
		}
		defer f.Close()
		cfg.ServerLog = f
	}
	res, err := soak.Run(ctx, cfg)
	if res == nil {
		return err
	}
	res.Command = command
	if out != "" {
		if werr := writeTimeline(out, res.Timeline); werr != nil {
			err = errors.Join(err, werr)
		}
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if jerr := enc.Encode(struct {
			Schema  string         `json:"schema"`
			Machine report.Machine `json:"machine"`
			Soak    *soak.Result   `json:"soak"`
		}{Schema: "minidbgo-load/soak/v1", Machine: report.DescribeMachine(), Soak: res}); jerr != nil {
			err = errors.Join(err, jerr)
		}
	} else {
		soak.WriteText(stdout, res)
		if out != "" {
			fmt.Fprintf(stdout, "  timeline:    %s\n", out)
		}
	}
	if err != nil {
		return err
	}
	if !res.Pass {
		return errSoakFailed
	}
	return nil
}

func writeTimeline(path string, timeline []soak.Sample) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := soak.WriteCSV(f, timeline); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

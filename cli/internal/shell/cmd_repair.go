package shell

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/minidbgo/minidbgo/storage/tool"
	"github.com/minidbgo/minidbgo/storage/vfs"
)

// runRepair is `minidbgo repair --wal=point-in-time`: it recovers a data
// directory whose write-ahead log or MANIFEST is damaged (which the server
// refuses to open), keeping every write before the damage, then checks
// every file. Exit status 0 when the directory is sound afterwards.
func runRepair(args []string, defDir string, stdout, stderr io.Writer) int {
	var mode string
	setup := func(fs *flag.FlagSet) {
		fs.StringVar(&mode, "wal", "", "WAL recovery mode; the only one is point-in-time")
		fs.Usage = func() {
			fmt.Fprint(stderr, `Usage: minidbgo repair --wal=point-in-time [--dir DIR] [--json]

Recovers a data directory whose write-ahead log or MANIFEST is damaged,
which the server refuses to open. Every write before the first damaged
log record is kept; the damaged record, the rest of its log and every later
log are moved to DIR/lost/ (the writes in them are discarded). A damaged
MANIFEST is rebuilt from its edits before the damage, keeping the tables
of flushes whose edit was lost; tables it cannot place go to DIR/lost/.
Stop the server first, and copy the directory if you can.

`)
			fs.PrintDefaults()
		}
	}
	validate := func() int {
		switch mode {
		case "point-in-time":
			return -1
		case "":
			fmt.Fprintln(stderr, "minidbgo repair: say how to recover: --wal=point-in-time (keeps every write before the damage, discards the rest)")
		default:
			fmt.Fprintf(stderr, "minidbgo repair: unknown --wal mode %q (the only one is point-in-time)\n", mode)
		}
		return exitUsage
	}
	dir, asJSON, code := adminFlags("repair", args, defDir, stderr, setup, validate)
	if code >= 0 {
		return code
	}

	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	r, err := tool.Repair(vfs.Default, dir, logger)
	if err != nil {
		if errors.Is(err, vfs.ErrLocked) {
			err = openError(dir, err)
		}
		fmt.Fprintln(stderr, "minidbgo repair:", err)
		if advice := tool.Advice(err, dir); advice != "" {
			fmt.Fprintln(stderr, "minidbgo repair:", advice)
		}
		return exitFailed
	}
	rep, err := tool.Check(vfs.Default, dir)
	if err != nil {
		fmt.Fprintln(stderr, "minidbgo repair: checking after recovery:", err)
		return exitFailed
	}
	damaged := rep.Damaged()
	if asJSON {
		out := struct {
			Dir           string   `json:"dir"`
			Logs          int      `json:"logs"`
			Records       int64    `json:"records"`
			DamagedLog    string   `json:"damagedLog,omitempty"`
			DamageOffset  int64    `json:"damageOffset,omitempty"`
			DamagedBytes  int64    `json:"damagedBytes,omitempty"`
			DiscardedLogs []string `json:"discardedLogs,omitempty"`
			// The MANIFEST's damage and what became of unnamed tables.
			DamagedManifest      string   `json:"damagedManifest,omitempty"`
			ManifestDamageOffset int64    `json:"manifestDamageOffset,omitempty"`
			AdoptedTables        []string `json:"adoptedTables,omitempty"`
			SetAsideTables       []string `json:"setAsideTables,omitempty"`
			OK                   bool     `json:"ok"`
		}{dir, r.Logs, r.Records, r.DamagedLog, r.DamageOffset, r.DamagedBytes, r.DiscardedLogs,
			r.DamagedManifest, r.ManifestDamageOffset, r.AdoptedTables, r.SetAsideTables, len(damaged) == 0}
		b, _ := json.MarshalIndent(out, "", "  ")
		fmt.Fprintln(stdout, string(b))
	} else {
		fmt.Fprintf(stdout, "replayed %d batches from %d logs\n", r.Records, r.Logs)
		if r.DamagedManifest != "" {
			fmt.Fprintf(stdout, "rebuilt the version from the edits of %s before offset %d; kept %d tables of lost flushes %v",
				r.DamagedManifest, r.ManifestDamageOffset, len(r.AdoptedTables), r.AdoptedTables)
			if n := len(r.SetAsideTables); n > 0 {
				fmt.Fprintf(stdout, "; moved %d tables it could not place to %s/lost/ %v", n, dir, r.SetAsideTables)
			}
			fmt.Fprintln(stdout)
		}
		switch {
		case r.DamagedLog == "" && r.DamagedManifest == "":
			fmt.Fprintln(stdout, "no damage found: nothing was discarded")
		case r.DamagedLog == "":
			fmt.Fprintln(stdout, "no damaged log: every logged write was replayed")
		default:
			fmt.Fprintf(stdout, "discarded %d bytes of %s from offset %d", r.DamagedBytes, r.DamagedLog, r.DamageOffset)
			if n := len(r.DiscardedLogs); n > 0 {
				fmt.Fprintf(stdout, " and %d later logs (%v)", n, r.DiscardedLogs)
			}
			fmt.Fprintf(stdout, "; moved to %s/lost/\n", dir)
		}
	}
	for _, f := range damaged {
		fmt.Fprintf(stderr, "minidbgo repair: still damaged: %s: %s\n", f.Path, damageText(f.Err))
	}
	if len(damaged) > 0 {
		return exitFailed
	}
	if !asJSON {
		fmt.Fprintf(stdout, "%d files checked in %s, 0 damaged\n", len(rep.Files), dir)
	}
	return exitOK
}

package shell

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"text/tabwriter"

	"github.com/minidbgo/minidbgo/storage"
	"github.com/minidbgo/minidbgo/storage/tool"
	"github.com/minidbgo/minidbgo/storage/vfs"
)

// adminFlags parses the flags of an admin command (check, inspect,
// repair): --dir (or one positional directory), --json, and whatever
// flags setup registers; validate, when set, checks those before the
// directory is checked and returns an exit code, or -1 to go on. code is
// -1 when the command should run.
func adminFlags(name string, args []string, defDir string, stderr io.Writer, setup func(*flag.FlagSet), validate func() int) (dir string, asJSON bool, code int) {
	fs := flag.NewFlagSet("minidbgo "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&dir, "dir", defDir, "data directory (default: DB_PATH or --db)")
	fs.BoolVar(&asJSON, "json", false, "print the report as JSON")
	if setup != nil {
		setup(fs)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return "", false, exitOK
		}
		return "", false, exitUsage
	}
	switch fs.NArg() {
	case 0:
	case 1:
		dir = fs.Arg(0)
	default:
		fmt.Fprintf(stderr, "minidbgo %s: one directory at most, got %q\n", name, fs.Args())
		return "", false, exitUsage
	}
	if validate != nil {
		if code := validate(); code >= 0 {
			return "", false, code
		}
	}
	if !isDataDir(dir) {
		fmt.Fprintf(stderr, "minidbgo %s: %s is not a MiniDBGo data directory (no CURRENT, wal/ or sst/)\n", name, dir)
		return "", false, exitFailed
	}
	return dir, asJSON, -1
}

func isDataDir(dir string) bool {
	for _, n := range []string{"CURRENT", "wal", "sst"} {
		if _, err := os.Stat(filepath.Join(dir, n)); err == nil {
			return true
		}
	}
	return false
}

type checkFileJSON struct {
	Path        string `json:"path"`
	Kind        string `json:"kind"`
	Size        int64  `json:"size"`
	Live        bool   `json:"live"`
	Records     int64  `json:"records"`
	TailDropped int64  `json:"tailDropped,omitempty"`
	OK          bool   `json:"ok"`
	Offset      *int64 `json:"offset,omitempty"`
	Error       string `json:"error,omitempty"`
	// Orphan marks a file the next open removes unread (a crash
	// leftover); OrphanError is what checking it found, not damage.
	Orphan      bool   `json:"orphan,omitempty"`
	OrphanError string `json:"orphanError,omitempty"`
}

// runCheck is `minidbgo check`: every checksum of a data directory,
// offline (it takes the directory's lock, so a running server makes it
// fail with that server's pid). Exit status 1 when any file is damaged.
func runCheck(args []string, defDir string, stdout, stderr io.Writer) int {
	dir, asJSON, code := adminFlags("check", args, defDir, stderr, nil, nil)
	if code >= 0 {
		return code
	}
	lock, err := vfs.Default.Lock(filepath.Join(dir, "LOCK"))
	if err != nil {
		fmt.Fprintf(stderr, "minidbgo check: %v; check reads a directory no process has open\n", openError(dir, err))
		return exitFailed
	}
	defer lock.Close()
	rep, err := tool.Check(vfs.Default, dir)
	if err != nil {
		fmt.Fprintln(stderr, "minidbgo check:", err)
		return exitFailed
	}
	damaged := rep.Damaged()
	if asJSON {
		out := struct {
			Dir   string          `json:"dir"`
			OK    bool            `json:"ok"`
			Files []checkFileJSON `json:"files"`
		}{Dir: dir, OK: len(damaged) == 0}
		for _, f := range rep.Files {
			j := checkFileJSON{Path: f.Path, Kind: string(f.Kind), Size: f.Size, Live: f.Live, Records: f.Records, TailDropped: f.TailDropped, OK: f.OK(), Orphan: f.Orphan}
			if f.OrphanErr != nil {
				j.OrphanError = f.OrphanErr.Error()
			}
			if f.Err != nil {
				j.Error = f.Err.Error()
				var ce *storage.CorruptionError
				if errors.As(f.Err, &ce) && ce.Offset >= 0 {
					off := ce.Offset
					j.Offset = &off
				}
			}
			out.Files = append(out.Files, j)
		}
		b, _ := json.MarshalIndent(out, "", "  ")
		fmt.Fprintln(stdout, string(b))
	} else {
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		for _, f := range rep.Files {
			status, detail := "ok", checkDetail(f)
			switch {
			case f.Err != nil:
				status, detail = "DAMAGED", damageText(f.Err)
			case f.OrphanErr != nil:
				status, detail = "orphan", "crash leftover, not damage ("+damageText(f.OrphanErr)+"): removed at the next open"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", status, f.Path, sizeText(f.Size), detail)
		}
		tw.Flush()
		fmt.Fprintf(stdout, "%d files checked in %s, %d damaged", len(rep.Files), dir, len(damaged))
		if n := len(rep.Orphans()); n > 0 {
			fmt.Fprintf(stdout, ", %d orphaned (crash leftovers the next open removes)", n)
		}
		fmt.Fprintln(stdout)
	}
	for _, f := range damaged {
		fmt.Fprintf(stderr, "minidbgo check: damaged: %s: %s\n", f.Path, damageText(f.Err))
	}
	if len(damaged) > 0 {
		return exitFailed
	}
	return exitOK
}

func checkDetail(f tool.FileReport) string {
	var s string
	switch f.Kind {
	case tool.KindManifest:
		s = fmt.Sprintf("%d edits", f.Records)
	case tool.KindWAL:
		s = fmt.Sprintf("%d records", f.Records)
	case tool.KindSST:
		s = fmt.Sprintf("%d entries", f.Records)
	}
	if f.TailDropped > 0 {
		s += fmt.Sprintf(", torn tail of %d bytes (ignored by recovery)", f.TailDropped)
	}
	switch {
	case f.Orphan:
		s += " (obsolete: removed at the next open)"
	case !f.Live && f.Kind != tool.KindCurrent:
		// The MANIFEST is damaged: Open refuses, so nothing is removed.
		s += " (not named by the MANIFEST)"
	}
	return s
}

// damageText is "at offset N: what" for a corruption error.
func damageText(err error) string {
	var ce *storage.CorruptionError
	if errors.As(err, &ce) {
		if ce.Offset >= 0 {
			return fmt.Sprintf("corrupt at offset %d: %v", ce.Offset, ce.Err)
		}
		return fmt.Sprintf("corrupt: %v", ce.Err)
	}
	return err.Error()
}

func sizeText(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return strconv.FormatInt(n, 10) + " B"
}

// quoteKey renders a binary key readably, shortened.
func quoteKey(k []byte) string {
	const max = 48
	if len(k) > max {
		return strconv.Quote(string(k[:max])) + "…"
	}
	return strconv.Quote(string(k))
}

// runInspect is `minidbgo inspect`: the levels, tables and WALs of a data
// directory, read from its MANIFEST and table properties, without the
// lock (so it can look at a directory a server has open).
func runInspect(args []string, defDir string, stdout, stderr io.Writer) int {
	dir, asJSON, code := adminFlags("inspect", args, defDir, stderr, nil, nil)
	if code >= 0 {
		return code
	}
	lay, err := tool.Inspect(vfs.Default, dir)
	if err != nil {
		fmt.Fprintln(stderr, "minidbgo inspect:", err)
		if errors.Is(err, storage.ErrCorruption) {
			fmt.Fprintln(stderr, "minidbgo inspect: run minidbgo check for every damaged file")
		}
		return exitFailed
	}
	if asJSON {
		type table struct {
			tool.TableInfo
			Smallest string `json:"smallest"`
			Largest  string `json:"largest"`
		}
		type level struct {
			Level int     `json:"level"`
			Bytes uint64  `json:"bytes"`
			Files []table `json:"files"`
		}
		out := struct {
			tool.Layout
			Levels []level `json:"levels"`
		}{Layout: lay}
		for _, l := range lay.Levels {
			lv := level{Level: l.Level, Bytes: l.Bytes, Files: []table{}}
			for _, f := range l.Files {
				lv.Files = append(lv.Files, table{TableInfo: f, Smallest: quoteKey(f.Smallest), Largest: quoteKey(f.Largest)})
			}
			out.Levels = append(out.Levels, lv)
		}
		b, _ := json.MarshalIndent(out, "", "  ")
		fmt.Fprintln(stdout, string(b))
		return exitOK
	}
	fmt.Fprintf(stdout, "%s: %s (%s), last seq %d, log %06d, next file %06d\n",
		dir, lay.Manifest, sizeText(lay.ManifestSize), lay.LastSeq, lay.LogNum, lay.NextFileNum)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "level\tfiles\tsize\tentries\tdeletions\t")
	var entries, dels uint64
	for _, l := range lay.Levels {
		var e, d uint64
		for _, f := range l.Files {
			e += f.Entries
			d += f.Deletions
		}
		entries, dels = entries+e, dels+d
		fmt.Fprintf(tw, "L%d\t%d\t%s\t%d\t%d\t\n", l.Level, len(l.Files), sizeText(int64(l.Bytes)), e, d)
	}
	fmt.Fprintf(tw, "total\t%d\t%s\t%d\t%d\t\n", lay.Tables, sizeText(int64(lay.TableBytes)), entries, dels)
	tw.Flush()
	if lay.Tables > 0 {
		fmt.Fprintln(stdout, "\ntables:")
		tw = tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		for _, l := range lay.Levels {
			for _, f := range l.Files {
				detail := fmt.Sprintf("%d entries, %d deletions, %d blocks, %s", f.Entries, f.Deletions, f.DataBlocks, f.Compression)
				if f.Error != "" {
					detail = "unreadable: " + f.Error
				}
				fmt.Fprintf(tw, "  L%d\t%s\t%s\tseq %d-%d\t%s\t%s .. %s\n", l.Level, f.Path, sizeText(int64(f.Size)),
					f.SmallestSeq, f.LargestSeq, detail, quoteKey(f.Smallest), quoteKey(f.Largest))
			}
		}
		tw.Flush()
	}
	fmt.Fprintf(stdout, "\nWAL (%s):\n", sizeText(lay.WALBytes))
	for _, w := range lay.WALs {
		state := "live, replayed at open"
		if !w.Live {
			state = "obsolete"
		}
		fmt.Fprintf(stdout, "  %s  %s  %s\n", w.Path, sizeText(w.Size), state)
	}
	return exitOK
}

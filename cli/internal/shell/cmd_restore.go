package shell

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/minidbgo/minidbgo/storage"
	"github.com/minidbgo/minidbgo/storage/vfs"
)

// runRestore is `minidbgo restore --from FILE --dir DIR`: it unpacks a
// physical backup (GET /api/backup) into a data directory, offline. Every
// file's CRC-32C is checked while it is unpacked into DIR.restore-tmp,
// the result is opened once, and only then renamed to DIR; a DIR that
// holds files is refused unless --force (then swapped by rename). Exit
// status 1 on a truncated or corrupted archive, with DIR unchanged.
func runRestore(args []string, defDir string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("minidbgo restore", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var from, dir string
	var force, asJSON bool
	fs.StringVar(&from, "from", "", "the backup archive (GET /api/backup), - for stdin")
	fs.StringVar(&dir, "dir", defDir, "data directory to restore into (default: DB_PATH or --db)")
	fs.BoolVar(&force, "force", false, "replace a data directory that holds files")
	fs.BoolVar(&asJSON, "json", false, "print the result as JSON")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: minidbgo restore --from FILE [--dir DIR] [--force] [--json]

Restores a physical backup (curl -o backup.tar.zst -H "Authorization: Bearer
$ADMIN_KEY" http://host:6866/api/backup, or the client's Backup) into DIR,
offline. Each file's checksum is verified while it is unpacked into
DIR.restore-tmp; the result is opened once and only then renamed to DIR.
DIR must be absent or empty unless --force, which moves the old directory
aside (DIR.restore-old), renames the restored one into place and removes
the old one. A directory a running server holds is never replaced. A
truncated or corrupted archive fails with DIR unchanged.

`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "minidbgo restore: unexpected argument %q (the archive goes in --from, the directory in --dir)\n", fs.Arg(0))
		return exitUsage
	}
	if from == "" {
		fmt.Fprintln(stderr, "minidbgo restore: say which backup to restore: --from FILE (or - for stdin)")
		return exitUsage
	}
	if dir == "" {
		fmt.Fprintln(stderr, "minidbgo restore: say where to restore it: --dir DIR")
		return exitUsage
	}
	var r io.Reader = os.Stdin
	if from != "-" {
		f, err := os.Open(from)
		if err != nil {
			fmt.Fprintln(stderr, "minidbgo restore:", err)
			return exitFailed
		}
		defer f.Close()
		r = f
	}
	st, err := storage.RestoreBackup(r, dir, &storage.RestoreOptions{Force: force})
	if err != nil {
		switch {
		case errors.Is(err, vfs.ErrLocked):
			err = openError(dir, err)
		case errors.Is(err, storage.ErrBadBackup):
			err = fmt.Errorf("%s: %w; %s is unchanged", from, err, dir)
		}
		fmt.Fprintln(stderr, "minidbgo restore:", err)
		return exitFailed
	}
	if asJSON {
		out := struct {
			Dir   string `json:"dir"`
			Files int    `json:"files"`
			Bytes int64  `json:"bytes"`
		}{dir, st.Files, st.Bytes}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(out)
		return exitOK
	}
	fmt.Fprintf(stdout, "restored %d files (%s) into %s\n", st.Files, humanBytes(st.Bytes), dir)
	return exitOK
}

// humanBytes formats a byte count for people.
func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

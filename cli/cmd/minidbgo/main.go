// Command minidbgo is MiniDBGo's shell: an interactive, scriptable client
// of the embedded database (with the REST API served beside it) or of a
// running server (--url), plus the admin commands check, inspect and repair.
//
//	minidbgo                              the shell on DB_PATH (data/MiniDBGo), REST API on :6866
//	minidbgo -c 'count products'          one command; exit 0, 1 if it failed, 2 on misuse
//	minidbgo --url http://db:6866 < script
//	MODE=server minidbgo                  the REST API only
//	minidbgo check --dir data/MiniDBGo    verify every checksum offline
//	minidbgo repair --wal=point-in-time   recover from a WAL damaged before its end
//
// GOMEMLIMIT defaults to 200MiB and GOGC to 50, as in the guide.
package main

import (
	"os"
	"runtime/debug"

	"github.com/minidbgo/minidbgo/cli/internal/shell"
)

func main() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(200 << 20)
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(50)
	}
	os.Exit(shell.Run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Environ()))
}

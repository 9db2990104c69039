// Command minidbgo is MiniDBGo's shell: an interactive, scriptable client
// of the embedded database or of a running server (--url), plus the admin
// commands check, inspect, repair and restore.
//
//	minidbgo                              the shell on DB_PATH (data/MiniDBGo); --http ADDR also serves the REST API
//	minidbgo --url http://db:6866         the shell on a running server (API key in MINIDBGO_API_KEY)
//	minidbgo -c 'count products'          one command; exit 0, 1 if it failed, 2 on misuse
//	minidbgo -c "db.products.find({price: {\$gt: 10}}).limit(5)"   mongosh's form, relaxed JSON
//	minidbgo --format table < script      output as a table (or json, pretty)
//	MODE=server minidbgo                  the REST API only (LOG_FORMAT=text|json|auto)
//	minidbgo check --dir data/MiniDBGo    verify every checksum offline
//	minidbgo repair --wal=point-in-time   recover from a WAL damaged before its end
//	minidbgo restore --from backup.tar.zst --dir D   restore a physical backup (GET /api/backup)
//	minidbgo --version                    the version (-ldflags -X …/shell.Version=, else the build's)
//
// GOMEMLIMIT defaults to 200MiB and GOGC to 50, as in docs/operations.md.
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

// Package crashtest holds MiniDBGo's end-to-end crash tests (issue 8,
// RELIABILITY.md S3, S7 and S8). They build minidbgo-server, run it as a
// child process on a loopback port, drive clients against it over HTTP,
// SIGKILL it at random moments (or let it kill itself at named points
// inside the engine, with -tags killpoints), restart it and check what
// the clients were told against what the database holds.
//
// The package has no API: see the _test.go files and docs/reliability.md.
package crashtest

// Package e2etest holds MiniDBGo's end-to-end tests against the built
// binaries (issue 8, RELIABILITY.md S3, S7, S8 and §4). They build
// minidbgo-server, run it as a child process on a loopback port and drive
// clients against it over HTTP: the crash tests SIGKILL it at random
// moments (or let it kill itself at named points inside the engine, with
// -tags killpoints), restart it and check what the clients were told
// against what the database holds; the bad-input tests send malformed
// requests and check the answer, an unchanged database and a healthy
// server.
//
// The package has no API: see the _test.go files and docs/reliability.md.
package e2etest

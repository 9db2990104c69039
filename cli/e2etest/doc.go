// Package e2etest holds end-to-end tests of the minidbgo shell against
// the built binaries (issue 8, RELIABILITY.md §4 rows 32–33): they build
// minidbgo and minidbgo-server, run them as child processes and check
// exit statuses, stderr and the data directory afterwards.
//
// The package has no API: see the _test.go files and docs/reliability.md.
package e2etest

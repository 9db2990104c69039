// Package shell is the minidbgo command: an interactive and scriptable
// shell over MiniDBGo, embedded (package docstore, with the REST API of
// package httpd served beside it) or remote (package httpd/client), plus
// the offline admin commands check and inspect (package storage/tool).
//
// # Basics
//
// Run is the whole program, testable in process:
//
//	code := shell.Run([]string{"-c", `findMany products {"price":{"$gt":1000}}`},
//		os.Stdin, os.Stdout, os.Stderr, os.Environ())
//
// Commands are words and JSON: `updateOne products {"_id":"p1"}
// {"$set":{"name":"Laptop Pro"}}`. JSON arguments may be relaxed as in
// mongosh (`{_id: 'p1'}`, trailing commas; relaxed.go turns them into
// strict JSON, and syntax errors name the column of the user's line), and
// mongosh's `db.products.find({...}).sort({...}).limit(n)` form runs the
// same commands (dbcall.go). A statement continues on the next line while
// brackets or parentheses are open. With -c, a JSON argument typed as - is
// read from standard input: `minidbgo -c 'insertOne products -' <
// doc.json`. Both backends return the REST API's wire types
// (package httpd/client/api) and one printer formats them, so the output of a
// command is the same on a data directory and through --url; the
// transcript tests in testdata/ replay every command against both.
//
// # Output and exit status
//
// Results go to stdout in the format of --format or the format command:
// pretty (indented and coloured JSON, short arrays of scalars on one line;
// the default on a terminal, NO_COLOR turns colour off), json (compact,
// one document per line; the default when piped, and --json) or table
// (documents as rows, a table per page). Errors go to stderr as
// "error (<code>): <message>", with the database's or the server's code.
// A script stops at the first failed statement: exit status 1, or 2 for
// a usage error (unknown command, wrong arguments, bad flags).
//
// # Caveats
//
// A shell on the embedded database holds the data directory's lock:
// a second process gets "locked by pid N" and should use --url; a server
// records its address in the directory (httpd.ListenFile), so the message
// names it. The shell serves the REST API beside itself only with --http. The
// embedded docstore calls cannot be interrupted midway; Ctrl-C cancels
// streaming commands (dumpDB, restoreDB, findMany's paging) between
// chunks.
package shell

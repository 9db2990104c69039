package shell

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strings"

	srvconfig "github.com/minidbgo/minidbgo/httpd/config"
)

// config is the command line and environment of minidbgo.
type config struct {
	mode    string // cli or server
	dbPath  string
	http    string // address of the REST API beside the shell, or "off"
	httpSet bool   // --http given
	url     string // --url: client of a server
	apiKey  string
	// consistency is the read consistency asked of a cluster (--url).
	consistency string
	commands    []string // -c
	format      outFormat
	formatSet   bool // --format or --json given
	batchSize   int  // -1: the default
	history     string
	durability  string
	flushSize   int
	maxMemMB    int
	apiKeys     string // MINIDBGO_API_KEYS of the REST API beside the shell
	logFormat   string // LOG_FORMAT of MODE=server: text, json or auto
	args        []string
	// getenv is the environment the REST API's settings are read from
	// (MODE=server and --http: serverSettings).
	getenv func(string) string
}

// errFlags is a flag error, already reported by the flag package.
var errFlags = errors.New("bad flags")

// multiFlag collects a repeatable flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, "; ") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

const usageText = `minidbgo: MiniDBGo's shell.

Usage:
  minidbgo [flags]                  open the database (DB_PATH) and give an
                                    interactive shell (--http ADDR also serves
                                    its REST API beside it)
  minidbgo [flags] -c 'command'     run commands (also from stdin) and exit:
                                    status 0, 1 if a command failed, 2 on misuse
  minidbgo --url http://host:6866   the same shell on a running server (its API
                                    key in MINIDBGO_API_KEY)
  MODE=server minidbgo              serve the REST API only, on LISTEN:PORT
                                    (logs: LOG_FORMAT=text|json|auto)
                                    The REST API (MODE=server or --http) reads
                                    minidbgo-server's settings from the
                                    environment: MAX_CONCURRENT, MAX_BODY_MB,
                                    MAX_INFLIGHT_MB, MAX_SORT_MB, MAX_BATCH,
                                    MAX_PAGE, *_TIMEOUT, TLS_CERT, TLS_KEY,
                                    RATE_LIMIT, RATE_BURST, MINIDBGO_API_KEYS,
                                    MINIDBGO_API_KEY_FILE, CORS_ORIGINS,
                                    ALLOWED_HOSTS, SLOW_QUERY_MS, …; MODE=server
                                    also LOG_LEVEL, ACCESS_LOG, GOMEMLIMIT, GOGC
                                    (docs/operations.md)
  minidbgo check [--dir DIR]        verify every checksum of a data directory
  minidbgo inspect [--dir DIR]      print its levels, files, sizes and counters
  minidbgo repair --wal=point-in-time [--dir DIR]
                                    recover a directory whose WAL is damaged
                                    before its end, keeping the writes before it
  minidbgo restore --from FILE [--dir DIR] [--force]
                                    restore a physical backup (GET /api/backup),
                                    verifying every file's checksum
  minidbgo --version                print the version (also minidbgo version)

Type help in the shell for its commands.

Flags (each also read from the environment variable in brackets):
`

// parseConfig reads the environment, then the flags.
func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	c := config{
		mode:        srvconfig.EnvString(getenv, "MODE", "cli"),
		dbPath:      srvconfig.EnvString(getenv, "DB_PATH", "data/MiniDBGo"),
		url:         getenv("MINIDBGO_URL"),
		apiKey:      getenv("MINIDBGO_API_KEY"),
		consistency: getenv("MINIDBGO_CONSISTENCY"),
		history:     getenv("MINIDBGO_HISTORY"),
		durability:  srvconfig.EnvString(getenv, "DURABILITY", "group"),
		apiKeys:     getenv("MINIDBGO_API_KEYS"),
		logFormat:   srvconfig.EnvString(getenv, "LOG_FORMAT", "auto"),
		batchSize:   -1,
		getenv:      getenv,
	}
	host := srvconfig.EnvString(getenv, "LISTEN", "127.0.0.1")
	port := srvconfig.EnvString(getenv, "PORT", "6866")
	c.http = host
	if _, _, err := net.SplitHostPort(host); err != nil {
		c.http = net.JoinHostPort(strings.Trim(host, "[]"), port)
	}
	var errs []error
	c.flushSize = srvconfig.EnvInt(getenv, "FLUSH_SIZE", 10000, &errs)
	c.maxMemMB = srvconfig.EnvInt(getenv, "MAX_MEM_MB", 50, &errs)
	if len(errs) > 0 {
		return c, errors.Join(errs...)
	}

	fs := flag.NewFlagSet("minidbgo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	help := false
	for _, a := range args {
		if a == "--" || !strings.HasPrefix(a, "-") {
			break
		}
		help = help || a == "-h" || a == "-help" || a == "--help" || a == "--h"
	}
	fs.Usage = func() {
		if !help {
			fmt.Fprintln(stderr, "usage: minidbgo [flags] [-c command] | check | inspect | repair | version  (minidbgo -h lists the flags)")
			return
		}
		fmt.Fprint(stderr, usageText)
		fs.PrintDefaults()
	}
	var cmds multiFlag
	fs.Var(&cmds, "c", "run this `command` and exit (repeatable; one may hold several lines)")
	fs.StringVar(&c.dbPath, "db", c.dbPath, "[DB_PATH] data directory of the embedded database")
	fs.StringVar(&c.http, "http", c.http, "[LISTEN, PORT] `address` of the REST API: MODE=server's; the shell serves it beside itself only when --http is given")
	fs.StringVar(&c.mode, "mode", c.mode, "[MODE] cli (the shell) or server (the REST API only)")
	fs.StringVar(&c.url, "url", c.url, "[MINIDBGO_URL] use the server at this URL instead of a data directory")
	fs.StringVar(&c.apiKey, "api-key", c.apiKey, "[MINIDBGO_API_KEY] API key for --url (prefer the variable: flags show in ps)")
	fs.StringVar(&c.consistency, "consistency", c.consistency, "[MINIDBGO_CONSISTENCY] read consistency asked of a cluster with --url: none, leader (the server's default) or linearizable")
	jsonFlag := false
	formatFlag := ""
	fs.BoolVar(&jsonFlag, "json", false, "print compact JSON, even on a terminal (--format json)")
	fs.StringVar(&formatFlag, "format", "", "output `format`: pretty (indented JSON, the default on a terminal), json (compact, the default otherwise) or table")
	version := false
	fs.BoolVar(&version, "version", false, "print minidbgo's version and exit")
	fs.IntVar(&c.batchSize, "batch-size", c.batchSize, "findMany page size (default 20 on a terminal, every result in scripts)")
	fs.StringVar(&c.history, "history", c.history, "[MINIDBGO_HISTORY] history file, or off (default: minidbgo/history in the user's config directory)")
	fs.StringVar(&c.durability, "durability", c.durability, "[DURABILITY] sync, group, periodic:<duration> or none")
	fs.IntVar(&c.flushSize, "flush-size", c.flushSize, "[FLUSH_SIZE] records before a memtable flush")
	fs.IntVar(&c.maxMemMB, "max-mem-mb", c.maxMemMB, "[MAX_MEM_MB] memtable size in MiB before a flush")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return c, err
		}
		return c, errFlags // the flag package printed it
	}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "http" {
			c.httpSet = true
		}
	})
	c.commands = cmds
	c.args = fs.Args()
	if version {
		c.args = []string{"version"}
		return c, nil
	}
	if jsonFlag {
		c.format, c.formatSet = outJSON, true
	}
	if formatFlag != "" {
		f, err := parseFormat(formatFlag)
		if err != nil {
			return c, fmt.Errorf("--format: %w", err)
		}
		if jsonFlag && f != outJSON {
			return c, fmt.Errorf("--json and --format %s disagree; give one", f)
		}
		c.format, c.formatSet = f, true
	}
	switch {
	case c.mode != "cli" && c.mode != "server":
		return c, fmt.Errorf("MODE=%q: want cli or server", c.mode)
	case c.mode == "server" && c.url != "":
		return c, errors.New("MODE=server serves a data directory; it cannot be combined with --url")
	case c.consistency != "" && c.consistency != "none" && c.consistency != "leader" && c.consistency != "linearizable":
		return c, fmt.Errorf("--consistency %q: want none, leader or linearizable", c.consistency)
	case c.mode == "server" && len(c.commands) > 0:
		return c, errors.New("MODE=server runs no commands; drop -c or MODE")
	case c.logFormat != "auto" && c.logFormat != "text" && c.logFormat != "json":
		return c, fmt.Errorf("LOG_FORMAT=%q: want text, json or auto", c.logFormat)
	case c.flushSize <= 0 || c.maxMemMB <= 0:
		return c, errors.New("FLUSH_SIZE and MAX_MEM_MB must be positive")
	case c.url != "" && !strings.HasPrefix(c.url, "http://") && !strings.HasPrefix(c.url, "https://"):
		return c, fmt.Errorf("--url %q: want http://host:port or https://host:port", c.url)
	}
	return c, nil
}

func envLookup(env []string) func(string) string {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return func(k string) string { return m[k] }
}

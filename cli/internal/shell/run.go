package shell

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/chzyer/readline"
	"github.com/minidbgo/minidbgo/docstore"
	"github.com/minidbgo/minidbgo/httpd"
	"github.com/minidbgo/minidbgo/httpd/client"
	srvconfig "github.com/minidbgo/minidbgo/httpd/config"
	"github.com/minidbgo/minidbgo/storage"
	"github.com/minidbgo/minidbgo/storage/tool"
	"github.com/minidbgo/minidbgo/storage/vfs"
)

// Version is minidbgo's version, set at build time with
// -ldflags "-X github.com/minidbgo/minidbgo/cli/internal/shell.Version=…".
var Version = "dev"

// version is Version, or, when the build did not set it, the module
// version or VCS revision the Go toolchain recorded.
func version() string {
	if Version != "dev" {
		return Version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return Version
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	rev, dirty := "", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev == "" {
		return Version
	}
	if dirty {
		rev += "-dirty"
	}
	return Version + " (" + rev + ")"
}

// Run is the minidbgo command: args are the arguments after the program
// name, env the environment (os.Environ's form). It returns the exit
// status: 0 on success, 1 when a command failed, 2 on a usage error.
//
// When stdin is a terminal and no -c was given the shell is interactive;
// otherwise it runs the -c commands or the statements on stdin without
// prompts and stops at the first failure. When stdin is the process's own
// os.Stdin, SIGINT and SIGTERM are handled (the database is closed
// cleanly); Ctrl-C in an interactive shell cancels the command running.
func Run(args []string, stdin io.Reader, stdout, stderr io.Writer, env []string) int {
	getenv := envLookup(env)
	ctx := context.Background()
	var intr *interrupter
	if f, ok := stdin.(*os.File); ok && f == os.Stdin {
		var stop context.CancelFunc
		ctx, stop = signal.NotifyContext(ctx, syscall.SIGTERM)
		defer stop()
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		intr = &interrupter{root: cancel}
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, os.Interrupt)
		defer signal.Stop(sigs)
		go func() {
			for range sigs {
				intr.interrupt()
			}
		}()
	}
	return run(ctx, args, stdin, stdout, stderr, getenv, intr)
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string, intr *interrupter) int {
	cfg, err := parseConfig(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		if !errors.Is(err, errFlags) {
			fmt.Fprintln(stderr, "minidbgo:", err)
		}
		return exitUsage
	}
	if len(cfg.args) > 0 {
		switch cfg.args[0] {
		case "check":
			return runCheck(cfg.args[1:], cfg.dbPath, stdout, stderr)
		case "inspect":
			return runInspect(cfg.args[1:], cfg.dbPath, stdout, stderr)
		case "repair":
			return runRepair(cfg.args[1:], cfg.dbPath, stdout, stderr)
		case "restore":
			return runRestore(cfg.args[1:], cfg.dbPath, stdout, stderr)
		case "version":
			fmt.Fprintln(stdout, "minidbgo", version())
			return exitOK
		case "help":
			fmt.Fprint(stdout, usageText)
			return exitOK
		}
		fmt.Fprintf(stderr, "minidbgo: unexpected argument %q (commands go in -c '...' or on stdin; admin commands are check, inspect, repair, restore, version)\n", cfg.args[0])
		return exitUsage
	}
	if cfg.mode == "server" {
		return runServer(ctx, cfg, stderr)
	}

	interactive := len(cfg.commands) == 0 && isTerminal(stdin) && isTerminal(stdout)
	var (
		be           backend
		closeBackend = func() {}
	)
	if cfg.url != "" {
		be, err = openRemote(ctx, cfg)
	} else {
		be, closeBackend, err = openEmbedded(cfg, interactive, stderr)
	}
	if err != nil {
		fmt.Fprintln(stderr, "minidbgo:", err)
		return exitFailed
	}
	defer closeBackend()

	format := cfg.format
	if !cfg.formatSet {
		format = outJSON
		if isTerminal(stdout) {
			format = outPretty
		}
	}
	out := &printer{w: stdout, format: format,
		color: isTerminal(stdout) && getenv("NO_COLOR") == "" && getenv("TERM") != "dumb"}
	sh := newShell(be, out, stderr)
	sh.progress = isTerminal(stderr)
	switch {
	case cfg.batchSize >= 0:
		sh.pageSize = cfg.batchSize
	case interactive:
		sh.pageSize = defaultPage
	}

	if len(cfg.commands) > 0 {
		var once sync.Once
		var data []byte
		var rerr error
		sh.stdinArg = func() ([]byte, error) {
			once.Do(func() { data, rerr = io.ReadAll(io.LimitReader(stdin, 64<<20)) })
			return data, rerr
		}
		return sh.runScript(ctx, strings.NewReader(strings.Join(cfg.commands, "\n")))
	}
	if !interactive {
		return sh.runScript(ctx, stdin)
	}
	hist, err := historyPath(cfg.history, getenv)
	if err != nil {
		fmt.Fprintln(stderr, "minidbgo: history off:", err)
	}
	sh.collectFields()
	fmt.Fprintf(stderr, "MiniDBGo %s: %s. Type help for the commands, exit or Ctrl-D to leave.\n", version(), be.describe())
	return sh.repl(ctx, terminal{in: stdin.(*os.File), out: stdout.(*os.File)}, hist, intr)
}

// isTerminal reports whether f is an *os.File on a terminal.
func isTerminal(f any) bool {
	file, ok := f.(*os.File)
	return ok && readline.IsTerminal(int(file.Fd()))
}

// openRemote returns a backend on the server at cfg.url, after checking
// that it answers.
func openRemote(ctx context.Context, cfg config) (backend, error) {
	c := client.New(cfg.url)
	c.APIKey = cfg.apiKey
	c.Consistency = cfg.consistency
	c.HTTPClient = &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		ResponseHeaderTimeout: 5 * time.Minute,
		IdleConnTimeout:       30 * time.Second,
		MaxIdleConnsPerHost:   4,
	}}
	hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := c.Health(hctx); err != nil {
		return nil, fmt.Errorf("cannot reach the server at %s: %w", cfg.url, err)
	}
	return &remoteBackend{c: c}, nil
}

// openDB opens the data directory with the guide's settings.
func openDB(cfg config, logger *slog.Logger) (*docstore.DB, error) {
	durability, err := storage.ParseDurability(cfg.durability)
	if err != nil {
		return nil, err
	}
	db, err := docstore.Open(cfg.dbPath, &docstore.Options{Storage: &storage.Options{
		MemTableRecords: cfg.flushSize,
		MemTableBytes:   int64(cfg.maxMemMB) << 20,
		Durability:      durability,
		DirMarker:       true, // as the server: never an empty database in place of a deleted one
		Logger:          logger,
	}})
	if err != nil {
		return nil, openError(cfg.dbPath, err)
	}
	return db, nil
}

// openError explains a failed Open; for a locked directory it names the
// process holding it.
func openError(dir string, err error) error {
	if !errors.Is(err, vfs.ErrLocked) {
		if advice := tool.Advice(err, dir); advice != "" {
			return fmt.Errorf("open %s: %w; %s", dir, err, advice)
		}
		return fmt.Errorf("open %s: %w", dir, err)
	}
	pid := 0
	var le *vfs.LockError
	if errors.As(err, &le) && le.PID > 0 {
		pid = le.PID
	} else if b, rerr := os.ReadFile(filepath.Join(dir, "LOCK")); rerr == nil {
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	who := "another process"
	if pid > 0 {
		who = "pid " + strconv.Itoa(pid)
	}
	if url := httpd.ReadListenFile(dir, pid); url != "" {
		return fmt.Errorf("the data directory %s is locked by %s, which serves its REST API at %s; use it with minidbgo --url %s (or stop that process)", dir, who, url, url)
	}
	how := "the address it logged at start-up (\"addr\")"
	if pid > 0 {
		how += fmt.Sprintf(", or ss -ltnp | grep pid=%d", pid)
	}
	return fmt.Errorf("the data directory %s is locked by %s (a minidbgo or minidbgo-server using it); stop it, or, if it serves the REST API, use minidbgo --url http://HOST:PORT with its address: %s", dir, who, how)
}

// serverSettings are the REST API's settings for MODE=server and --http:
// minidbgo-server's, read from the environment by the same loader
// (httpd/config), with the shell's own flags in place of the variables
// they stand for (--db, --http, --durability, --flush-size, --max-mem-mb).
func serverSettings(cfg config) (srvconfig.Settings, error) {
	getenv := cfg.getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	s, err := srvconfig.FromEnv(getenv)
	if err != nil {
		return s, err
	}
	s.Mode = "server"
	s.DBPath, s.Listen, s.Durability = cfg.dbPath, cfg.http, cfg.durability
	s.FlushSize, s.MaxMemMB, s.LogFormat = cfg.flushSize, cfg.maxMemMB, cfg.logFormat
	return s, s.Validate()
}

// openEmbedded opens the embedded database and, when --http was given,
// serves the REST API beside it (httpd.Serve, with minidbgo-server's
// settings: serverSettings). close stops the REST API, flushes and closes
// everything.
func openEmbedded(cfg config, interactive bool, stderr io.Writer) (backend, func(), error) {
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	rest := cfg.http != "off" && cfg.httpSet
	var (
		settings srvconfig.Settings
		keys     *httpd.Keys
	)
	if rest {
		var err error
		if settings, err = serverSettings(cfg); err != nil {
			return nil, nil, fmt.Errorf("--http: %w", err)
		}
		if keys, err = settings.Keys(); err != nil {
			return nil, nil, err
		}
	}
	db, err := openDB(cfg, logger)
	if err != nil {
		return nil, nil, err
	}
	// The shell reads metrics and stats in process: through the REST
	// API's server when it needs no key (its metrics count the REST
	// requests), else through one of its own.
	var admin *httpd.Server
	var served chan error
	stopREST := func() {}
	if rest {
		ln, err := net.Listen("tcp", cfg.http)
		if err != nil {
			fmt.Fprintf(stderr, "minidbgo: REST API not started: %v (the shell works without it; --http off hides this)\n", err)
		} else {
			srv := httpd.New(db, settings.Server(ln.Addr().String(), keys, logger, version()))
			if keys == nil {
				admin = srv
			}
			var ctx context.Context
			ctx, stopREST = context.WithCancel(context.Background())
			served = make(chan error, 1)
			go func() { served <- srv.Serve(ctx, ln) }()
			fmt.Fprintf(stderr, "REST API on http://%s\n", ln.Addr())
		}
	}
	ownAdmin := admin == nil
	if ownAdmin {
		admin = httpd.New(db, httpd.Config{Logger: logger, Version: version(), SlowQuery: -1})
	}
	be := &localBackend{db: db, admin: admin, dir: cfg.dbPath}
	closeAll := func() {
		if ownAdmin {
			admin.Close()
		}
		if served != nil {
			// Serve drains the REST API, flushes and closes the database.
			stopREST()
			if err := <-served; err != nil {
				fmt.Fprintln(stderr, "minidbgo: close:", err)
			}
			return
		}
		if err := db.Flush(); err != nil && !errors.Is(err, storage.ErrClosed) {
			fmt.Fprintln(stderr, "minidbgo: flush:", err)
		}
		if err := db.Close(); err != nil {
			fmt.Fprintln(stderr, "minidbgo: close:", err)
		}
	}
	return be, closeAll, nil
}

// runServer is MODE=server: the REST API on the data directory, no shell,
// until ctx is done (SIGINT or SIGTERM); then it drains requests, flushes
// and closes (httpd.Serve). It is minidbgo-server with the shell's flags:
// every other setting is read from the environment as minidbgo-server
// reads it (serverSettings), GOMEMLIMIT and GOGC included.
func runServer(ctx context.Context, cfg config, stderr io.Writer) int {
	if cfg.http == "off" {
		fmt.Fprintln(stderr, "minidbgo: MODE=server needs an address: --http off leaves nothing to do")
		return exitUsage
	}
	s, err := serverSettings(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "minidbgo:", err)
		return exitUsage
	}
	logger, err := s.Logger(stderr)
	if err != nil {
		fmt.Fprintln(stderr, "minidbgo:", err)
		return exitUsage
	}
	memLimit, gogc, err := s.ApplyRuntime()
	if err != nil {
		fmt.Fprintln(stderr, "minidbgo:", err)
		return exitUsage
	}
	keys, err := s.Keys()
	if err != nil {
		fmt.Fprintln(stderr, "minidbgo:", err)
		return exitUsage
	}
	opts, err := s.DocstoreOptions(logger)
	if err != nil {
		fmt.Fprintln(stderr, "minidbgo:", err)
		return exitUsage
	}
	db, err := docstore.Open(s.DBPath, opts)
	if err != nil {
		fmt.Fprintln(stderr, "minidbgo:", openError(s.DBPath, err))
		return exitFailed
	}
	ln, err := net.Listen("tcp", s.Addr())
	if err != nil {
		_ = db.Close()
		fmt.Fprintln(stderr, "minidbgo:", err)
		return exitFailed
	}
	hc := s.Server(ln.Addr().String(), keys, logger, version())
	logger.Info("minidbgo serving", "addr", ln.Addr().String(), "db_path", s.DBPath, "mode", "server", "version", version(),
		"tls", s.TLSCert != "", "auth", keys != nil, "max_concurrent", s.MaxConcurrent, "max_body_mb", s.MaxBodyMB,
		"gomemlimit", memLimit, "gogc", gogc, "slow_query_ms", s.SlowQuery.Milliseconds())
	if err := httpd.Serve(ctx, ln, db, hc); err != nil {
		return exitFailed
	}
	return exitOK
}

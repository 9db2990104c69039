package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/minidbgo/minidbgo/loadtest/internal/report"
	"github.com/minidbgo/minidbgo/loadtest/internal/runner"
	"github.com/minidbgo/minidbgo/loadtest/internal/target"
	"github.com/minidbgo/minidbgo/loadtest/internal/workload"
	"github.com/minidbgo/minidbgo/storage"
)

// defaultURL is the guide's server address.
const defaultURL = "http://localhost:6866"

// httpFlags are the flags shared by guide and the scenarios.
type httpFlags struct {
	n           int64
	d           time.Duration
	c           int
	url         string
	embedded    bool
	serverBin   string
	baseline    bool
	json        bool
	progress    bool
	timeout     time.Duration
	durability  string
	flushSize   int
	maxMemMB    int
	maxConc     int
	serverGC    bool
	serverEnv   string
	profileDir  string
	rounds      int
	rssInterval time.Duration
	warmup      time.Duration

	urlSet bool
}

func (f *httpFlags) register(fs *flag.FlagSet, defaultN int64, defaultWarmup time.Duration, defaultRounds int) {
	fs.IntVar(&f.rounds, "rounds", defaultRounds, "with --baseline: alternate baseline and server in this many rounds each, splitting -n/-d")
	fs.DurationVar(&f.warmup, "warmup", defaultWarmup, "untimed load before each measured run (opens the connections, warms the server)")
	fs.Int64Var(&f.n, "n", defaultN, "number of requests (0: unlimited, use -d)")
	fs.DurationVar(&f.d, "d", 0, "duration of the run, e.g. 5s (0: use -n); with -n, whichever ends first")
	fs.IntVar(&f.c, "c", 50, "concurrent workers (closed loop)")
	fs.StringVar(&f.url, "url", defaultURL, "base URL of a running server")
	fs.BoolVar(&f.embedded, "embedded", false, "start the server in this process on a temporary directory")
	fs.StringVar(&f.serverBin, "server-bin", "", "with --embedded: run this minidbgo-server binary as a child process instead")
	fs.BoolVar(&f.baseline, "baseline", false, "first run the same scenario against a trivial net/http handler and report the ratio")
	fs.BoolVar(&f.json, "json", false, "print a JSON report instead of text")
	fs.BoolVar(&f.progress, "progress", true, "draw a progress bar on standard error when it is a terminal")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Second, "per-request timeout")
	fs.StringVar(&f.durability, "durability", "", "embedded: sync, group, periodic:<d> or none (default: the server's, group)")
	fs.IntVar(&f.flushSize, "flush-size", 0, "embedded: memtable records before a flush (FLUSH_SIZE; default 10000)")
	fs.IntVar(&f.maxMemMB, "max-mem-mb", 0, "embedded: memtable bytes before a flush, MiB (MAX_MEM_MB; default 50)")
	fs.IntVar(&f.maxConc, "max-concurrent", 0, "embedded: server's concurrent request limit (default 100)")
	fs.StringVar(&f.serverEnv, "server-env", "", "the server's environment, comma-separated KEY=VALUE pairs (e.g. ACCESS_LOG=false,GOGC=100): of the --server-bin process, or the embedded server's settings (as minidbgo-server reads them; GOGC and GOMEMLIMIT apply to --server-bin only)")
	fs.StringVar(&f.profileDir, "profile", "", "embedded in-process: write CPU, mutex and block profiles of the measured run into this directory")
	fs.BoolVar(&f.serverGC, "server-gc", true, "embedded in-process: apply the server's GOGC=50 and GOMEMLIMIT=200MiB defaults unless set in the environment")
	fs.DurationVar(&f.rssInterval, "rss-interval", 100*time.Millisecond, "how often peak RSS is sampled (--url: via /api/stats, at least 200ms)")
}

func (f *httpFlags) parsed(fs *flag.FlagSet) error {
	nSet := false
	fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "url":
			f.urlSet = true
		case "n":
			nSet = true
		}
	})
	if f.d > 0 && !nSet {
		f.n = 0 // -d alone runs for its duration
	}
	if f.urlSet && f.embedded {
		return fmt.Errorf("%w: --url and --embedded exclude each other", errUsage)
	}
	if f.serverBin != "" && !f.embedded {
		return fmt.Errorf("%w: --server-bin needs --embedded", errUsage)
	}
	if f.n <= 0 && f.d <= 0 {
		return fmt.Errorf("%w: set -n or -d", errUsage)
	}
	return nil
}

func (f *httpFlags) runConfig() runner.Config {
	return runner.Config{Concurrency: f.c, Requests: max(f.n, 0), Duration: f.d}
}

// server is the target of a command: a URL, and, when minidbgo-load
// started it, the server.
type server struct {
	url       string
	srv       target.Server // nil for --url
	rss       target.RSSFunc
	rssSource string
	rssEvery  time.Duration
}

func (s *server) close() error {
	if s.srv == nil {
		return nil
	}
	return s.srv.Close()
}

// startServer starts the embedded server, or describes the --url one.
func (f *httpFlags) startServer(out *output) (*server, error) {
	if !f.embedded {
		c := &http.Client{Timeout: 2 * time.Second}
		return &server{url: f.url, rss: target.StatsRSS(c, trimSlash(f.url)),
			rssSource: "GET /api/stats process_rss_mb", rssEvery: max(f.rssInterval, 200*time.Millisecond)}, nil
	}
	var so storage.Options
	if f.durability != "" {
		d, err := storage.ParseDurability(f.durability)
		if err != nil {
			return nil, err
		}
		so.Durability = d
	}
	so.MemTableRecords = f.flushSize
	so.MemTableBytes = int64(f.maxMemMB) << 20
	// The server's settings, as environment variables: for a child
	// server and the embedded one alike.
	var env []string
	if f.durability != "" {
		env = append(env, "DURABILITY="+f.durability)
	}
	if f.flushSize > 0 {
		env = append(env, fmt.Sprintf("FLUSH_SIZE=%d", f.flushSize))
	}
	if f.maxMemMB > 0 {
		env = append(env, fmt.Sprintf("MAX_MEM_MB=%d", f.maxMemMB))
	}
	if f.maxConc > 0 {
		env = append(env, fmt.Sprintf("MAX_CONCURRENT=%d", f.maxConc))
	}
	if f.serverEnv != "" {
		env = append(env, strings.Split(f.serverEnv, ",")...)
	}
	if f.serverBin != "" {
		c, err := target.StartChild(f.serverBin, "", env)
		if err != nil {
			return nil, err
		}
		return &server{url: c.URL(), srv: c, rss: c.RSS(), rssSource: c.Describe(), rssEvery: f.rssInterval}, nil
	}
	if f.serverGC {
		applyServerGC(out)
	}
	e, err := target.StartEmbedded(target.EmbeddedConfig{
		Storage: so,
		Env:     env,
	})
	if err != nil {
		return nil, err
	}
	return &server{url: e.URL(), srv: e, rss: e.RSS(), rssSource: e.Describe(), rssEvery: f.rssInterval}, nil
}

// applyServerGC gives this process the garbage collector settings that
// minidbgo-server applies to itself when GOGC and GOMEMLIMIT are unset.
func applyServerGC(out *output) {
	var set []string
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(50)
		set = append(set, "GOGC=50")
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(200 << 20)
		set = append(set, "GOMEMLIMIT=200MiB")
	}
	if len(set) > 0 {
		out.note("embedded in-process server: the whole process (server and load generator) ran with the server's defaults %v", set)
	}
}

func trimSlash(s string) string {
	for len(s) > 0 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	return s
}

// leg is one target of a measurement (the server or the baseline): its
// client and what its rounds measured so far.
type leg struct {
	client    *runner.Client
	op        runner.Op
	label     string
	rss       target.RSSFunc
	rssSource string
	rssEvery  time.Duration

	next   uint64 // first ticket of the next round
	res    *runner.Result
	peak   float64
	peakOK bool
}

func newLeg(client *runner.Client, w workload.Workload, label string, rss target.RSSFunc, rssSource string, rssEvery time.Duration) *leg {
	return &leg{client: client, op: client.Op(w.Request, w.Items), label: label,
		rss: rss, rssSource: rssSource, rssEvery: rssEvery, res: runner.NewResult()}
}

// warm runs untimed load for d, on tickets of their own.
func (l *leg) warm(ctx context.Context, c int, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	_, err := runner.Run(ctx, runner.Config{Concurrency: c, Duration: d, FirstTicket: warmupTicket}, l.op)
	return err
}

// round runs cfg against the leg, continuing its tickets, and adds the
// result to the leg's.
func (l *leg) round(ctx context.Context, cfg runner.Config, name string, bar io.Writer) error {
	cfg.FirstTicket = l.next
	rn, err := runner.New(cfg, l.op)
	if err != nil {
		return err
	}
	p := report.StartProgress(bar, name+" → "+l.label, cfg.Requests, cfg.Duration, rn.Done)
	var sampler *target.RSSSampler
	if l.rss != nil {
		sampler = target.StartRSS(l.rss, l.rssEvery)
	}
	res, err := rn.Run(ctx)
	p.Stop()
	if sampler != nil {
		if peak, ok, _ := sampler.Stop(); ok {
			l.peak, l.peakOK = max(l.peak, peak), true
		}
	}
	l.next += rn.Issued()
	l.res.Merge(res)
	return err
}

// run returns the leg's measurements as a report run.
func (l *leg) run(w workload.Workload, cfg runner.Config) *report.Run {
	r := report.FromResult(w.Name(), "http", l.label, cfg, l.res)
	r.Params = w.Params()
	if l.peakOK {
		r.PeakRSSMB, r.RSSSource = report.Round1(l.peak), l.rssSource
	}
	if secs := r.ElapsedSec; secs > 0 {
		r.MBPerSec = report.Round1(float64(l.res.BytesIn+l.res.BytesOut) / secs / 1e6)
	}
	return r
}

// splitRounds divides cfg into k rounds of equal requests or duration.
func splitRounds(cfg runner.Config, k int) []runner.Config {
	rounds := make([]runner.Config, k)
	for i := range rounds {
		c := cfg
		if cfg.Requests > 0 {
			c.Requests = cfg.Requests / int64(k)
			if i == k-1 {
				c.Requests += cfg.Requests % int64(k)
			}
		}
		if cfg.Duration > 0 {
			c.Duration = cfg.Duration / time.Duration(k)
		}
		rounds[i] = c
	}
	return rounds
}

// measure runs workload w against srv: setup (untimed), warm-up, then the
// run itself. With --baseline the same load also goes to a trivial handler
// answering like the server, first; with --rounds k > 1 the two alternate
// in k rounds each, so that a burst of load from elsewhere on the machine
// hits both alike.
func measure(ctx context.Context, f *httpFlags, srv *server, w workload.Workload, stderr io.Writer) (*report.Run, error) {
	client, err := runner.NewClient(srv.url, runner.HTTPConfig{Concurrency: f.c, Timeout: f.timeout, AllowRemote: f.urlSet})
	if err != nil {
		return nil, err
	}
	defer client.Close()
	if err := w.Setup(ctx, client); err != nil {
		return nil, fmt.Errorf("%s: setup: %w", w.Name(), err)
	}
	label := srv.url
	if srv.srv != nil {
		label = "embedded " + srv.url
		if _, ok := srv.srv.(*target.Child); ok {
			label = "child " + srv.url
		}
	}
	srvLeg := newLeg(client, w, label, srv.rss, srv.rssSource, srv.rssEvery)
	legs := []*leg{srvLeg}
	var status, size int
	if f.baseline {
		if status, size, err = probe(ctx, client, w); err != nil {
			return nil, fmt.Errorf("%s: probe: %w", w.Name(), err)
		}
		b, err := startBaseline(srv, status, size)
		if err != nil {
			return nil, err
		}
		defer b.Close()
		bc, err := runner.NewClient(b.URL(), runner.HTTPConfig{Concurrency: f.c, Timeout: f.timeout})
		if err != nil {
			return nil, err
		}
		defer bc.Close()
		// No RSS for an in-process baseline: it would also count the load
		// generator and an embedded server.
		var rss target.RSSFunc
		if _, child := b.(*target.BaselineProcess); child {
			rss = b.RSS()
		}
		legs = []*leg{newLeg(bc, w, "baseline", rss, b.Describe(), f.rssInterval), srvLeg}
	}
	for _, l := range legs {
		if err := l.warm(ctx, f.c, f.warmup); err != nil {
			return nil, fmt.Errorf("%s: warm-up: %w", w.Name(), err)
		}
	}
	cfg := f.runConfig()
	rounds := 1
	if f.baseline {
		rounds = max(f.rounds, 1)
	}
	bar := progressWriter(stderr, f.progress)
	var before map[string]float64
	var prof *profiler
	if _, inProcess := srv.srv.(*target.Embedded); inProcess {
		if prof, err = startProfile(f.profileDir, w.Name()); err != nil {
			return nil, err
		}
	}
	for _, rc := range splitRounds(cfg, rounds) {
		for _, l := range legs {
			if l == srvLeg && before == nil {
				before = serverMetrics(ctx, client)
			}
			if err := l.round(ctx, rc, w.Name(), bar); err != nil {
				_ = prof.stop()
				return nil, err
			}
		}
	}
	if err := prof.stop(); err != nil {
		return nil, err
	}
	r := srvLeg.run(w, cfg)
	r.Extra = metricsDelta(before, serverMetrics(ctx, client))
	if rounds > 1 {
		r.Params["rounds"] = fmt.Sprint(rounds)
	}
	if f.baseline {
		base := legs[0].run(w, cfg)
		base.Params = map[string]string{"status": fmt.Sprint(status), "body_bytes": fmt.Sprint(size)}
		r.SetBaseline(base)
	}
	return r, nil
}

// startBaseline starts the reference handler where the server runs: in
// this process beside an embedded server, and as a child process of its
// own when the server is one (--server-bin, --url), so that both sides of
// the ratio pay for a process of their own (scheduler, garbage collector,
// loopback between processes) and neither shares the load generator's.
func startBaseline(srv *server, status, size int) (target.Server, error) {
	if _, embedded := srv.srv.(*target.Embedded); embedded {
		return target.StartBaseline(status, size)
	}
	return target.StartBaselineProcess(status, size)
}

// probeTicket and warmupTicket number the probe's and the warm-up's
// requests far beyond any run's, so that their writes never collide with
// the run's documents.
const (
	probeTicket  = 1 << 40
	warmupTicket = 1 << 41
)

// probe sends a few of w's requests and returns the most common status and
// the mean response size, for the baseline handler to imitate.
func probe(ctx context.Context, c *runner.Client, w workload.Workload) (status, size int, err error) {
	const n = 5
	counts := map[int]int{}
	total := 0
	for i := range uint64(n) {
		st, body, err := c.Do(ctx, w.Request(probeTicket+i))
		if err != nil {
			return 0, 0, err
		}
		counts[st]++
		total += len(body)
	}
	for st, k := range counts {
		if k > counts[status] || (k == counts[status] && st < status) {
			status = st
		}
	}
	return status, total / n, nil
}

// runScenario is "minidbgo-load SCENARIO".
func runScenario(ctx context.Context, command, name string, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f httpFlags
	f.register(fs, 10000, time.Second, 5)
	var wc workload.Config
	fs.Uint64Var(&wc.Seed, "seed", 1, "seed of documents and key choices")
	fs.StringVar(&wc.Collection, "collection", "loadtest", "collection")
	fs.StringVar(&wc.IDPrefix, "id-prefix", "", "prefix of written _ids (default: w<seed>-<start time>, unique per run)")
	fs.IntVar(&wc.DocSize, "doc-size", 0, "approximate document size in bytes (0: unpadded, about 200)")
	fs.IntVar(&wc.Keys, "keys", 10000, "read, mixed, search, update: documents preloaded")
	fs.StringVar(&wc.Dist, "dist", "zipfian", "read, mixed: hot (one id, as the guide), uniform or zipfian")
	fs.Float64Var(&wc.ReadRatio, "read-ratio", 0.9, "mixed: share of reads; the rest replace documents")
	fs.IntVar(&wc.Batch, "batch", 100, "bulk: documents per _insertMany")
	fs.IntVar(&wc.HotDocs, "hot-docs", 10, "update: documents that receive the $inc")
	fs.StringVar(&wc.Search, "search", "index", "search: index (equality on an indexed field), range (indexed range) or scan (unindexed equality)")
	fs.IntVar(&wc.Limit, "limit", 20, "search: results per request")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if err := f.parsed(fs); err != nil {
		return err
	}
	if wc.IDPrefix == "" {
		wc.IDPrefix = fmt.Sprintf("w%d-%s", wc.Seed, time.Now().UTC().Format("20060102T150405"))
	}
	w, err := workload.New(name, wc)
	if err != nil {
		return err
	}
	out := newOutput(stdout, f.json, command)
	srv, err := f.startServer(out)
	if err != nil {
		return err
	}
	r, err := measure(ctx, &f, srv, w, stderr)
	if cerr := srv.close(); err == nil && cerr != nil {
		err = fmt.Errorf("stop server: %w", cerr)
	}
	if err != nil {
		return err
	}
	out.add(r)
	return out.finish()
}

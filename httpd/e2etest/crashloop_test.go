package e2etest

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minidbgo/minidbgo/httpd/client"
	"github.com/minidbgo/minidbgo/httpd/client/api"
)

// The kill loop (RELIABILITY.md S3). Writers insert documents with unique
// ids into "kv" (indexed on g), delete some of them, $inc counters in
// "counters" and write all-or-nothing batches into "batch" through
// _insertMany. Each request's intent is in the model before it is sent,
// its outcome after it returns. The server is SIGKILLed at a random
// moment, restarted, and checked against the model:
//
//   - every acknowledged insert is there with its value, every acknowledged
//     delete is gone, and no document exists that was never written;
//   - a write with no answer is either fully there or fully absent, and
//     from then on is what the restarted server says it is;
//   - each counter lies in [acked, acked+pending];
//   - each batch is all there or all absent (all there when acknowledged);
//   - for each collection, GET /api/_collections' docCount, _count with an
//     empty filter and a full _find walked with cursors agree;
//   - an indexed _find on g finds exactly what the scan finds.

const (
	kvCol      = "kv"
	counterCol = "counters"
	batchCol   = "batch"
	numGroups  = 8 // values of the indexed field g
	numCtrs    = 4
	numWriters = 4
)

type kvState uint8

const (
	kvPresent kvState = iota
	kvAbsent
	kvPendingInsert
	kvPendingDelete
)

type kvEntry struct {
	owner int
	g, v  int64
	st    kvState
}

type batchEntry struct {
	ids []string
	st  kvState // kvPresent (acked), kvAbsent or kvPendingInsert
}

// crashModel is the clients' view: what they were told, and what is still
// undecided.
type crashModel struct {
	mu       sync.Mutex
	kv       map[string]*kvEntry
	live     [numWriters][]string // each writer's acknowledged, present ids
	nextID   [numWriters]int
	batches  map[string]*batchEntry
	ctrAcked [numCtrs]atomic.Int64
	ctrPend  [numCtrs]atomic.Int64
}

func newCrashModel() *crashModel {
	return &crashModel{kv: map[string]*kvEntry{}, batches: map[string]*batchEntry{}}
}

// crashStats are the run's figures.
type crashStats struct {
	cycles          int
	ackedInserts    atomic.Int64
	ackedDeletes    atomic.Int64
	ackedIncs       atomic.Int64
	ackedBatches    atomic.Int64
	unknownWrites   atomic.Int64
	lost            int
	violations      int
	restartFailures int
	killedAtStart   int // whitebox: the kill point fired during recovery
	selfKills       int // whitebox: the kill point fired under load
	recoveries      []time.Duration
	unexpectedMu    sync.Mutex
	unexpected      []string
	problems        []string
}

func (st *crashStats) acked() int64 {
	return st.ackedInserts.Load() + st.ackedDeletes.Load() + st.ackedIncs.Load() + st.ackedBatches.Load()
}

func (st *crashStats) noteUnexpected(s string) {
	if s == "" {
		return
	}
	st.unexpectedMu.Lock()
	st.unexpected = append(st.unexpected, s)
	st.unexpectedMu.Unlock()
}

func (st *crashStats) problem(lost bool, format string, args ...any) {
	if lost {
		st.lost++
	} else {
		st.violations++
	}
	if len(st.problems) < 30 {
		st.problems = append(st.problems, fmt.Sprintf(format, args...))
	}
}

// crashLoop is one run of the kill loop on a fresh data directory.
type crashLoop struct {
	t          *testing.T
	bin, dir   string
	env        []string // every start
	killEnv    []string // starts whose run may end at a kill point
	killWindow [2]time.Duration
	writers    int
	m          *crashModel
	st         *crashStats
	log        *oracleLog
	rng        *rand.Rand
	seed       uint64
}

func newCrashLoop(t *testing.T, bin string, seed uint64, env ...string) *crashLoop {
	dir := t.TempDir()
	return &crashLoop{
		t: t, bin: bin, dir: filepath.Join(dir, "db"), env: env,
		killWindow: [2]time.Duration{200 * time.Millisecond, 1500 * time.Millisecond},
		writers:    numWriters,
		m:          newCrashModel(), st: &crashStats{},
		log: newOracleLog(t, filepath.Join(dir, "oracle.log")),
		rng: rand.New(rand.NewPCG(seed, 0x5eed)), seed: seed,
	}
}

// start starts the server; with killEnv set, a run that dies of its kill
// point during recovery is counted and restarted without it.
func (l *crashLoop) start(withKill bool) *server {
	t := l.t
	env := l.env
	if withKill {
		env = append(slices.Clone(env), l.killEnv...)
	}
	s, err := startServer(t, l.bin, l.dir, env...)
	if de, ok := err.(*errDiedAtStart); ok && de.killed && withKill {
		l.st.killedAtStart++
		s, err = startServer(t, l.bin, l.dir, l.env...)
	}
	if err != nil {
		l.st.restartFailures++
		t.Fatalf("restart failure after %d cycles (seed %d): %v", l.st.cycles, l.seed, err)
	}
	l.st.recoveries = append(l.st.recoveries, s.startup)
	return s
}

// setup creates the index and the counters.
func (l *crashLoop) setup(s *server) {
	t := l.t
	ctx := context.Background()
	if _, err := s.c.CreateIndex(ctx, kvCol, api.IndexRequest{Fields: []string{"g"}}); err != nil {
		t.Fatal(err)
	}
	for i := range numCtrs {
		if _, err := s.c.Put(ctx, counterCol, ctrID(i), map[string]any{"n": 0}, nil); err != nil {
			t.Fatal(err)
		}
	}
	ex, err := s.c.Explain(ctx, kvCol, client.Query{Filter: `{"g":3}`})
	if err != nil {
		t.Fatal(err)
	}
	if ex.Plan != "IXSCAN" {
		t.Fatalf("a _find on g should use the index: %+v", ex)
	}
}

func ctrID(i int) string { return fmt.Sprintf("ctr%d", i) }

// freshEvery is how many cycles run on one data directory.
const freshEvery = 50

// run runs n cycles: load, kill, restart, verify.
func (l *crashLoop) run(n int) {
	s := l.start(false)
	l.setup(s)
	for i := range n {
		if i > 0 && i%freshEvery == 0 {
			// A fresh database every freshEvery cycles keeps each
			// verification's scan (and so a 1,000-cycle run) bounded.
			s.kill()
			l.dir = filepath.Join(l.t.TempDir(), "db")
			l.m = newCrashModel()
			s = l.start(false)
			l.setup(s)
		}
		l.cycle(s)
		s = l.start(len(l.killEnv) > 0)
		s = l.verifyRetrying(s)
		l.st.cycles++
		if l.st.lost > 0 || l.st.violations > 0 {
			break
		}
	}
	s.kill()
}

// cycle drives the writers against s until it is killed.
func (l *crashLoop) cycle(s *server) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := range l.writers {
		wseed := l.rng.Uint64()
		wg.Go(func() { l.writer(ctx, s.c, w, rand.New(rand.NewPCG(wseed, uint64(w)))) })
	}
	lo, hi := l.killWindow[0], l.killWindow[1]
	delay := lo + time.Duration(l.rng.Int64N(int64(hi-lo)+1))
	if len(l.killEnv) > 0 {
		// Whitebox: give the kill point time to fire; kill it anyway after.
		delay = hi
	}
	select {
	case <-time.After(delay):
	case <-s.done:
		l.st.selfKills++
	}
	_ = l.log.sync() // the test's view, on disk before the server dies
	s.kill()
	cancel()
	wg.Wait()
	if !killedBySignal(s.cmd) {
		l.t.Fatalf("server ended other than by SIGKILL: %v\n%s", s.waitErr, s.stderr.String())
	}
	_ = l.log.sync()
}

// writer runs random writes until ctx ends.
func (l *crashLoop) writer(ctx context.Context, c *client.Client, w int, rng *rand.Rand) {
	m, st := l.m, l.st
	for ctx.Err() == nil {
		// Pace the writers: the volume (and so each verification) stays
		// small enough for 50 cycles in CI; the kills are what matter.
		time.Sleep(time.Duration(500+rng.IntN(2000)) * time.Microsecond)
		switch p := rng.IntN(100); {
		case p < 50: // insert a new document
			m.mu.Lock()
			id := fmt.Sprintf("w%d-%d", w, m.nextID[w])
			m.nextID[w]++
			e := &kvEntry{owner: w, g: rng.Int64N(numGroups), v: rng.Int64N(1 << 40), st: kvPendingInsert}
			m.kv[id] = e
			m.mu.Unlock()
			l.log.record("intent insert %s g=%d v=%d", id, e.g, e.v)
			doc := fmt.Sprintf(`{"_id":%q,"g":%d,"v":%d,"w":%d}`, id, e.g, e.v, w)
			_, err := c.Insert(context.Background(), kvCol, json.RawMessage(doc), nil)
			o, u := classify(err)
			st.noteUnexpected(u)
			m.mu.Lock()
			switch o {
			case acked:
				e.st = kvPresent
				m.live[w] = append(m.live[w], id)
				st.ackedInserts.Add(1)
			case failed:
				e.st = kvAbsent
			default:
				st.unknownWrites.Add(1)
			}
			m.mu.Unlock()
			l.log.record("%s insert %s", outcomeName(o), id)
		case p < 65: // delete one of this writer's documents
			m.mu.Lock()
			if len(m.live[w]) == 0 {
				m.mu.Unlock()
				continue
			}
			i := rng.IntN(len(m.live[w]))
			id := m.live[w][i]
			m.live[w][i] = m.live[w][len(m.live[w])-1]
			m.live[w] = m.live[w][:len(m.live[w])-1]
			e := m.kv[id]
			e.st = kvPendingDelete
			m.mu.Unlock()
			l.log.record("intent delete %s", id)
			err := c.Delete(context.Background(), kvCol, id, nil)
			o, u := classify(err)
			st.noteUnexpected(u)
			m.mu.Lock()
			switch o {
			case acked:
				e.st = kvAbsent
				st.ackedDeletes.Add(1)
			case failed:
				e.st = kvPresent
				m.live[w] = append(m.live[w], id)
			default:
				st.unknownWrites.Add(1)
			}
			m.mu.Unlock()
			l.log.record("%s delete %s", outcomeName(o), id)
		case p < 85: // $inc a counter
			i := rng.IntN(numCtrs)
			m.ctrPend[i].Add(1)
			l.log.record("intent inc %s", ctrID(i))
			_, err := c.Patch(context.Background(), counterCol, ctrID(i), json.RawMessage(`{"$inc":{"n":1}}`), nil)
			o, u := classify(err)
			st.noteUnexpected(u)
			switch o {
			case acked:
				m.ctrAcked[i].Add(1)
				m.ctrPend[i].Add(-1)
				st.ackedIncs.Add(1)
			case failed:
				m.ctrPend[i].Add(-1)
			default:
				st.unknownWrites.Add(1)
			}
			l.log.record("%s inc %s", outcomeName(o), ctrID(i))
		default: // an all-or-nothing batch of new documents
			k := 2 + rng.IntN(5)
			m.mu.Lock()
			bid := fmt.Sprintf("b%d-%d", w, m.nextID[w])
			m.nextID[w]++
			b := &batchEntry{st: kvPendingInsert}
			m.batches[bid] = b
			m.mu.Unlock()
			docs := make([]json.RawMessage, k)
			for j := range k {
				id := fmt.Sprintf("%s-%d", bid, j)
				b.ids = append(b.ids, id)
				docs[j] = json.RawMessage(fmt.Sprintf(`{"_id":%q,"batch":%q,"k":%d,"j":%d}`, id, bid, k, j))
			}
			l.log.record("intent batch %s k=%d", bid, k)
			_, err := c.InsertMany(context.Background(), batchCol, docs)
			o, u := classify(err)
			st.noteUnexpected(u)
			m.mu.Lock()
			switch o {
			case acked:
				b.st = kvPresent
				st.ackedBatches.Add(1)
			case failed:
				b.st = kvAbsent
			default:
				st.unknownWrites.Add(1)
			}
			m.mu.Unlock()
			l.log.record("%s batch %s", outcomeName(o), bid)
		}
	}
}

func outcomeName(o outcome) string {
	return [...]string{"ack", "failed", "unknown"}[o]
}

// storedDoc is any of the test's documents.
type storedDoc struct {
	ID    string `json:"_id"`
	G     *int64 `json:"g"`
	V     *int64 `json:"v"`
	Batch string `json:"batch"`
	K     int    `json:"k"`
	N     *int64 `json:"n"`
}

// scanAll walks a collection with _find and cursors.
func scanAll(ctx context.Context, c *client.Client, col string, filter string) (map[string]storedDoc, error) {
	out := map[string]storedDoc{}
	req := client.Query{Limit: 1000}
	if filter != "" {
		req.Filter = json.RawMessage(filter)
	}
	for pages := 0; ; pages++ {
		if pages > 100000 {
			return nil, fmt.Errorf("scan of %s does not end", col)
		}
		res, err := c.Find(ctx, col, req)
		if err != nil {
			if client.IsNotFound(err) {
				return out, nil // the collection does not exist yet
			}
			return nil, fmt.Errorf("_find %s %s: %w", col, filter, err)
		}
		for _, raw := range res.Docs {
			var d storedDoc
			if err := json.Unmarshal(raw, &d); err != nil {
				return nil, fmt.Errorf("_find %s: %w: %s", col, err, raw)
			}
			if _, dup := out[d.ID]; dup {
				return nil, fmt.Errorf("_find %s returned %q twice", col, d.ID)
			}
			out[d.ID] = d
		}
		if res.Cursor == "" {
			return out, nil
		}
		req.Cursor = res.Cursor
	}
}

// observed is what the restarted server holds.
type observed struct {
	docCount map[string]int64
	count    map[string]int64
	scan     map[string]map[string]storedDoc
	byGroup  [numGroups]map[string]storedDoc
}

func readState(ctx context.Context, c *client.Client) (*observed, error) {
	ob := &observed{docCount: map[string]int64{}, count: map[string]int64{}, scan: map[string]map[string]storedDoc{}}
	cols, err := c.Collections(ctx)
	if err != nil {
		return nil, err
	}
	for _, col := range cols {
		ob.docCount[col.Name] = col.DocCount
	}
	for _, col := range []string{kvCol, counterCol, batchCol} {
		docs, err := scanAll(ctx, c, col, "")
		if err != nil {
			return nil, err
		}
		ob.scan[col] = docs
		n, err := c.Count(ctx, col, json.RawMessage(`{}`))
		if err != nil && !client.IsNotFound(err) {
			return nil, err
		}
		ob.count[col] = n
	}
	for g := range numGroups {
		docs, err := scanAll(ctx, c, kvCol, fmt.Sprintf(`{"g":%d}`, g))
		if err != nil {
			return nil, err
		}
		ob.byGroup[g] = docs
	}
	return ob, nil
}

// verifyRetrying verifies s; when a kill point ends the server during the
// reads (a background flush or compaction), it restarts it without the
// kill point and verifies again.
func (l *crashLoop) verifyRetrying(s *server) *server {
	for attempt := 0; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		ob, err := readState(ctx, s.c)
		cancel()
		if err == nil {
			l.check(ob)
			_ = l.log.sync()
			return s
		}
		select {
		case <-s.done:
		case <-time.After(2 * time.Second):
		}
		if !s.exited() || attempt > 3 {
			l.t.Fatalf("verification reads failed after %d cycles (seed %d): %v\n%s", l.st.cycles, l.seed, err, s.stderr.String())
		}
		l.st.selfKills++
		s = l.start(false)
	}
}

// check compares what the server holds with the model, then settles every
// undecided write to what the server holds.
func (l *crashLoop) check(ob *observed) {
	m, st := l.m, l.st
	m.mu.Lock()
	defer m.mu.Unlock()
	cyc := l.st.cycles

	// Counts agree three ways.
	for _, col := range []string{kvCol, counterCol, batchCol} {
		n := int64(len(ob.scan[col]))
		if ob.docCount[col] != n || ob.count[col] != n {
			st.problem(false, "cycle %d: %s: _collections docCount=%d, _count=%d, _find scan=%d",
				cyc, col, ob.docCount[col], ob.count[col], n)
		}
	}
	// The index agrees with the scan.
	for g := range numGroups {
		want := map[string]bool{}
		for id, d := range ob.scan[kvCol] {
			if d.G != nil && *d.G == int64(g) {
				want[id] = true
			}
		}
		got := ob.byGroup[g]
		for id := range want {
			if _, ok := got[id]; !ok {
				st.problem(false, "cycle %d: indexed _find g=%d misses %s that a scan finds", cyc, g, id)
			}
		}
		for id := range got {
			if !want[id] {
				st.problem(false, "cycle %d: indexed _find g=%d returns %s that a scan does not", cyc, g, id)
			}
		}
	}

	// Documents.
	kvDocs := ob.scan[kvCol]
	for id := range kvDocs {
		if m.kv[id] == nil {
			st.problem(false, "cycle %d: kv/%s exists but was never written", cyc, id)
		}
	}
	for w := range m.live {
		m.live[w] = m.live[w][:0]
	}
	for id, e := range m.kv {
		d, ok := kvDocs[id]
		if ok && (d.G == nil || d.V == nil || *d.G != e.g || *d.V != e.v) {
			st.problem(true, "cycle %d: kv/%s holds g=%v v=%v, want g=%d v=%d", cyc, id, d.G, d.V, e.g, e.v)
		}
		switch e.st {
		case kvPresent:
			if !ok {
				st.problem(true, "cycle %d: acknowledged insert kv/%s is lost", cyc, id)
			}
		case kvAbsent:
			if ok {
				st.problem(true, "cycle %d: kv/%s is back after an acknowledged delete (or a refused insert)", cyc, id)
			}
		}
		if ok {
			e.st = kvPresent
			m.live[e.owner] = append(m.live[e.owner], id)
		} else {
			e.st = kvAbsent
		}
	}
	for w := range m.live {
		sort.Strings(m.live[w])
	}

	// Counters.
	ctrs := ob.scan[counterCol]
	for i := range numCtrs {
		d, ok := ctrs[ctrID(i)]
		a, p := m.ctrAcked[i].Load(), m.ctrPend[i].Load()
		if !ok || d.N == nil {
			st.problem(true, "cycle %d: counter %s is missing", cyc, ctrID(i))
			continue
		}
		if *d.N < a {
			st.problem(true, "cycle %d: counter %s = %d, below its %d acknowledged increments", cyc, ctrID(i), *d.N, a)
		} else if *d.N > a+p {
			st.problem(false, "cycle %d: counter %s = %d, above acked %d + pending %d", cyc, ctrID(i), *d.N, a, p)
		}
		m.ctrAcked[i].Store(*d.N)
		m.ctrPend[i].Store(0)
	}

	// Batches: all or nothing.
	bdocs := ob.scan[batchCol]
	seen := 0
	for bid, b := range m.batches {
		have := 0
		for _, id := range b.ids {
			if d, ok := bdocs[id]; ok {
				have++
				if d.Batch != bid || d.K != len(b.ids) {
					st.problem(true, "cycle %d: batch/%s holds batch=%q k=%d", cyc, id, d.Batch, d.K)
				}
			}
		}
		seen += have
		switch {
		case have != 0 && have != len(b.ids):
			st.problem(false, "cycle %d: batch %s half applied: %d of %d documents", cyc, bid, have, len(b.ids))
		case b.st == kvPresent && have == 0:
			st.problem(true, "cycle %d: acknowledged batch %s is lost", cyc, bid)
		case b.st == kvAbsent && have > 0:
			st.problem(false, "cycle %d: refused batch %s is there", cyc, bid)
		}
		if have == len(b.ids) {
			b.st = kvPresent
		} else {
			b.st = kvAbsent
		}
	}
	if seen != len(bdocs) {
		st.problem(false, "cycle %d: %d batch documents were never written", cyc, len(bdocs)-seen)
	}
}

// summary is the one-line figure the CI log shows.
func (l *crashLoop) summary(name string) string {
	st := l.st
	var b strings.Builder
	fmt.Fprintf(&b, "%s: cycles=%d acked=%d (inserts=%d deletes=%d incs=%d batches=%d) unknown=%d lost=%d violations=%d restart_failures=%d",
		name, st.cycles, st.acked(), st.ackedInserts.Load(), st.ackedDeletes.Load(), st.ackedIncs.Load(), st.ackedBatches.Load(),
		st.unknownWrites.Load(), st.lost, st.violations, st.restartFailures)
	if len(l.killEnv) > 0 {
		fmt.Fprintf(&b, " self_kills=%d kills_in_recovery=%d", st.selfKills, st.killedAtStart)
	}
	fmt.Fprintf(&b, " unexpected_status=%d recovery_p50=%v recovery_p99=%v seed=%d",
		len(st.unexpected), percentile(st.recoveries, 50).Round(time.Millisecond),
		percentile(st.recoveries, 99).Round(time.Millisecond), l.seed)
	return b.String()
}

// report logs the summary and fails the test on any loss or violation.
func (l *crashLoop) report(name string) {
	t, st := l.t, l.st
	figure(t, "%s", l.summary(name))
	for _, p := range st.problems {
		t.Error(p)
	}
	if n := len(st.unexpected); n > 0 {
		t.Errorf("%d unexpected responses, e.g. %v", n, st.unexpected[:min(n, 5)])
	}
	if st.lost > 0 || st.violations > 0 {
		t.Errorf("%s failed with seed %d (MINIDBGO_CRASH_SEED=%d reruns the same kill times, not the same interleaving)", name, l.seed, l.seed)
	}
}

// TestCrashLoop is the blackbox kill loop: MINIDBGO_CRASH_CYCLES cycles
// (default 50; `make crash` runs 1,000) of load, SIGKILL at a random
// moment in 0.2–1.5 s, restart and verify. MINIDBGO_CRASH_DURABILITY picks
// the durability mode (default group).
func TestCrashLoop(t *testing.T) {
	t.Parallel()
	bin := buildServer(t, "")
	durability := "group"
	if d := strings.TrimSpace(os.Getenv("MINIDBGO_CRASH_DURABILITY")); d != "" {
		durability = d
	}
	s := seed()
	l := newCrashLoop(t, bin, s, "DURABILITY="+durability, "FLUSH_SIZE=3000")
	l.run(envInt("MINIDBGO_CRASH_CYCLES", 50))
	l.report("crash-loop durability=" + durability)
}

// killPoints are the engine's kill points with odds that make them fire
// within a cycle or two.
var killPoints = []struct {
	name string
	odds int
}{
	{"wal.append.after", 300},
	{"wal.sync.before", 300},
	{"wal.sync.after", 300},
	{"sst.write.mid", 2000},
	{"manifest.current.before", 1},
	{"manifest.current.after", 1},
	{"compaction.mid", 2000},
}

// TestCrashLoopKillPoints is the whitebox variant: the server is built
// with -tags killpoints and MINIDBGO_KILLPOINT=name:odds makes it SIGKILL
// itself at a point inside the engine; MINIDBGO_KILLPOINT_CYCLES cycles
// (default 3) per point.
func TestCrashLoopKillPoints(t *testing.T) {
	t.Parallel()
	bin := buildServer(t, "killpoints")
	cycles := envInt("MINIDBGO_KILLPOINT_CYCLES", 3)
	base := seed()
	for i, kp := range killPoints {
		t.Run(kp.name, func(t *testing.T) {
			l := newCrashLoop(t, bin, base+uint64(i), "FLUSH_SIZE=1500")
			l.killEnv = []string{fmt.Sprintf("MINIDBGO_KILLPOINT=%s:%d", kp.name, kp.odds)}
			l.run(cycles)
			l.report("crash-killpoint " + kp.name)
		})
	}
}

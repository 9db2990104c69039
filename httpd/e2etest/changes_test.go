package e2etest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minidbgo/minidbgo/httpd/client"
	"github.com/minidbgo/minidbgo/httpd/client/api"
)

// The change feed against the built server (issue 15): a kill loop with
// writers and a continuous reader, the latency of a longpoll woken by a
// write, and the memory of idle continuous subscribers.

const feedCol = "feed"

// feedWrite is one write a writer made, as the feed must record it.
type feedWrite struct {
	id  string
	op  string // insert, update, delete
	rev uint64 // 0 for delete, and when the outcome is unknown
}

// feedWriterLog is one writer's history: its acknowledged writes in the
// order they were acknowledged, the writes whose outcome is unknown, and
// the inserts that certainly failed.
type feedWriterLog struct {
	acked   []feedWrite
	pending []feedWrite
	failed  []feedWrite
	odd     []string // answers a healthy run should not give (4xx)
	live    []string // acknowledged, present ids it may update or delete
	next    int
}

// feedWriter runs one writer's writes against c until ctx ends: new
// documents, $inc updates and deletes of its own documents.
func feedWriter(ctx context.Context, c *client.Client, w int, lg *feedWriterLog, rng *rand.Rand) {
	for ctx.Err() == nil {
		time.Sleep(time.Duration(1+rng.IntN(3)) * time.Millisecond)
		var (
			fw  feedWrite
			rev uint64
			err error
		)
		switch r := rng.IntN(100); {
		case r < 25 && len(lg.live) > 0:
			i := rng.IntN(len(lg.live))
			fw = feedWrite{id: lg.live[i], op: "update"}
			lg.live = append(lg.live[:i], lg.live[i+1:]...)
			var res api.WriteResult
			res, err = c.Patch(ctx, feedCol, fw.id, map[string]any{"$inc": map[string]any{"u": 1}}, nil)
			rev = res.Rev
		case r < 40 && len(lg.live) > 0:
			i := rng.IntN(len(lg.live))
			fw = feedWrite{id: lg.live[i], op: "delete"}
			lg.live = append(lg.live[:i], lg.live[i+1:]...)
			err = c.Delete(ctx, feedCol, fw.id, nil)
		default:
			fw = feedWrite{id: fmt.Sprintf("w%d-%d", w, lg.next), op: "insert"}
			lg.next++
			var res api.WriteResult
			res, err = c.Put(ctx, feedCol, fw.id, map[string]any{"w": w, "n": lg.next}, nil)
			rev = res.Rev
		}
		o, unexpected := classify(err)
		var ce *client.Error
		if o == failed && errors.As(err, &ce) {
			lg.odd = append(lg.odd, fmt.Sprintf("%s %s: %s", fw.op, fw.id, unexpected))
			continue
		}
		switch {
		case o == acked:
			fw.rev = rev
			lg.acked = append(lg.acked, fw)
			if fw.op != "delete" {
				lg.live = append(lg.live, fw.id) // a document whose state is known
			}
		case o == failed && fw.op == "insert":
			lg.failed = append(lg.failed, fw)
		case o == failed:
			// Not applied: the document is as it was, but left alone.
		default:
			lg.pending = append(lg.pending, fw) // its document is never touched again
		}
	}
}

// readFeed reads the whole feed from 0 in pages.
func readFeed(ctx context.Context, c *client.Client) ([]api.Change, error) {
	var all []api.Change
	var since uint64
	for {
		page, err := c.Changes(ctx, "", client.ChangesOptions{Since: since})
		if err != nil {
			return nil, err
		}
		all = append(all, page.Results...)
		if len(page.Results) == 0 {
			return all, nil
		}
		since = page.LastSeq
	}
}

// TestChangesKillLoop: writers write while a continuous reader follows
// the feed; the server is SIGKILLed at a random moment and restarted,
// and the feed read from 0 is checked against what the writers were
// told: every acknowledged write is there exactly once, in the order of
// each writer's acknowledgements; no record lacks its write (its
// document exists at that revision, or a later record explains it); no
// record is of a write that failed or was never made; and what the
// continuous reader saw of acknowledged writes is in the restarted feed
// unchanged. MINIDBGO_FEED_CYCLES cycles (default 6, about 20 s).
func TestChangesKillLoop(t *testing.T) {
	t.Parallel()
	bin := buildServer(t, "")
	sd := seed()
	t.Logf("seed %d", sd)
	rng := rand.New(rand.NewPCG(sd, 0xfeed))
	dir := filepath.Join(t.TempDir(), "db")
	env := []string{"DURABILITY=group", "FLUSH_SIZE=2000"}
	const writers = 3
	logs := make([]*feedWriterLog, writers)
	for i := range logs {
		logs[i] = &feedWriterLog{}
	}
	cycles := envInt("MINIDBGO_FEED_CYCLES", 6)
	var records, readerSeen, readerChecked int
	s, err := startServer(t, bin, dir, env...)
	if err != nil {
		t.Fatal(err)
	}
	for cycle := range cycles {
		ctx, cancel := context.WithCancel(context.Background())
		start, err := s.c.Changes(ctx, "", client.ChangesOptions{SinceNow: true})
		if err != nil {
			t.Fatal(err)
		}
		// The continuous reader, on a client without a timeout.
		rc := client.New("http://" + s.addr)
		rc.HTTPClient = &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{Timeout: 2 * time.Second}).DialContext}}
		var seen []api.Change
		var readerErr error
		var wg sync.WaitGroup
		wg.Go(func() {
			for ch, err := range rc.Watch(ctx, "", client.ChangesOptions{Since: start.LastSeq, Heartbeat: 200 * time.Millisecond}) {
				if err != nil {
					if ctx.Err() == nil {
						readerErr = err
					}
					return
				}
				if n := len(seen); n > 0 && ch.Seq <= seen[n-1].Seq {
					readerErr = fmt.Errorf("the reader got seq %d after %d", ch.Seq, seen[n-1].Seq)
					return
				}
				seen = append(seen, ch)
			}
		})
		for w := range writers {
			wseed := rng.Uint64()
			wg.Go(func() { feedWriter(ctx, s.c, w, logs[w], rand.New(rand.NewPCG(wseed, uint64(w)))) })
		}
		time.Sleep(300*time.Millisecond + time.Duration(rng.Int64N(int64(900*time.Millisecond))))
		s.kill()
		if !killedBySignal(s.cmd) {
			t.Fatalf("server ended other than by SIGKILL: %v\n%s", s.waitErr, s.stderr.String())
		}
		cancel()
		wg.Wait()
		rc.HTTPClient.CloseIdleConnections()
		if readerErr != nil {
			t.Fatalf("cycle %d: continuous reader: %v", cycle, readerErr)
		}
		if s, err = startServer(t, bin, dir, env...); err != nil {
			t.Fatalf("cycle %d: restart: %v", cycle, err)
		}
		feed, err := readFeed(context.Background(), s.c)
		if err != nil {
			t.Fatalf("cycle %d: reading the feed: %v", cycle, err)
		}
		records = len(feed)
		readerSeen += len(seen)
		readerChecked += checkFeed(t, context.Background(), s.c, cycle, feed, logs, seen)
		if t.Failed() {
			break
		}
	}
	s.kill()
	var ack, pend int
	for _, lg := range logs {
		ack += len(lg.acked)
		pend += len(lg.pending)
	}
	if ack == 0 || readerChecked == 0 {
		t.Fatalf("the loop wrote nothing that was acknowledged (%d) or read nothing (%d)", ack, readerChecked)
	}
	figure(t, "changes-kill-loop: cycles=%d acked=%d unknown=%d records=%d reader_seen=%d reader_checked=%d seed=%d",
		cycles, ack, pend, records, readerSeen, readerChecked, sd)
}

// checkFeed checks the whole feed after a restart; it returns how many
// of the continuous reader's changes it matched to acknowledged writes.
func checkFeed(t *testing.T, ctx context.Context, c *client.Client, cycle int, feed []api.Change, logs []*feedWriterLog, seen []api.Change) int {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Errorf("cycle %d: "+format, append([]any{cycle}, args...)...)
	}
	key := func(id, op string, rev uint64) string { return op + " " + id + " " + strconv.FormatUint(rev, 10) }
	bySeq := map[uint64]api.Change{}
	count := map[string]int{}
	seqOf := map[string]uint64{}
	attempted := map[string]bool{} // "op id" of every write made
	for i, ch := range feed {
		if i > 0 && ch.Seq <= feed[i-1].Seq {
			fail("seq %d after %d", ch.Seq, feed[i-1].Seq)
		}
		if ch.Collection != feedCol {
			fail("a record of collection %q", ch.Collection)
		}
		bySeq[ch.Seq] = ch
		op := ch.Op
		if op == "replace" {
			op = "insert" // a PUT whose first try was applied without an answer
		}
		k := key(ch.ID, op, ch.Rev)
		count[k]++
		seqOf[k] = ch.Seq
	}
	for w, lg := range logs {
		for _, o := range lg.odd {
			fail("writer %d: unexpected answer: %s", w, o)
		}
		for _, fw := range lg.pending {
			attempted[fw.op+" "+fw.id] = true
		}
		for _, fw := range lg.failed {
			for _, ch := range feed {
				if ch.ID == fw.id {
					fail("writer %d: a record %+v of an insert that failed", w, ch)
				}
			}
		}
		var last uint64
		for i, fw := range lg.acked {
			attempted[fw.op+" "+fw.id] = true
			k := key(fw.id, fw.op, fw.rev)
			switch n := count[k]; {
			case n == 0:
				fail("writer %d: acknowledged write #%d (%s) is not in the feed", w, i, k)
			case n > 1:
				fail("writer %d: acknowledged write #%d (%s) is in the feed %d times", w, i, k, n)
			}
			if sq := seqOf[k]; sq != 0 {
				if sq <= last {
					fail("writer %d: acknowledged write #%d (%s) has seq %d, not after its previous write's %d", w, i, k, sq, last)
				}
				last = sq
			}
		}
	}
	// Every record is of a write made; the last record of each document
	// is its state now.
	lastOf := map[string]api.Change{}
	for _, ch := range feed {
		op := ch.Op
		if op == "replace" {
			op = "insert"
		}
		if !attempted[op+" "+ch.ID] {
			fail("record %+v is of no write made", ch)
		}
		lastOf[ch.ID] = ch
	}
	ids := make([]string, 0, len(lastOf))
	for id := range lastOf {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		ch := lastOf[id]
		var doc map[string]any
		rev, err := c.Get(ctx, feedCol, id, &doc)
		switch {
		case ch.Op == "delete":
			if !client.IsNotFound(err) {
				fail("document %q exists (rev %d, err %v) after its last record, a delete (seq %d)", id, rev, err, ch.Seq)
			}
		case err != nil:
			fail("document %q of record %+v: %v", id, ch, err)
		case rev != ch.Rev:
			fail("document %q is at rev %d, its last record (seq %d) says %d", id, rev, ch.Seq, ch.Rev)
		}
	}
	// The continuous reader saw acknowledged writes as the feed holds
	// them.
	ackedKeys := map[string]bool{}
	for _, lg := range logs {
		for _, fw := range lg.acked {
			ackedKeys[key(fw.id, fw.op, fw.rev)] = true
		}
	}
	matched := 0
	for _, ch := range seen {
		op := ch.Op
		if op == "replace" {
			op = "insert"
		}
		if !ackedKeys[key(ch.ID, op, ch.Rev)] {
			continue
		}
		matched++
		if got, ok := bySeq[ch.Seq]; !ok || got.ID != ch.ID || got.Op != ch.Op || got.Rev != ch.Rev {
			fail("the reader saw %+v, the feed holds %+v at that seq", ch, got)
		}
	}
	return matched
}

// TestChangesLongpollLatency measures how soon a longpoll waiting on an
// idle server answers a write: 50 tries, the median and the worst
// reported (not asserted: no wall-clock assertions).
func TestChangesLongpollLatency(t *testing.T) {
	bin := buildServer(t, "")
	s, err := startServer(t, bin, filepath.Join(t.TempDir(), "db"), "DURABILITY=group")
	if err != nil {
		t.Fatal(err)
	}
	defer s.kill()
	ctx := context.Background()
	lc := client.New("http://" + s.addr)
	lc.HTTPClient = &http.Client{Timeout: time.Minute}
	var fromWrite, fromAck []time.Duration
	for i := range 50 {
		start, err := s.c.Changes(ctx, feedCol, client.ChangesOptions{SinceNow: true})
		if err != nil {
			t.Fatal(err)
		}
		type answer struct {
			page api.Changes
			err  error
			at   time.Time
		}
		got := make(chan answer, 1)
		go func() {
			p, err := lc.Changes(ctx, feedCol, client.ChangesOptions{Since: start.LastSeq, Longpoll: true, Timeout: 30 * time.Second})
			got <- answer{p, err, time.Now()}
		}()
		time.Sleep(30 * time.Millisecond) // let it wait: the server is idle
		t0 := time.Now()
		if _, err := s.c.Put(ctx, feedCol, fmt.Sprintf("d%d", i), map[string]any{"i": i}, nil); err != nil {
			t.Fatal(err)
		}
		acked := time.Now()
		a := <-got
		if a.err != nil {
			t.Fatal(a.err)
		}
		if len(a.page.Results) != 1 || a.page.Results[0].ID != fmt.Sprintf("d%d", i) {
			t.Fatalf("try %d: the longpoll answered %+v", i, a.page)
		}
		fromWrite = append(fromWrite, a.at.Sub(t0))
		fromAck = append(fromAck, max(a.at.Sub(acked), 0))
	}
	figure(t, "changes-longpoll-latency: tries=50 median=%v p90=%v max=%v (from the write sent; from its acknowledgement: median=%v max=%v)",
		percentile(fromWrite, 50).Round(10*time.Microsecond), percentile(fromWrite, 90).Round(10*time.Microsecond),
		percentile(fromWrite, 100).Round(10*time.Microsecond),
		percentile(fromAck, 50).Round(10*time.Microsecond), percentile(fromAck, 100).Round(10*time.Microsecond))
}

// rssBytes reads a process's resident set size from /proc.
func rssBytes(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmRSS in /proc status")
}

// memStats reads the server's heap and goroutine-stack bytes in use
// (GET /debug/vars: loopback, no keys).
func memStats(addr string) (heap, stack float64, err error) {
	resp, err := http.Get("http://" + addr + "/debug/vars")
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	var v struct {
		Memstats struct{ HeapInuse, StackInuse float64 }
	}
	err = json.NewDecoder(resp.Body).Decode(&v)
	return v.Memstats.HeapInuse, v.Memstats.StackInuse, err
}

// TestChangesIdleSubscribersRSS opens 1,000 idle continuous feeds on the
// built server and reports the resident memory they add, split into heap
// and goroutine stacks, which must stay under the 30 MB; then one
// write reaches every one of them.
func TestChangesIdleSubscribersRSS(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("needs /proc")
	}
	bin := buildServer(t, "")
	const subscribers = 1000
	s, err := startServer(t, bin, filepath.Join(t.TempDir(), "db"), "MAX_FEEDS=2000", "GOGC=100")
	if err != nil {
		t.Fatal(err)
	}
	defer s.kill()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := s.c.Put(ctx, feedCol, "warm", map[string]any{"x": 1}, nil); err != nil {
		t.Fatal(err)
	}
	// A few feeds first, so that the first-use costs (code pages, pools)
	// are in the baseline.
	tr := &http.Transport{MaxIdleConnsPerHost: -1, DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	open := func() (*http.Response, *bufio.Reader, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.addr+"/api/"+feedCol+"/_changes?feed=continuous&since=now&heartbeat=600000", nil)
		if err != nil {
			return nil, nil, err
		}
		resp, err := hc.Do(req)
		if err != nil {
			return nil, nil, err
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return nil, nil, fmt.Errorf("status %d", resp.StatusCode)
		}
		return resp, bufio.NewReaderSize(resp.Body, 512), nil
	}
	var warm []*http.Response
	for range 10 {
		resp, _, err := open()
		if err != nil {
			t.Fatal(err)
		}
		warm = append(warm, resp)
	}
	// RSS is measured after a collection that returns freed memory to
	// the OS (POST /api/debug/gc: loopback, no keys): what idle
	// subscribers hold, not the garbage of opening them.
	if _, err := s.c.GC(ctx); err != nil {
		t.Fatal(err)
	}
	before, err := rssBytes(s.cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	heap0, stack0, err := memStats(s.addr)
	if err != nil {
		t.Fatal(err)
	}
	resps := make([]*http.Response, subscribers)
	readers := make([]*bufio.Reader, subscribers)
	for i := range subscribers {
		if resps[i], readers[i], err = open(); err != nil {
			t.Fatalf("subscriber %d: %v", i, err)
		}
	}
	defer func() {
		for _, r := range append(resps, warm...) {
			if r != nil {
				r.Body.Close()
			}
		}
	}()
	if _, err := s.c.GC(ctx); err != nil {
		t.Fatal(err)
	}
	after, err := rssBytes(s.cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	heap1, stack1, err := memStats(s.addr)
	if err != nil {
		t.Fatal(err)
	}
	added := after - before
	// One write: every subscriber gets it.
	if _, err := s.c.Put(ctx, feedCol, "ping", map[string]any{"x": 2}, nil); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, subscribers)
	for i := range subscribers {
		wg.Go(func() {
			line, err := readers[i].ReadString('\n')
			for err == nil && line == "\n" { // the heartbeat at the start
				line, err = readers[i].ReadString('\n')
			}
			if err != nil || !strings.Contains(line, `"_id":"ping"`) {
				errs <- fmt.Errorf("subscriber %d: %q %v", i, line, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	figure(t, "changes-idle-subscribers: %d continuous feeds added %.1f MB RSS (%.1f KB each: heap %.1f KB, goroutine stacks %.1f KB; RSS %.1f MB before, %.1f MB after)",
		subscribers, float64(added)/(1<<20), float64(added)/subscribers/1024,
		(heap1-heap0)/subscribers/1024, (stack1-stack0)/subscribers/1024,
		float64(before)/(1<<20), float64(after)/(1<<20))
	// The bound (memory, not time): 12 MB measured, so 30 MB
	// leaves room for another machine's page and stack sizes.
	if added > 30<<20 {
		t.Errorf("%d idle subscribers added %.1f MB of RSS, more than 30 MB", subscribers, float64(added)/(1<<20))
	}
}

package httpd

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/minidbgo/minidbgo/docstore"
	"github.com/minidbgo/minidbgo/httpd/client/api"
)

// feedPage reads a normal or longpoll answer.
func feedPage(t *testing.T, r response) api.Changes {
	t.Helper()
	mustStatus(t, r, http.StatusOK)
	var c api.Changes
	r.json(t, &c)
	require.NotNil(t, c.Results, "results is an array, never null: %s", r.body)
	for i := 1; i < len(c.Results); i++ {
		require.Greater(t, c.Results[i].Seq, c.Results[i-1].Seq, "ascending seq: %s", r.body)
	}
	if n := len(c.Results); n > 0 {
		require.GreaterOrEqual(t, c.LastSeq, c.Results[n-1].Seq)
	}
	return c
}

// opsOf lists a page's results as "op collection/_id".
func opsOf(cs []api.Change) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Op+" "+c.Collection+"/"+c.ID)
	}
	return out
}

// feedStream is an open continuous or eventsource response.
type feedStream struct {
	t    *testing.T
	resp *http.Response
	rd   *bufio.Reader
}

// openFeed starts a streaming feed request and checks its status.
func (e *env) openFeed(t *testing.T, method, path, body string, hdr ...string) *feedStream {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	require.NoError(t, err)
	if e.key != "" {
		req.Header.Set("Authorization", "Bearer "+e.key)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := e.hc.Do(req)
	require.NoError(t, err)
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	fs := &feedStream{t: t, resp: resp, rd: bufio.NewReader(resp.Body)}
	t.Cleanup(fs.close)
	return fs
}

func (fs *feedStream) close() { fs.resp.Body.Close() }

// line reads the next NDJSON line ("" for a heartbeat).
func (fs *feedStream) line() string {
	fs.t.Helper()
	l, err := fs.rd.ReadString('\n')
	require.NoError(fs.t, err, "partial line %q", l)
	return strings.TrimSuffix(l, "\n")
}

// change reads NDJSON lines, skipping heartbeats, up to the next change.
func (fs *feedStream) change() api.Change {
	fs.t.Helper()
	for {
		l := fs.line()
		if l == "" {
			continue
		}
		var c api.Change
		require.NoError(fs.t, json.Unmarshal([]byte(l), &c), "line %q", l)
		require.NotZero(fs.t, c.Seq, "line %q", l)
		return c
	}
}

// event reads the next SSE event, skipping comments: its id and data.
func (fs *feedStream) event() (id string, data api.Change) {
	fs.t.Helper()
	var dataLine string
	for {
		l := fs.line()
		switch {
		case strings.HasPrefix(l, ":"):
		case strings.HasPrefix(l, "id: "):
			id = strings.TrimPrefix(l, "id: ")
		case strings.HasPrefix(l, "data: "):
			dataLine = strings.TrimPrefix(l, "data: ")
		case l == "":
			if dataLine != "" {
				require.NoError(fs.t, json.Unmarshal([]byte(dataLine), &data), "data %q", dataLine)
				require.Equal(fs.t, strconv.FormatUint(data.Seq, 10), id, "id is the seq")
				return id, data
			}
		default:
			fs.t.Fatalf("unexpected SSE line %q", l)
		}
	}
}

// writeSome makes one write of each kind and returns nothing: insert p1,
// p2 and o1, replace p1, update p2, delete p1, drop "other".
func (e *env) writeSome(t *testing.T) {
	mustStatus(t, e.do("POST", "/api/products", `{"_id":"p1","cat":"home","n":1}`), http.StatusCreated)
	mustStatus(t, e.do("POST", "/api/products", `{"_id":"p2","cat":"office","n":2}`), http.StatusCreated)
	mustStatus(t, e.do("POST", "/api/other", `{"_id":"o1"}`), http.StatusCreated)
	mustStatus(t, e.do("PUT", "/api/products/p1", `{"cat":"home","n":10}`), http.StatusOK)
	mustStatus(t, e.do("PATCH", "/api/products/p2", `{"$set":{"cat":"home"}}`), http.StatusOK)
	mustStatus(t, e.do("DELETE", "/api/products/p1", nil), http.StatusOK)
	mustStatus(t, e.do("DELETE", "/api/other", nil), http.StatusOK)
}

// TestChangesNormal: the feed of every collection and of one, in commit
// order, with since, limit, last_seq, oldest_seq and revisions.
func TestChangesNormal(t *testing.T) {
	e := newEnv(t, envOptions{})
	empty := feedPage(t, e.do("GET", "/api/_changes", nil))
	require.Empty(t, empty.Results)
	require.Equal(t, uint64(0), empty.LastSeq)
	e.writeSome(t)

	all := feedPage(t, e.do("GET", "/api/_changes", nil))
	require.Equal(t, []string{
		"insert products/p1", "insert products/p2", "insert other/o1", "replace products/p1",
		"update products/p2", "delete products/p1", "drop other/",
	}, opsOf(all.Results))
	require.Equal(t, all.Results[6].Seq, all.LastSeq)
	require.Equal(t, all.Results[0].Seq, all.OldestSeq)
	// Revisions are the documents' ETags; delete and drop have none.
	r := e.do("GET", "/api/products/p2", nil)
	require.Equal(t, r.header.Get("ETag"), `"`+strconv.FormatUint(all.Results[4].Rev, 10)+`"`)
	require.Zero(t, all.Results[5].Rev)
	require.Contains(t, string(e.do("GET", "/api/_changes?limit=1", nil).body), `"rev":"`, "rev is a string")
	require.NotContains(t, string(e.do("GET", "/api/_changes?since="+strconv.FormatUint(all.Results[5].Seq-1, 10), nil).body), `"rev"`)

	col := feedPage(t, e.do("GET", "/api/products/_changes", nil))
	require.Equal(t, []string{"insert products/p1", "insert products/p2", "replace products/p1", "update products/p2", "delete products/p1"}, opsOf(col.Results))

	// since and limit page through it; last_seq continues.
	page := feedPage(t, e.do("GET", "/api/_changes?limit=3", nil))
	require.Len(t, page.Results, 3)
	require.Equal(t, page.Results[2].Seq, page.LastSeq)
	rest := feedPage(t, e.do("GET", "/api/_changes?since="+strconv.FormatUint(page.LastSeq, 10), nil))
	require.Equal(t, opsOf(all.Results[3:]), opsOf(rest.Results))
	end := feedPage(t, e.do("GET", "/api/_changes?since="+strconv.FormatUint(rest.LastSeq, 10), nil))
	require.Empty(t, end.Results)
	require.Equal(t, rest.LastSeq, end.LastSeq)
	now := feedPage(t, e.do("GET", "/api/_changes?since=now", nil))
	require.Empty(t, now.Results)
	require.Equal(t, all.LastSeq, now.LastSeq)

	// HEAD answers the headers of a normal page.
	mustStatus(t, e.do("HEAD", "/api/_changes?feed=continuous", nil), http.StatusOK)
}

// TestChangesIncludeDocs: include_docs gives each change's current
// document, null when it is gone.
func TestChangesIncludeDocs(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.writeSome(t)
	r := e.do("GET", "/api/products/_changes?include_docs=true", nil)
	page := feedPage(t, r)
	docs := map[string]string{}
	for _, c := range page.Results {
		require.NotNil(t, c.Doc, "doc is present (null when gone): %s", r.body)
		docs[c.Op+" "+c.ID] = string(c.Doc)
	}
	require.Equal(t, "null", docs["insert p1"], "p1 was deleted")
	require.Equal(t, "null", docs["delete p1"])
	require.JSONEq(t, `{"_id":"p2","cat":"home","n":2}`, docs["insert p2"], "the current document, not the one inserted")
	require.JSONEq(t, `{"_id":"p2","cat":"home","n":2}`, docs["update p2"])
	require.NotContains(t, string(e.do("GET", "/api/_changes", nil).body), `"doc"`, "no docs without include_docs")
}

// TestChangesSelector: POST {"selector":…} keeps the changes whose
// current document matches; last_seq still moves past the others.
func TestChangesSelector(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.writeSome(t)
	mustStatus(t, e.do("POST", "/api/products", `{"_id":"p3","cat":"office","n":3}`), http.StatusCreated)
	all := feedPage(t, e.do("GET", "/api/_changes", nil))

	home := feedPage(t, e.do("POST", "/api/_changes", `{"selector":{"cat":"home"}}`))
	require.Equal(t, []string{"insert products/p2", "update products/p2"}, opsOf(home.Results), "p1 is gone, p3 does not match, o1 was dropped")
	require.Equal(t, all.LastSeq, home.LastSeq, "last_seq moves past skipped changes")
	docs := feedPage(t, e.do("POST", "/api/products/_changes?include_docs=true", `{"selector":{"n":{"$gte":3}}}`))
	require.Equal(t, []string{"insert products/p3"}, opsOf(docs.Results))
	require.JSONEq(t, `{"_id":"p3","cat":"office","n":3}`, string(docs.Results[0].Doc))
	none := feedPage(t, e.do("POST", "/api/_changes?limit=2", `{"selector":{"cat":"garden"}}`))
	require.Empty(t, none.Results)
	require.Equal(t, all.Results[1].Seq, none.LastSeq, "a page of skipped records still advances")
	// An empty body is no selector.
	require.Len(t, feedPage(t, e.do("POST", "/api/_changes", "")).Results, len(all.Results))
}

// TestChangesBadParameters: every bad parameter is a 400 naming it, and
// nothing changes.
func TestChangesBadParameters(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.writeSome(t)
	for _, c := range []struct{ path, name string }{
		{"/api/_changes?since=x", "since"},
		{"/api/_changes?since=-1", "since"},
		{"/api/_changes?limit=0", "limit"},
		{"/api/_changes?limit=x", "limit"},
		{"/api/_changes?feed=sometimes", "feed"},
		{"/api/_changes?feed=continuous&heartbeat=0", "heartbeat"},
		{"/api/_changes?feed=continuous&heartbeat=soon", "heartbeat"},
		{"/api/_changes?feed=longpoll&timeout=-5", "timeout"},
		{"/api/_changes?feed=longpoll&timeout=1e3", "timeout"},
		{"/api/_changes?include_docs=yes", "include_docs"},
	} {
		b := errorBody(t, e.do("GET", c.path, nil), http.StatusBadRequest, codeBadParameter)
		require.Contains(t, b.Error, c.name, c.path)
	}
	b := errorBody(t, e.do("GET", "/api/_changes?feed=eventsource", nil, "Last-Event-ID", "abc"), http.StatusBadRequest, codeBadParameter)
	require.Contains(t, b.Error, "Last-Event-ID")
	errorBody(t, e.do("GET", "/api/bad%20name/_changes", nil), http.StatusBadRequest, "invalid_name")
	errorBody(t, e.do("POST", "/api/_changes", `{"selector":{"n":{"$nope":1}}}`), http.StatusBadRequest, "invalid_query")
	errorBody(t, e.do("POST", "/api/_changes", `{"selector":[1]}`), http.StatusBadRequest, "invalid_query")
	errorBody(t, e.do("POST", "/api/_changes", `{"filter":{}}`), http.StatusBadRequest, codeBadBody)
	errorBody(t, e.do("POST", "/api/_changes", `{"selector":`), http.StatusBadRequest, "invalid_json")
}

// TestChangesLongpoll: a longpoll with nothing to answer waits for the
// next write and answers it; without one it answers an empty page at its
// timeout.
func TestChangesLongpoll(t *testing.T) {
	e := newEnv(t, envOptions{})
	mustStatus(t, e.do("POST", "/api/products", `{"_id":"p0"}`), http.StatusCreated)
	start := feedPage(t, e.do("GET", "/api/_changes", nil)).LastSeq

	got := make(chan response, 1)
	go func() {
		got <- e.do("GET", "/api/products/_changes?feed=longpoll&timeout=60000&since=now", nil)
	}()
	require.Eventually(t, func() bool { return e.srv.openFeeds.Load() == 1 }, 10*time.Second, time.Millisecond)
	select {
	case r := <-got:
		t.Fatalf("longpoll answered before any write: %s", r.body)
	case <-time.After(50 * time.Millisecond):
	}
	mustStatus(t, e.do("POST", "/api/other", `{"_id":"o1"}`), http.StatusCreated) // another collection: no answer
	mustStatus(t, e.do("POST", "/api/products", `{"_id":"p1"}`), http.StatusCreated)
	r := <-got
	page := feedPage(t, r)
	require.Equal(t, []string{"insert products/p1"}, opsOf(page.Results))
	require.Equal(t, page.Results[0].Seq, page.LastSeq)
	end := page.LastSeq

	// The timeout: an empty page, last_seq where it was.
	page = feedPage(t, e.do("GET", "/api/_changes?feed=longpoll&timeout=30&since=now", nil))
	require.Empty(t, page.Results)
	require.Equal(t, end, page.LastSeq)
	// A longpoll with changes to answer answers at once.
	page = feedPage(t, e.do("GET", "/api/_changes?feed=longpoll&timeout=60000&since="+strconv.FormatUint(start, 10), nil))
	require.Len(t, page.Results, 2)
	require.Zero(t, e.srv.openFeeds.Load())
}

// TestChangesContinuous: NDJSON, one change per line as written,
// heartbeats as empty lines, the end after limit.
func TestChangesContinuous(t *testing.T) {
	e := newEnv(t, envOptions{cfg: Config{CompressMinBytes: 1}}) // streams are never compressed
	mustStatus(t, e.do("POST", "/api/products", `{"_id":"p0"}`), http.StatusCreated)
	fs := e.openFeed(t, "GET", "/api/products/_changes?feed=continuous&heartbeat=20&include_docs=true", "", "Accept-Encoding", "gzip")
	require.Equal(t, "application/x-ndjson", fs.resp.Header.Get("Content-Type"))
	require.Empty(t, fs.resp.Header.Get("Content-Encoding"))
	c := fs.change()
	require.Equal(t, "insert products/p0", c.Op+" "+c.Collection+"/"+c.ID)
	require.JSONEq(t, `{"_id":"p0"}`, string(c.Doc))
	// Idle: heartbeats.
	require.Equal(t, "", fs.line())
	require.Equal(t, "", fs.line())
	for i := 1; i <= 3; i++ {
		id := fmt.Sprintf("p%d", i)
		mustStatus(t, e.do("POST", "/api/products", `{"_id":"`+id+`"}`), http.StatusCreated)
		c2 := fs.change()
		require.Equal(t, id, c2.ID)
		require.Greater(t, c2.Seq, c.Seq)
		c = c2
	}
	fs.close()

	// limit ends the stream; a selector applies.
	fs = e.openFeed(t, "POST", "/api/products/_changes?feed=continuous&limit=2", `{"selector":{"_id":{"$in":["p1","p3","p5"]}}}`)
	require.Equal(t, "p1", fs.change().ID)
	require.Equal(t, "p3", fs.change().ID)
	rest, err := io.ReadAll(fs.rd)
	require.NoError(t, err)
	require.Empty(t, strings.TrimSpace(string(rest)), "the stream ends after limit")

	// timeout ends an idle stream.
	fs = e.openFeed(t, "GET", "/api/_changes?feed=continuous&since=now&timeout=30&heartbeat=10", "")
	rest, err = io.ReadAll(fs.rd)
	require.NoError(t, err)
	require.Empty(t, strings.TrimSpace(string(rest)))
	require.Eventually(t, func() bool { return e.srv.openFeeds.Load() == 0 }, 10*time.Second, time.Millisecond)
}

// TestChangesEventSourceResume: SSE with id = seq; a client that
// reconnects with Last-Event-ID gets every later change once: nothing
// skipped, nothing repeated.
func TestChangesEventSourceResume(t *testing.T) {
	e := newEnv(t, envOptions{})
	for i := range 5 {
		mustStatus(t, e.do("POST", "/api/products", fmt.Sprintf(`{"_id":"a%d"}`, i)), http.StatusCreated)
	}
	fs := e.openFeed(t, "GET", "/api/products/_changes?feed=eventsource&heartbeat=20", "")
	require.Equal(t, "text/event-stream", fs.resp.Header.Get("Content-Type"))
	var seen []uint64
	var last string
	for range 3 {
		id, c := fs.event()
		seen, last = append(seen, c.Seq), id
	}
	fs.close() // the connection drops after three events
	for i := range 5 {
		mustStatus(t, e.do("POST", "/api/products", fmt.Sprintf(`{"_id":"b%d"}`, i)), http.StatusCreated)
	}
	// since is ignored when Last-Event-ID is sent (EventSource's resume).
	fs = e.openFeed(t, "GET", "/api/products/_changes?feed=eventsource&since=0&limit=7", "", "Last-Event-ID", last)
	for range 7 {
		_, c := fs.event()
		seen = append(seen, c.Seq)
	}
	all := feedPage(t, e.do("GET", "/api/products/_changes", nil))
	var want []uint64
	for _, c := range all.Results {
		want = append(want, c.Seq)
	}
	require.Equal(t, want, seen)

	// Heartbeats are comments; changes committed while the stream waits
	// come as events.
	fs = e.openFeed(t, "GET", "/api/_changes?feed=eventsource&since=now&heartbeat=10", "")
	require.Equal(t, ": ", fs.line())
	mustStatus(t, e.do("POST", "/api/products", `{"_id":"live"}`), http.StatusCreated)
	id, c := fs.event()
	require.Equal(t, "live", c.ID)
	require.Equal(t, strconv.FormatUint(c.Seq, 10), id)
}

// TestChangesMaxFeeds: beyond MaxFeeds open feeds a feed is answered 503
// too_many_feeds with Retry-After; a waiting feed holds no concurrency
// slot, so other requests are served meanwhile.
func TestChangesMaxFeeds(t *testing.T) {
	e := newEnv(t, envOptions{cfg: Config{MaxFeeds: 2, MaxConcurrent: 1}})
	a := e.openFeed(t, "GET", "/api/_changes?feed=continuous&heartbeat=10", "")
	require.Equal(t, "", a.line()) // open and idle
	b := e.openFeed(t, "GET", "/api/_changes?feed=eventsource&heartbeat=10", "")
	require.Equal(t, ": ", b.line())
	r := e.do("GET", "/api/_changes?feed=longpoll&timeout=10", nil)
	errorBody(t, r, http.StatusServiceUnavailable, codeTooManyFeeds)
	require.Equal(t, "1", r.header.Get("Retry-After"))
	// Normal pages and other requests: the one slot is free, once the
	// two feeds have sent the new change (each holds the slot while it
	// reads and sends a page).
	mustStatus(t, e.do("POST", "/api/products", `{"_id":"p1"}`), http.StatusCreated)
	require.Equal(t, "p1", a.change().ID)
	_, c := b.event()
	require.Equal(t, "p1", c.ID)
	require.Eventually(t, func() bool { return len(e.srv.tokens) == 0 }, 10*time.Second, time.Millisecond)
	feedPage(t, e.do("GET", "/api/_changes", nil))
	a.close()
	require.Eventually(t, func() bool { return e.srv.openFeeds.Load() == 1 }, 10*time.Second, time.Millisecond)
	feedPage(t, e.do("GET", "/api/_changes?feed=longpoll&timeout=10&since=now", nil))
}

// TestChangesAuth: the feeds need a key; a read-only key reads them.
func TestChangesAuth(t *testing.T) {
	keys, err := ParseKeys(readKey + ":read," + writeKey + ":write")
	require.NoError(t, err)
	e := newEnv(t, envOptions{cfg: Config{Keys: keys}})
	e.key = writeKey
	mustStatus(t, e.do("POST", "/api/products", `{"_id":"p1"}`), http.StatusCreated)
	e.key = ""
	errorBody(t, e.do("GET", "/api/_changes", nil), http.StatusUnauthorized, codeUnauthorized)
	errorBody(t, e.do("POST", "/api/products/_changes", `{}`), http.StatusUnauthorized, codeUnauthorized)
	e.key = readKey
	require.Len(t, feedPage(t, e.do("GET", "/api/_changes", nil)).Results, 1)
	require.Len(t, feedPage(t, e.do("POST", "/api/products/_changes", `{"selector":{}}`)).Results, 1)
	fs := e.openFeed(t, "GET", "/api/products/_changes?feed=continuous", "")
	require.Equal(t, "p1", fs.change().ID)
}

// TestChangesOutliveTimeouts: feeds served by Serve outlive
// RequestTimeout, ReadTimeout, WriteTimeout and the minimum transfer
// rate's window, and the shutdown ends them instead of waiting for them.
func TestChangesOutliveTimeouts(t *testing.T) {
	var logs bytes.Buffer
	lw := &lockedWriter{w: &logs}
	logger := slog.New(slog.NewTextHandler(lw, nil))
	db, err := docstore.Open(t.TempDir(), nil)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() {
		served <- Serve(ctx, ln, db, Config{
			RequestTimeout: 100 * time.Millisecond, ReadTimeout: 100 * time.Millisecond, WriteTimeout: 200 * time.Millisecond,
			MinTransferRate: 1 << 30, TransferWindow: 100 * time.Millisecond, ShutdownTimeout: 30 * time.Second, Logger: logger,
		})
	}()
	base := "http://" + ln.Addr().String()
	post := func(id string) {
		resp, err := http.Post(base+"/api/products", "application/json", strings.NewReader(`{"_id":"`+id+`"}`))
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusCreated, resp.StatusCode)
	}
	resp, err := http.Get(base + "/api/products/_changes?feed=continuous&heartbeat=50")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	lp := make(chan *http.Response, 1)
	go func() {
		r, err := http.Get(base + "/api/products/_changes?feed=longpoll&timeout=600&since=now")
		if err == nil {
			lp <- r
		}
		close(lp)
	}()
	time.Sleep(700 * time.Millisecond) // past every timeout, and the longpoll's
	r := <-lp
	require.NotNil(t, r, "the longpoll answered after its 600 ms")
	require.Equal(t, http.StatusOK, r.StatusCode)
	b, err := io.ReadAll(r.Body)
	r.Body.Close()
	require.NoError(t, err)
	require.JSONEq(t, `{"results":[],"last_seq":0,"oldest_seq":0}`, string(b))

	post("p1")
	rd := bufio.NewReader(resp.Body)
	for {
		l, err := rd.ReadString('\n')
		require.NoError(t, err, "the stream is still open after 700 ms")
		if strings.TrimSpace(l) != "" {
			require.Contains(t, l, `"_id":"p1"`)
			break
		}
	}
	// A longpoll waiting when the shutdown comes is answered, and the
	// stream ends: the drain does not wait for them.
	lp2 := make(chan string, 1)
	go func() {
		r, err := http.Get(base + "/api/_changes?feed=longpoll&timeout=60000&since=now")
		if err != nil {
			lp2 <- err.Error()
			return
		}
		b, _ := io.ReadAll(r.Body)
		r.Body.Close()
		lp2 <- strconv.Itoa(r.StatusCode) + " " + string(b)
	}()
	time.Sleep(100 * time.Millisecond)
	cancel()
	require.NoError(t, <-served)
	rest, err := io.ReadAll(rd)
	require.NoError(t, err, "the stream ended cleanly")
	require.Empty(t, strings.TrimSpace(string(rest)))
	answer := <-lp2
	require.True(t, strings.HasPrefix(answer, "200 "), answer)
	var page api.Changes
	require.NoError(t, json.Unmarshal([]byte(answer[4:]), &page), answer)
	require.Empty(t, page.Results)
	require.NotZero(t, page.LastSeq, answer)
	lw.mu.Lock()
	defer lw.mu.Unlock()
	require.NotContains(t, logs.String(), "drain incomplete")
}

// TestChangesHistoryLost: a since older than what retention kept is 410
// history_lost, for every kind of feed; oldest_seq says where the
// retained feed starts, and a since from there works.
func TestChangesHistoryLost(t *testing.T) {
	e := newEnv(t, envOptions{docstore: &docstore.Options{ChangesRetentionRecords: 3}})
	for i := range 10 {
		mustStatus(t, e.do("POST", "/api/products", fmt.Sprintf(`{"_id":"p%d"}`, i)), http.StatusCreated)
	}
	require.Eventually(t, func() bool {
		return e.do("GET", "/api/_changes?since=0", nil).status == http.StatusGone
	}, 10*time.Second, 5*time.Millisecond, "retention trims the oldest records")
	for _, path := range []string{
		"/api/_changes?since=0", "/api/products/_changes?since=1", "/api/_changes?feed=longpoll&since=0",
		"/api/_changes?feed=continuous&since=0", "/api/_changes?feed=eventsource&since=0",
	} {
		b := errorBody(t, e.do("GET", path, nil), http.StatusGone, "history_lost")
		require.Contains(t, b.Error, "trimmed", path)
	}
	errorBody(t, e.do("GET", "/api/_changes?feed=eventsource", nil, "Last-Event-ID", "1"), http.StatusGone, "history_lost")
	now := feedPage(t, e.do("GET", "/api/_changes?since=now", nil))
	require.NotZero(t, now.OldestSeq)
	kept := feedPage(t, e.do("GET", "/api/_changes?since="+strconv.FormatUint(now.OldestSeq-1, 10), nil))
	require.NotEmpty(t, kept.Results)
	require.Equal(t, now.OldestSeq, kept.Results[0].Seq)
	require.Equal(t, "p9", kept.Results[len(kept.Results)-1].ID)
}

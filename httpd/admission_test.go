package httpd

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/minidbgo/minidbgo/docstore"
	"github.com/minidbgo/minidbgo/httpd/client/api"
)

// rawRequest opens a connection to e and sends head (a request line and
// headers, without the blank line) and then prefix of the body.
func (e *env) rawRequest(head, prefix string) net.Conn {
	e.t.Helper()
	c, err := net.Dial("tcp", e.ts.Listener.Addr().String())
	require.NoError(e.t, err)
	e.t.Cleanup(func() { _ = c.Close() })
	_, err = io.WriteString(c, head+"Host: 127.0.0.1\r\n\r\n"+prefix)
	require.NoError(e.t, err)
	return c
}

// readRaw reads a response from c within d (a liveness bound: a server
// that does not answer fails the test rather than hanging it).
func readRaw(t *testing.T, c net.Conn, d time.Duration) (*http.Response, api.Error) {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(d)))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err, "no response within %s", d)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var ae api.Error
	if resp.StatusCode >= 400 {
		require.NoError(t, json.Unmarshal(b, &ae), "body: %s", b)
	}
	return resp, ae
}

// inflight reads the in-flight memory gauge from /api/metrics.
func (e *env) inflight() int64 {
	e.t.Helper()
	var m api.Metrics
	r := mustStatus(e.t, e.do("GET", "/api/metrics", nil), http.StatusOK)
	require.NoError(e.t, json.Unmarshal(r.body, &m))
	return m.HTTPInflightBytes
}

// eventually polls cond for up to 20 s (a liveness bound).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Bodies are admitted by bytes: while declared bodies fill the in-flight
// budget, more large bodies are answered 503 with Retry-After before a
// byte of them is sent, small requests still pass, and the gauge returns
// to 0 when the bodies are done.
func TestMemoryAdmissionBeforeBody(t *testing.T) {
	const mib = 1 << 20
	// (No minimum rate: the first body waits for the test.)
	e := newEnv(t, envOptions{cfg: Config{MaxBodyBytes: mib, MaxInflightBytes: mib + mib/2, MinTransferRate: -1}})

	// One request declares 1 MiB and sends only its first byte.
	big := e.rawRequest("POST /api/c/_insertMany HTTP/1.1\r\nContent-Type: application/json\r\n"+
		fmt.Sprintf("Content-Length: %d\r\n", mib), "[")
	eventually(t, "the first body's reservation", func() bool { return e.inflight() == mib })

	// Many more declare 1 MiB each and send nothing: each is refused at
	// once, on its headers alone.
	var wg sync.WaitGroup
	for range 8 {
		c := e.rawRequest("POST /api/c/_insertMany HTTP/1.1\r\nContent-Type: application/json\r\n"+
			fmt.Sprintf("Content-Length: %d\r\n", mib), "")
		wg.Go(func() {
			resp, ae := readRaw(t, c, 20*time.Second)
			require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
			require.Equal(t, "overloaded", ae.Code)
			require.Contains(t, ae.Error, "MAX_INFLIGHT_MB")
			require.Equal(t, "1", resp.Header.Get("Retry-After"))
			require.True(t, resp.Close, "the unread body is not drained: the connection closes")
		})
	}
	wg.Wait()

	// A chunked body that outgrows what is left is refused as it arrives.
	chunked := struct{ io.Reader }{strings.NewReader(`[{"_id":"x","pad":"` + strings.Repeat("x", 700<<10) + `"}]`)}
	errorBody(t, e.do("POST", "/api/c/_insertMany", chunked), http.StatusServiceUnavailable, "overloaded")

	// Small requests pass meanwhile.
	mustStatus(t, e.do("POST", "/api/c", `{"_id":"small"}`), http.StatusCreated)
	mustStatus(t, e.do("GET", "/api/c/small", nil), http.StatusOK)

	// The first body completes and is stored; the budget is all back.
	doc := `{"_id":"big","pad":"` + strings.Repeat("x", mib-len(`[{"_id":"big","pad":""}]`)) + `"}]`
	_, err := io.WriteString(big, doc)
	require.NoError(t, err)
	resp, ae := readRaw(t, big, 20*time.Second)
	require.Equal(t, http.StatusCreated, resp.StatusCode, "%+v", ae)
	mustStatus(t, e.do("GET", "/api/c/big", nil), http.StatusOK)
	eventually(t, "the gauge to return to 0", func() bool { return e.inflight() == 0 })

	var m api.Metrics
	e.do("GET", "/api/metrics", nil).json(t, &m)
	require.Equal(t, int64(mib+mib/2), m.HTTPInflightLimit)
	require.GreaterOrEqual(t, m.HTTPRejectedMemory, uint64(9))
}

func insertPadded(t *testing.T, db *docstore.DB, col string, n, pad int) {
	t.Helper()
	var docs [][]byte
	for i := range n {
		docs = append(docs, fmt.Appendf(nil, `{"_id":"d%05d","n":%d,"pad":"%0*d"}`, i, n-i, pad, i))
		if len(docs) == 500 || i == n-1 {
			_, err := db.InsertMany(context.Background(), col, docs)
			require.NoError(t, err)
			docs = docs[:0]
		}
	}
}

// An unindexed sort with a skip beyond its memory share answers 400
// sort_too_large naming the limit; one beyond the shared budget answers
// 503; smaller sorts pass, and nothing stays reserved.
func TestSortMemoryLimits(t *testing.T) {
	e := newEnv(t, envOptions{cfg: Config{MaxSortBytes: 256 << 10}})
	insertPadded(t, e.db, "c", 2000, 200)

	for _, route := range []string{"/api/c/_find", "/api/c/_explain"} {
		ae := errorBody(t, e.do("POST", route, `{"sort":{"n":1},"skip":1900,"limit":10}`), http.StatusBadRequest, "sort_too_large")
		require.Contains(t, ae.Error, "262144 bytes")
		require.Contains(t, ae.Error, "index")
	}
	errorBody(t, e.do("POST", "/api/c/_search?sort=n&skip=1900&limit=10", `{}`), http.StatusBadRequest, "sort_too_large")

	var page api.FindResult
	e.do("POST", "/api/c/_find", `{"sort":{"n":1},"skip":10,"limit":2}`).json(t, &page)
	require.Len(t, page.Docs, 2)
	require.Contains(t, string(page.Docs[0]), `"d01989"`)
	// An index serves the same query without holding it in memory.
	mustStatus(t, e.do("POST", "/api/c/_indexes", `{"fields":["n"]}`), http.StatusCreated)
	mustStatus(t, e.do("POST", "/api/c/_find", `{"sort":{"n":1},"skip":1900,"limit":10}`), http.StatusOK)
	require.Zero(t, e.inflight())

	// The shared budget: sorts within their share but beyond what is
	// left are 503, to be retried.
	e2 := newEnv(t, envOptions{cfg: Config{MaxInflightBytes: 512 << 10, MaxSortBytes: 64 << 20}})
	insertPadded(t, e2.db, "c", 2000, 200)
	r := e2.do("POST", "/api/c/_find", `{"sort":{"n":1},"skip":1900,"limit":10}`)
	errorBody(t, r, http.StatusServiceUnavailable, "overloaded")
	require.Equal(t, "1", r.header.Get("Retry-After"))
	require.Zero(t, e2.inflight())
}

// trickle sends one byte of body to c every interval until c fails.
func trickle(c net.Conn, interval time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			if _, err := c.Write([]byte(" ")); err != nil {
				return
			}
		}
	}
}

// Clients that trickle their bodies do not hold the concurrency slots: a
// normal request succeeds while they are open, and they are answered 408
// client_too_slow once a window passes below the minimum rate, _import
// streams included.
func TestSlowSendersDoNotHoldSlots(t *testing.T) {
	const slots = 2
	e := newEnv(t, envOptions{cfg: Config{MaxConcurrent: slots, MinTransferRate: 1000,
		TransferWindow: 5 * time.Second, ReadTimeout: time.Minute}})
	e.seed()
	stop := make(chan struct{})
	defer close(stop)
	var conns []net.Conn
	for range 2 * slots {
		c := e.rawRequest("POST /api/products/_find HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 200\r\n", "{")
		go trickle(c, 200*time.Millisecond, stop)
		conns = append(conns, c)
	}
	imp := e.rawRequest("POST /api/products/_import HTTP/1.1\r\nContent-Type: application/x-ndjson\r\nContent-Length: 100000\r\n", `{"_id":"i1"}`+"\n")
	go trickle(imp, 200*time.Millisecond, stop)
	eventually(t, "the slow requests to be open at once (without holding the slots)", func() bool { return e.srv.metrics.inFlight.Load() == 2*slots+1 })

	// A normal request is served although more slow requests are open
	// than there are slots (the _import stream holds one of them).
	mustStatus(t, e.do("GET", "/api/products/p1", nil), http.StatusOK)
	mustStatus(t, e.do("POST", "/api/products/_find", `{"limit":1}`), http.StatusOK)

	for _, c := range append(conns, imp) {
		resp, ae := readRaw(t, c, 30*time.Second)
		require.Equal(t, http.StatusRequestTimeout, resp.StatusCode, "%+v", ae)
		require.Equal(t, "client_too_slow", ae.Code)
		require.Contains(t, ae.Error, "1000 bytes/s")
	}
	var m api.Metrics
	e.do("GET", "/api/metrics", nil).json(t, &m)
	require.Equal(t, uint64(2*slots+1), m.HTTPTooSlow)
	require.Zero(t, m.HTTPInflightBytes)
}

// A dump reader that stops reading is cut off once a window passes below
// the minimum rate, well before WRITE_TIMEOUT, and the dump's snapshot
// (which pins the tables it reads) is released.
func TestStalledDumpReaderReleasesSnapshot(t *testing.T) {
	e := newEnv(t, envOptions{
		cfg: Config{MinTransferRate: 1 << 20, TransferWindow: 500 * time.Millisecond, WriteTimeout: 5 * time.Minute},
		configure: func(hs *http.Server) {
			// Small socket buffers, so that the dump outgrows them.
			hs.ConnState = func(c net.Conn, st http.ConnState) {
				if jc, ok := c.(*jsonErrConn); ok { // newEnv serves through JSONErrors
					c = jc.Conn
				}
				if tc, ok := c.(*net.TCPConn); ok && st == http.StateNew {
					_ = tc.SetWriteBuffer(16 << 10)
				}
			}
		},
	})
	insertPadded(t, e.db, "c", 2000, 2000) // 4 MB
	c, err := net.Dial("tcp", e.ts.Listener.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	_ = c.(*net.TCPConn).SetReadBuffer(16 << 10)
	_, err = io.WriteString(c, "GET /api/dumpDB HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
	require.NoError(t, err)

	eventually(t, "the dump to start", func() bool { return e.srv.metrics.inFlight.Load() == 1 })
	eventually(t, "the stalled dump's snapshot to be released", func() bool {
		return e.srv.metrics.inFlight.Load() == 0 && e.db.Metrics().Snapshots == 0
	})
	var m api.Metrics
	e.do("GET", "/api/metrics", nil).json(t, &m)
	require.Equal(t, uint64(1), m.HTTPTooSlow)
	require.Zero(t, m.Snapshots)
}

// The default budget is an eighth of the Go memory limit, at least
// MaxBodyBytes; a sort's share half of that.
func TestAdmissionDefaults(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(200 << 20))
	c := Config{}.withDefaults()
	require.Equal(t, int64(25<<20), c.MaxInflightBytes)
	require.Equal(t, int64(25<<20)/2, c.MaxSortBytes)
	require.Equal(t, int64(16<<10), c.MinTransferRate)
	require.Equal(t, 10*time.Second, c.TransferWindow)
	c = Config{MaxBodyBytes: 40 << 20}.withDefaults()
	require.Equal(t, int64(40<<20), c.MaxInflightBytes)
	debug.SetMemoryLimit(math.MaxInt64)
	require.Equal(t, int64(128<<20), Config{}.withDefaults().MaxInflightBytes)
}

// The minimum rate counts only time spent waiting on the client: the
// server's own work between transfers never ends a transfer.
func TestTransferMeter(t *testing.T) {
	s := &Server{cfg: Config{MinTransferRate: 1000, TransferWindow: time.Second}, mem: &memBudget{}}
	m := s.newMeter(time.Minute)
	require.Equal(t, int64(1000), m.quota)
	now := time.Now()
	require.Equal(t, now.Add(time.Second), m.deadline(now), "the window's end while the quota is due")
	require.True(t, m.record(10, 600*time.Millisecond))
	require.Equal(t, now.Add(400*time.Millisecond), m.deadline(now))
	require.False(t, m.record(10, 500*time.Millisecond), "20 bytes in a 1 s window of waiting")

	m = s.newMeter(time.Minute)
	for range 100 { // 100 short waits between long pauses of the server's
		require.True(t, m.record(100, time.Millisecond))
	}
	require.Equal(t, now.Add(time.Minute), m.deadline(now), "quota met: only the stall bound")
	require.True(t, m.record(0, time.Second), "a window ending with its quota met starts the next")
	require.Zero(t, m.moved)

	s.cfg.MinTransferRate = -1
	m = s.newMeter(time.Minute)
	require.True(t, m.record(0, time.Hour), "no minimum rate")
}

// A page of results is reserved from the budget as it grows: under
// memory pressure it ends early with a cursor that continues with the
// next document, and with no room for one document the query is 503.
func TestPageMemory(t *testing.T) {
	const body = 64 << 10
	e := newEnv(t, envOptions{cfg: Config{MaxBodyBytes: body, MaxInflightBytes: 400 << 10, MinTransferRate: -1}})
	insertPadded(t, e.db, "c", 20, 30<<10) // 600 KB

	var res api.FindResult
	e.do("POST", "/api/c/_find", `{"limit":20}`).json(t, &res)
	require.Less(t, len(res.Docs), 20, "the page ends within the budget")
	require.NotEmpty(t, res.Cursor)
	seen := map[string]bool{}
	for pages := 0; ; pages++ {
		require.Less(t, pages, 20)
		require.NotEmpty(t, res.Docs)
		for _, d := range res.Docs {
			var doc struct {
				ID string `json:"_id"`
			}
			require.NoError(t, json.Unmarshal(d, &doc))
			require.False(t, seen[doc.ID], "%s twice", doc.ID)
			seen[doc.ID] = true
		}
		if res.Cursor == "" {
			break
		}
		next, _ := json.Marshal(map[string]string{"cursor": res.Cursor})
		res = api.FindResult{}
		e.do("POST", "/api/c/_find", next).json(t, &res)
	}
	require.Len(t, seen, 20)
	require.Zero(t, e.inflight())

	// Bodies hold all but 16 KiB: not one 30 KB document fits.
	for range 6 {
		e.rawRequest("POST /api/c HTTP/1.1\r\nContent-Type: application/json\r\n"+
			fmt.Sprintf("Content-Length: %d\r\n", body), "{")
	}
	eventually(t, "the bodies' reservations", func() bool { return e.srv.mem.used.Load() == 6*body })
	r := e.do("POST", "/api/c/_find", `{"limit":20}`)
	errorBody(t, r, http.StatusServiceUnavailable, "overloaded")
	require.Equal(t, "1", r.header.Get("Retry-After"))
}

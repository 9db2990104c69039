package runner

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ticketPath carries the ticket in the path, so handlers can act on it.
func ticketPath(i uint64) Request {
	return Request{Method: "GET", Path: "/t/" + strconv.FormatUint(i, 10)}
}

func ticketOf(r *http.Request) int {
	n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/t/"))
	return n
}

func newClient(t *testing.T, url string, c int) *Client {
	t.Helper()
	cl, err := NewClient(url, HTTPConfig{Concurrency: c, Timeout: 5 * time.Second})
	require.NoError(t, err)
	t.Cleanup(cl.Close)
	return cl
}

func TestCountsAddUp(t *testing.T) {
	var served atomic.Int64
	var mu sync.Mutex
	seen := map[int]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		mu.Lock()
		seen[ticketOf(r)]++
		mu.Unlock()
		_, _ = w.Write([]byte("hello")) // 5 bytes
	}))
	defer srv.Close()

	const n = 503 // not a multiple of the concurrency
	res, err := Run(context.Background(), Config{Concurrency: 7, Requests: n}, newClient(t, srv.URL, 7).Op(ticketPath, nil))
	require.NoError(t, err)
	assert.EqualValues(t, n, res.Requests)
	assert.EqualValues(t, n, served.Load(), "stops at -n exactly")
	assert.EqualValues(t, n, res.Items)
	assert.Equal(t, map[string]int64{"200": n}, res.Status)
	assert.Zero(t, res.Errors)
	assert.EqualValues(t, 5*n, res.BytesIn)
	assert.EqualValues(t, n, res.Latency.TotalCount())
	assert.Len(t, seen, n, "every ticket exactly once")
	for i := range n {
		assert.Equal(t, 1, seen[i], "ticket %d", i)
	}
	assert.Greater(t, res.Rate(), 0.0)
}

func TestStopsAtDuration(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(2 * time.Millisecond)
	}))
	defer srv.Close()
	start := time.Now()
	res, err := Run(context.Background(), Config{Concurrency: 4, Duration: 300 * time.Millisecond}, newClient(t, srv.URL, 4).Op(ticketPath, nil))
	require.NoError(t, err)
	took := time.Since(start)
	assert.GreaterOrEqual(t, took, 300*time.Millisecond)
	assert.Less(t, took, 3*time.Second, "stops by itself shortly after -d")
	assert.Greater(t, res.Requests, int64(10))
	assert.Equal(t, res.Requests, res.Status["200"])
}

func TestStopsAtWhicheverFirst(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	res, err := Run(context.Background(), Config{Concurrency: 2, Requests: 20, Duration: time.Minute}, newClient(t, srv.URL, 2).Op(ticketPath, nil))
	require.NoError(t, err)
	assert.EqualValues(t, 20, res.Requests)
}

func TestCancel(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { time.Sleep(time.Millisecond) }))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	res, err := Run(ctx, Config{Concurrency: 3, Duration: time.Hour}, newClient(t, srv.URL, 3).Op(ticketPath, nil))
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Greater(t, res.Requests, int64(0))
}

// TestLatencyPercentiles injects a known distribution: request i sleeps
// 5 ms when i%20 < 8 (40%), 30 ms when < 17 (45%), else 150 ms (15%). The
// histogram's quantiles must land on those sleeps, allowing for overhead.
// The sleeps are far apart so that a loaded machine's scheduling delays
// (over 70 ms seen under make test) cannot carry one onto the next.
func TestLatencyPercentiles(t *testing.T) {
	sleepFor := func(i int) time.Duration {
		switch m := i % 20; {
		case m < 8:
			return 5 * time.Millisecond
		case m < 17:
			return 30 * time.Millisecond
		}
		return 150 * time.Millisecond
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(sleepFor(ticketOf(r)))
	}))
	defer srv.Close()
	res, err := Run(context.Background(), Config{Concurrency: 10, Requests: 400}, newClient(t, srv.URL, 10).Op(ticketPath, nil))
	require.NoError(t, err)
	h := res.Latency
	// Each quantile lands on its sleep: never faster, and slower only by
	// scheduling overhead, well short of the next sleep in the set (the
	// bounds are generous: CI machines are shared and tests run under -race).
	within := func(name string, q float64, lo, hi time.Duration) {
		got := time.Duration(h.ValueAtQuantile(q))
		assert.GreaterOrEqual(t, got, lo, name)
		assert.Less(t, got, hi, name)
	}
	within("p25", 25, 5*time.Millisecond, 30*time.Millisecond)
	within("p50", 50, 30*time.Millisecond, 150*time.Millisecond)
	within("p80", 80, 30*time.Millisecond, 150*time.Millisecond)
	within("p90", 90, 150*time.Millisecond, 600*time.Millisecond)
	within("p99", 99, 150*time.Millisecond, 600*time.Millisecond)
	assert.GreaterOrEqual(t, time.Duration(h.Min()), 5*time.Millisecond)
	mean := time.Duration(h.Mean())
	wantMean := (8*5 + 9*30 + 3*150) * time.Millisecond / 20
	assert.GreaterOrEqual(t, mean, wantMean)
	assert.Less(t, mean, 2*wantMean)
}

func TestErrorsAndNon2xxCounted(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch i := ticketOf(r); {
		case i%10 == 0:
			// Abort the connection: a transport error on the client.
			panic(http.ErrAbortHandler)
		case i%10 == 1:
			w.WriteHeader(http.StatusServiceUnavailable)
		case i%10 == 2:
			w.WriteHeader(http.StatusNotFound)
		default:
			w.WriteHeader(http.StatusCreated)
		}
	}))
	defer srv.Close()
	const n = 100
	res, err := Run(context.Background(), Config{Concurrency: 4, Requests: n}, newClient(t, srv.URL, 4).Op(ticketPath, nil))
	require.NoError(t, err)
	assert.EqualValues(t, n, res.Requests)
	assert.EqualValues(t, 10, res.Errors)
	assert.Equal(t, map[string]int64{"201": 70, "503": 10, "404": 10}, res.Status)
	assert.NotEmpty(t, res.ErrorSamples)
	var sampled int64
	for msg, k := range res.ErrorSamples {
		assert.NotContains(t, msg, srv.URL, "samples group by cause, not URL")
		sampled += k
	}
	assert.EqualValues(t, 10, sampled)
}

func TestRefusedConnection(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	url := srv.URL
	srv.Close() // nothing listens there any more
	res, err := Run(context.Background(), Config{Concurrency: 2, Requests: 6}, newClient(t, url, 2).Op(ticketPath, nil))
	require.NoError(t, err)
	assert.EqualValues(t, 6, res.Errors)
	assert.Empty(t, res.Status)
}

func TestBodiesSentAndItems(t *testing.T) {
	var got atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
		var buf [64]byte
		for {
			k, err := r.Body.Read(buf[:])
			got.Add(int64(k))
			if err != nil {
				break
			}
		}
	}))
	defer srv.Close()
	gen := func(i uint64) Request { return Request{Method: "POST", Path: "/", Body: []byte(`{"a":1}`)} }
	res, err := Run(context.Background(), Config{Concurrency: 3, Requests: 30},
		newClient(t, srv.URL, 3).Op(gen, func(uint64) int64 { return 10 }))
	require.NoError(t, err)
	assert.EqualValues(t, 30*7, res.BytesOut)
	assert.EqualValues(t, 30*7, got.Load())
	assert.EqualValues(t, 300, res.Items)
}

func TestGenericOp(t *testing.T) {
	op := func(_ context.Context, w int, i uint64) Outcome {
		if i%3 == 0 {
			return Outcome{Err: fmt.Errorf("boom %d", i%2)}
		}
		return Outcome{Status: "ok", Items: 2}
	}
	res, err := Run(context.Background(), Config{Concurrency: 2, Requests: 30, FirstTicket: 0}, op)
	require.NoError(t, err)
	assert.EqualValues(t, 10, res.Errors)
	assert.EqualValues(t, 20, res.Status["ok"])
	assert.EqualValues(t, 20*2+10, res.Items)
	assert.Len(t, res.ErrorSamples, 2)
}

func TestConfigNeedsALimit(t *testing.T) {
	_, err := New(Config{Concurrency: 1}, func(context.Context, int, uint64) Outcome { return Outcome{} })
	assert.Error(t, err)
}

func TestOnlyLoopbackUnlessAllowed(t *testing.T) {
	for _, u := range []string{"http://127.0.0.1:1", "http://localhost:6866", "http://[::1]:80", "http://127.3.4.5"} {
		_, err := NewClient(u, HTTPConfig{})
		assert.NoError(t, err, u)
	}
	for _, u := range []string{"http://10.0.0.1:6866", "http://example.com", "http://192.168.1.2"} {
		_, err := NewClient(u, HTTPConfig{})
		assert.True(t, errors.Is(err, ErrRemoteTarget), u)
		_, err = NewClient(u, HTTPConfig{AllowRemote: true})
		assert.NoError(t, err, u)
	}
	_, err := NewClient("ftp://127.0.0.1", HTTPConfig{})
	assert.Error(t, err)
}

// TestRoundsContinueTickets splits a run into rounds the way --rounds does:
// every ticket is performed once, in both -n and -d rounds.
func TestRoundsContinueTickets(t *testing.T) {
	var mu sync.Mutex
	seen := map[uint64]int{}
	op := func(_ context.Context, _ int, i uint64) Outcome {
		mu.Lock()
		seen[i]++
		mu.Unlock()
		return Outcome{Status: "ok"}
	}
	total := NewResult()
	var next uint64
	for _, cfg := range []Config{{Concurrency: 3, Requests: 40}, {Concurrency: 3, Duration: 20 * time.Millisecond}, {Concurrency: 3, Requests: 41}} {
		cfg.FirstTicket = next
		r, err := New(cfg, op)
		require.NoError(t, err)
		res, err := r.Run(context.Background())
		require.NoError(t, err)
		next += r.Issued()
		total.Merge(res)
	}
	assert.EqualValues(t, next, total.Requests)
	assert.EqualValues(t, total.Requests, total.Latency.TotalCount())
	assert.EqualValues(t, total.Requests, total.Status["ok"])
	require.Len(t, seen, int(next))
	for i := range next {
		assert.Equal(t, 1, seen[i], "ticket %d", i)
	}
}

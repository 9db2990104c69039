package httpd

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/minidbgo/minidbgo/docstore"
	"github.com/minidbgo/minidbgo/httpd/client"
	"github.com/minidbgo/minidbgo/httpd/client/api"
)

// TestClientChanges: Changes pages through the feed, with a selector,
// include_docs and longpoll; history_lost is a *client.Error.
func TestClientChanges(t *testing.T) {
	ctx := context.Background()
	c, e := newClient(t, Config{})
	for i := range 5 {
		_, err := c.Insert(ctx, "products", map[string]any{"_id": fmt.Sprintf("p%d", i), "n": i}, nil)
		require.NoError(t, err)
	}
	page, err := c.Changes(ctx, "products", client.ChangesOptions{Limit: 2})
	require.NoError(t, err)
	require.Len(t, page.Results, 2)
	require.Equal(t, "p0", page.Results[0].ID)
	require.Equal(t, "insert", page.Results[0].Op)
	require.NotZero(t, page.Results[0].Rev)
	rest, err := c.Changes(ctx, "", client.ChangesOptions{Since: page.LastSeq, IncludeDocs: true, Selector: map[string]any{"n": map[string]any{"$gte": 3}}})
	require.NoError(t, err)
	require.Len(t, rest.Results, 2)
	require.JSONEq(t, `{"_id":"p4","n":4}`, string(rest.Results[1].Doc))

	got := make(chan api.Changes, 1)
	go func() {
		p, err := c.Changes(ctx, "products", client.ChangesOptions{SinceNow: true, Longpoll: true, Timeout: time.Minute})
		if err == nil {
			got <- p
		}
		close(got)
	}()
	require.Eventually(t, func() bool { return e.srv.openFeeds.Load() == 1 }, 10*time.Second, time.Millisecond)
	_, err = c.Insert(ctx, "products", map[string]any{"_id": "p9"}, nil)
	require.NoError(t, err)
	p := <-got
	require.Len(t, p.Results, 1)
	require.Equal(t, "p9", p.Results[0].ID)

	_, err = c.Changes(ctx, "products", client.ChangesOptions{Selector: "[1]"})
	var ce *client.Error
	require.ErrorAs(t, err, &ce)
	require.Equal(t, "invalid_query", ce.Code)
}

// cutFeeds serves h, but cuts every continuous feed's connection in the
// middle of its (after+1)th change line.
type cutFeeds struct {
	h     http.Handler
	after int
	cuts  atomic.Int64
}

func (c *cutFeeds) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("feed") != "continuous" {
		c.h.ServeHTTP(w, r)
		return
	}
	c.h.ServeHTTP(&cuttingWriter{ResponseWriter: w, left: c.after, cuts: &c.cuts}, r)
}

type cuttingWriter struct {
	http.ResponseWriter
	left int
	cuts *atomic.Int64
}

func (w *cuttingWriter) Write(p []byte) (int, error) {
	if len(bytes.TrimSpace(p)) > 0 {
		if w.left == 0 {
			// Half a line, then the connection drops.
			_, _ = w.ResponseWriter.Write(p[:len(p)/2])
			http.NewResponseController(w.ResponseWriter).Flush()
			w.cuts.Add(1)
			panic(http.ErrAbortHandler)
		}
		w.left--
	}
	return w.ResponseWriter.Write(p)
}

// Hijack refuses: the stream stays in its handler, where the writer can
// cut it (this also exercises the feed that is not detached).
func (w *cuttingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return nil, nil, http.ErrNotSupported
}

func (w *cuttingWriter) Flush() { _ = http.NewResponseController(w.ResponseWriter).Flush() }

func (w *cuttingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// TestClientWatchResumes: Watch follows a continuous feed whose
// connection is cut in mid-line every 3 changes while writers write; it
// reconnects and resumes after the last change it yielded: every change
// once, in order, nothing skipped or repeated.
func TestClientWatchResumes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	e := newEnv(t, envOptions{})
	cut := &cutFeeds{h: e.srv, after: 3}
	ts := httptest.NewServer(cut)
	defer ts.Close()
	c := client.New(ts.URL)

	const writers, each = 3, 15
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				_, err := c.Insert(ctx, fmt.Sprintf("col%d", w), map[string]any{"_id": fmt.Sprintf("w%d-%d", w, i)}, nil)
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	var seen []api.Change
	for ch, err := range c.Watch(ctx, "", client.ChangesOptions{Limit: writers * each, Heartbeat: 50 * time.Millisecond}) {
		require.NoError(t, err)
		seen = append(seen, ch)
	}
	wg.Wait()
	require.GreaterOrEqual(t, cut.cuts.Load(), int64(writers*each/3-1), "the connection was cut again and again")

	all, err := c.Changes(ctx, "", client.ChangesOptions{})
	require.NoError(t, err)
	require.Len(t, all.Results, writers*each)
	require.Equal(t, all.Results, seen, "every change once, in order")

	// A Watch from now sees only later writes; cancelling ends it with
	// the context's error.
	require.Eventually(t, func() bool { return e.srv.openFeeds.Load() == 0 }, 10*time.Second, time.Millisecond, "the first Watch's feed ended")
	wctx, wcancel := context.WithCancel(ctx)
	var later []string
	var endErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ch, err := range c.Watch(wctx, "col0", client.ChangesOptions{SinceNow: true, Heartbeat: 50 * time.Millisecond}) {
			if err != nil {
				endErr = err
				return
			}
			later = append(later, ch.ID)
			if len(later) == 4 {
				wcancel()
			}
		}
	}()
	require.Eventually(t, func() bool { return e.srv.openFeeds.Load() == 1 }, 10*time.Second, time.Millisecond, "the Watch is open")
	for i := range 4 {
		_, err := c.Insert(ctx, "col0", map[string]any{"_id": fmt.Sprintf("later%d", i)}, nil)
		require.NoError(t, err)
		time.Sleep(5 * time.Millisecond)
	}
	<-done
	require.Equal(t, []string{"later0", "later1", "later2", "later3"}, later)
	require.True(t, errors.Is(endErr, context.Canceled), "ends with ctx's error: %v", endErr)
}

// TestClientWatchHistoryLost: a Watch whose since is no longer retained
// ends with history_lost, not retrying.
func TestClientWatchHistoryLost(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e2 := newEnv(t, envOptions{docstore: &docstore.Options{ChangesRetentionRecords: 2}})
	c := client.New(e2.url)
	for i := range 6 {
		_, err := c.Insert(ctx, "products", map[string]any{"_id": fmt.Sprintf("p%d", i)}, nil)
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool {
		_, err := c.Changes(ctx, "", client.ChangesOptions{})
		return err != nil
	}, 10*time.Second, 5*time.Millisecond)
	n := 0
	for _, err := range c.Watch(ctx, "", client.ChangesOptions{}) {
		n++
		var ce *client.Error
		require.ErrorAs(t, err, &ce)
		require.Equal(t, "history_lost", ce.Code)
		require.Equal(t, http.StatusGone, ce.Status)
	}
	require.Equal(t, 1, n)
}

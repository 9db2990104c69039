package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/minidbgo/minidbgo/httpd/client/api"
)

// ChangesOptions are a change-feed request's parameters (Changes, Watch).
type ChangesOptions struct {
	// Since: changes after this sequence number (0: from the start of
	// what the server retains).
	Since uint64
	// SinceNow starts at the feed's current end instead of Since.
	SinceNow bool
	// Limit bounds the results: of the page (Changes; the server caps a
	// page at its MAX_PAGE), or in all (Watch). 0: no limit of its own.
	Limit int
	// Longpoll makes Changes wait up to Timeout (the server's default,
	// 60 s, when 0) for a first change when there is none after Since.
	Longpoll bool
	Timeout  time.Duration
	// IncludeDocs asks for each change's current document (Change.Doc,
	// JSON null when it no longer exists).
	IncludeDocs bool
	// Selector, when set, keeps only the changes whose current document
	// matches this filter (any value that encodes to a filter object).
	Selector any
	// Heartbeat is how often a Watch stream sends a heartbeat when idle
	// (default 30 s); a stream silent for twice that is reconnected.
	Heartbeat time.Duration
}

// query returns the options' query parameters.
func (o *ChangesOptions) query(feed string) url.Values {
	q := url.Values{}
	if o.SinceNow {
		q.Set("since", "now")
	} else {
		q.Set("since", strconv.FormatUint(o.Since, 10))
	}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	if feed != "" {
		q.Set("feed", feed)
	}
	if o.Timeout > 0 {
		q.Set("timeout", strconv.FormatInt(max(o.Timeout.Milliseconds(), 1), 10))
	}
	if o.IncludeDocs {
		q.Set("include_docs", "true")
	}
	return q
}

// request returns the method and body of a feed request.
func (o *ChangesOptions) request() (method string, body any, err error) {
	if o.Selector == nil {
		return http.MethodGet, nil, nil
	}
	sel, err := rawJSON(o.Selector)
	if err != nil {
		return "", nil, err
	}
	return http.MethodPost, api.ChangesRequest{Selector: sel}, nil
}

// changesPath returns /api/_changes (col "") or /api/{col}/_changes.
func changesPath(col string) string {
	if col == "" {
		return "/api/_changes"
	}
	return colPath(col, "_changes")
}

// Changes calls GET /api/{col}/_changes (col "" for every collection),
// or POST with opts.Selector: one page of the change feed after
// opts.Since. Pass the answer's LastSeq as the next Since. A Since older
// than what the server retains is a *Error with Code "history_lost"
// (410).
func (c *Client) Changes(ctx context.Context, col string, opts ChangesOptions) (api.Changes, error) {
	var out api.Changes
	method, body, err := opts.request()
	if err != nil {
		return out, err
	}
	feed := ""
	if opts.Longpoll {
		feed = "longpoll"
	}
	_, err = c.call(ctx, method, changesPath(col), opts.query(feed), body, &out, nil)
	return out, err
}

// Watch follows the change feed of col ("" for every collection) from
// opts.Since (or the feed's current end, with opts.SinceNow) over a
// continuous stream, yielding each change once, in order. When the
// connection drops, or falls silent for twice the heartbeat, Watch
// reconnects after a backoff (100 ms doubling to 5 s) and resumes after
// the last change it yielded: nothing is skipped or repeated. It ends
// when the consumer stops, after opts.Limit changes, or by yielding an
// error that retrying cannot cure: ctx's error when ctx ends, a 4xx such
// as an invalid selector, or "history_lost" (410) when the server no
// longer retains the changes after the last one seen.
//
//	for ch, err := range c.Watch(ctx, "orders", client.ChangesOptions{SinceNow: true}) {
//		if err != nil { return err }
//		fmt.Println(ch.Seq, ch.Op, ch.ID)
//	}
func (c *Client) Watch(ctx context.Context, col string, opts ChangesOptions) iter.Seq2[api.Change, error] {
	return func(yield func(api.Change, error) bool) {
		method, body, err := opts.request()
		if err != nil {
			yield(api.Change{}, err)
			return
		}
		hb := opts.Heartbeat
		if hb <= 0 {
			hb = 30 * time.Second
		}
		since := opts.Since
		if opts.SinceNow {
			// Resolve "now" once, so that a reconnection resumes where
			// the first connection began.
			for backoff := time.Duration(0); ; {
				page, err := c.Changes(ctx, col, ChangesOptions{SinceNow: true, Limit: 1})
				if err == nil {
					since = page.LastSeq
					break
				}
				if !transient(ctx, err) {
					yield(api.Change{}, err)
					return
				}
				if backoff = nextBackoff(backoff); !sleep(ctx, backoff) {
					yield(api.Change{}, ctx.Err())
					return
				}
			}
		}
		left := opts.Limit
		var backoff time.Duration
		for {
			q := opts.query("continuous")
			q.Set("since", strconv.FormatUint(since, 10))
			q.Set("heartbeat", strconv.FormatInt(max(hb.Milliseconds(), 1), 10))
			if opts.Limit > 0 {
				q.Set("limit", strconv.Itoa(left))
			}
			q.Del("timeout")
			n, stop, err := c.watchOnce(ctx, method, changesPath(col), q, body, 2*hb+5*time.Second, func(ch api.Change) bool {
				since = ch.Seq
				left--
				return yield(ch, nil)
			})
			if stop {
				return
			}
			if opts.Limit > 0 && left <= 0 {
				return
			}
			if n > 0 {
				backoff = 0 // the connection worked: reconnect at once
			}
			if err != nil && !transient(ctx, err) {
				yield(api.Change{}, err)
				return
			}
			if n == 0 || err != nil {
				backoff = nextBackoff(backoff)
			}
			if !sleep(ctx, backoff) {
				yield(api.Change{}, ctx.Err())
				return
			}
		}
	}
}

// watchOnce reads one continuous stream, calling emit with each change.
// It returns how many changes it emitted, whether the consumer stopped,
// and why the stream ended (nil: the server ended it).
func (c *Client) watchOnce(ctx context.Context, method, path string, q url.Values, body any, idle time.Duration, emit func(api.Change) bool) (n int, stop bool, err error) {
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// A stream silent for longer than idle (no change, no heartbeat) is
	// a dead connection: cancel it, and reconnect.
	var mu sync.Mutex
	silent := false
	timer := time.AfterFunc(idle, func() {
		mu.Lock()
		silent = true
		mu.Unlock()
		cancel()
	})
	defer timer.Stop()
	resp, err := c.do(cctx, method, path, q, body, "application/json", nil)
	if err != nil {
		return 0, false, err
	}
	defer resp.Body.Close()
	rd := bufio.NewReaderSize(resp.Body, 64<<10)
	for {
		line, err := rd.ReadBytes('\n')
		timer.Reset(idle)
		if len(bytes.TrimSpace(line)) > 0 {
			if err != nil {
				// A last line without its newline: the stream was cut.
				return n, false, fmt.Errorf("minidbgo: change feed cut mid-line: %w", errOr(err, io.ErrUnexpectedEOF))
			}
			var ch api.Change
			if jerr := json.Unmarshal(line, &ch); jerr != nil {
				return n, false, fmt.Errorf("minidbgo: change feed line: %w", jerr)
			}
			if ch.Seq == 0 {
				// An error the server sent in mid-stream.
				var ae api.Error
				if json.Unmarshal(line, &ae) == nil && ae.Code != "" {
					return n, false, &Error{Status: ae.Status, Code: ae.Code, Message: ae.Error, RequestID: ae.RequestID, Index: -1}
				}
				return n, false, fmt.Errorf("minidbgo: change feed line without seq: %.200s", line)
			}
			n++
			if !emit(ch) {
				return n, true, nil
			}
		}
		if err != nil {
			mu.Lock()
			s := silent
			mu.Unlock()
			switch {
			case err == io.EOF:
				return n, false, nil
			case s && ctx.Err() == nil:
				return n, false, fmt.Errorf("minidbgo: change feed silent for %s: reconnecting", idle)
			}
			return n, false, err
		}
	}
}

func errOr(err, def error) error {
	if err == io.EOF {
		return def
	}
	return err
}

// transient reports whether a failed feed request is worth retrying: a
// network error, a 5xx, 408 or 429 — not a 4xx the request caused, not
// history_lost, not ctx's end.
func transient(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Status >= 500 || e.Status == http.StatusRequestTimeout || e.Status == http.StatusTooManyRequests
	}
	return true
}

// nextBackoff doubles a reconnection backoff, from 100 ms to 5 s.
func nextBackoff(d time.Duration) time.Duration {
	if d <= 0 {
		return 100 * time.Millisecond
	}
	return min(2*d, 5*time.Second)
}

// sleep waits d or until ctx ends; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

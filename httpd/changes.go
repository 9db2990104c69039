package httpd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/minidbgo/minidbgo/docstore"
	"github.com/minidbgo/minidbgo/httpd/client/api"
)

// Change feeds: GET|POST /api/_changes and /api/{col}/_changes
// (docs/changes.md).
//
// A feed reads the docstore's change records (docstore.Changes) one page
// at a time. A waiting feed (longpoll, continuous, eventsource) blocks in
// docstore.WaitChange, which wakes every waiter on each commit through one
// shared broadcast channel, and then reads from storage itself: a waiting
// feed holds no buffer, no snapshot and no concurrency slot, only its
// goroutine and connection — and one of Config.MaxFeeds. It takes one of
// the MaxConcurrent slots while it reads and sends a page.
//
// Feeds are exempt from RequestTimeout and from the minimum transfer rate
// (they are meant to stay open and move little). A stalled client is
// still cut off: each write must finish within WriteTimeout, and a
// streaming feed writes at least a heartbeat every heartbeat interval.
// Feeds end when their client disconnects and when the server shuts down
// (BeginShutdown, Close): a longpoll then answers what it has.

const (
	// codeTooManyFeeds: Config.MaxFeeds feeds are open (503).
	codeTooManyFeeds = "too_many_feeds"
	// defaultHeartbeat is a streaming feed's heartbeat interval when the
	// request names none (CouchDB's).
	defaultHeartbeat = 60 * time.Second
	// minHeartbeat is the shortest heartbeat interval: a smaller one is
	// raised to it.
	minHeartbeat = 10 * time.Millisecond
	// defaultLongpollTimeout is how long a longpoll waits for a change
	// when the request names no timeout (CouchDB's).
	defaultLongpollTimeout = 60 * time.Second
	// headerNoCompression keeps the compression middleware (gzhttp) off a
	// stream, which it would otherwise buffer until CompressMinBytes.
	headerNoCompression = "No-Gzip-Compression"
)

// feedKind is a request's feed parameter.
type feedKind int

const (
	feedNormal feedKind = iota
	feedLongpoll
	feedContinuous
	feedEventSource
)

// feedParams is a parsed change-feed request.
type feedParams struct {
	col         string // "" for every collection
	kind        feedKind
	since       uint64
	limit       int           // results in all; 0: a page (normal, longpoll) or no end (streams)
	heartbeat   time.Duration // streams
	timeout     time.Duration // longpoll: the wait; streams: the idle time before the feed ends (0: none)
	includeDocs bool
	sel         *docstore.Selector
}

// changes serves GET|POST /api/_changes and /api/{col}/_changes.
func (s *Server) changes(w http.ResponseWriter, r *http.Request) {
	p, err := s.feedParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if p.kind != feedNormal {
		if n := s.openFeeds.Add(1); n > int64(s.cfg.MaxFeeds) {
			s.openFeeds.Add(-1)
			s.writeError(w, r, reqErr(codeTooManyFeeds, fmt.Sprintf(
				"too many open change feeds (limit %d, MAX_FEEDS); retry shortly", s.cfg.MaxFeeds)))
			return
		}
	}
	detached := false
	defer func() { // also when a write panics (an aborted connection)
		if p.kind != feedNormal && !detached {
			s.openFeeds.Add(-1)
		}
	}()
	// The feed's context ends with the request (the client went away)
	// and with the server's shutdown.
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	defer context.AfterFunc(s.feedCtx, cancel)()
	// The http.Server's read deadline, reached, would end the request's
	// background read and so cancel its context: the body is read
	// already, and a feed outlives ReadTimeout.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	switch p.kind {
	case feedNormal, feedLongpoll:
		s.pollFeed(ctx, w, r, rc, p)
	default:
		detached = s.streamFeed(ctx, w, r, rc, p)
	}
}

// feedParams parses a change-feed request's parameters and selector.
func (s *Server) feedParams(r *http.Request) (*feedParams, error) {
	p := &feedParams{}
	if chi.URLParam(r, "col") != "" {
		col, err := colParam(r)
		if err != nil {
			return nil, err
		}
		p.col = col
	}
	q := r.URL.Query()
	switch f := q.Get("feed"); f {
	case "", "normal":
		p.kind = feedNormal
	case "longpoll":
		p.kind = feedLongpoll
	case "continuous":
		p.kind = feedContinuous
	case "eventsource":
		p.kind = feedEventSource
	default:
		return nil, reqErr(codeBadParameter, fmt.Sprintf("query parameter feed=%q must be normal, longpoll, continuous or eventsource", truncate(f, 64)))
	}
	if r.Method == http.MethodHead {
		p.kind = feedNormal // a stream has no end to measure
	}
	since := q.Get("since")
	sinceName := "query parameter since"
	if id := r.Header.Get("Last-Event-ID"); id != "" && p.kind == feedEventSource {
		since, sinceName = id, "header Last-Event-ID"
	}
	switch since {
	case "":
	case "now":
		p.since = s.db.FeedSeq()
	default:
		n, err := strconv.ParseUint(since, 10, 64)
		if err != nil {
			return nil, reqErr(codeBadParameter, fmt.Sprintf("%s=%q must be a non-negative integer or now", sinceName, truncate(since, 64)))
		}
		p.since = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return nil, reqErr(codeBadParameter, fmt.Sprintf("query parameter limit=%q must be a positive integer", truncate(v, 64)))
		}
		p.limit = int(min(n, 1<<31))
	}
	p.heartbeat = defaultHeartbeat
	if v := q.Get("heartbeat"); v != "" && v != "true" {
		d, err := msParam("heartbeat", v)
		if err != nil {
			return nil, err
		}
		if d == 0 {
			return nil, reqErr(codeBadParameter, fmt.Sprintf("query parameter heartbeat=%q must be a positive number of milliseconds", v))
		}
		p.heartbeat = max(d, minHeartbeat)
	}
	if p.kind == feedLongpoll {
		p.timeout = defaultLongpollTimeout
	}
	if v := q.Get("timeout"); v != "" {
		d, err := msParam("timeout", v)
		if err != nil {
			return nil, err
		}
		p.timeout = d
	}
	switch v := q.Get("include_docs"); v {
	case "", "false":
	case "true":
		p.includeDocs = true
	default:
		return nil, reqErr(codeBadParameter, fmt.Sprintf("query parameter include_docs=%q must be true or false", truncate(v, 64)))
	}
	if r.Method == http.MethodPost {
		body, err := readBody(r)
		if err != nil {
			return nil, err
		}
		var req api.ChangesRequest
		if err := decodeControl(body, &req, true); err != nil {
			return nil, err
		}
		if req.Selector != nil {
			if p.sel, err = s.db.CompileSelector(req.Selector); err != nil {
				return nil, err
			}
		}
	}
	return p, nil
}

// msParam parses a duration in milliseconds (a non-negative integer, at
// most a day).
func msParam(name, v string) (time.Duration, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || n > 86_400_000 {
		return 0, reqErr(codeBadParameter, fmt.Sprintf("query parameter %s=%q must be a number of milliseconds from 0 to 86400000", name, truncate(v, 64)))
	}
	return time.Duration(n) * time.Millisecond, nil
}

// feedSlot takes one of the MaxConcurrent slots for reading and sending
// a page: at once or not at all (503 overloaded) for a request's first
// page, waiting for one (until ctx ends) for the pages of a feed already
// answering.
func (s *Server) feedSlot(ctx context.Context, wait bool) error {
	select {
	case s.tokens <- struct{}{}:
		return nil
	default:
	}
	if !wait {
		s.metrics.rejectedBusy.Add(1)
		return reqErr(codeOverloaded, fmt.Sprintf("too many concurrent requests (limit %d); retry shortly", s.cfg.MaxConcurrent))
	}
	select {
	case s.tokens <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// releaseFeedSlot gives back a slot feedSlot took.
func (s *Server) releaseFeedSlot() { <-s.tokens }

// readPage takes a slot (feedSlot; an error taking it is slotErr), reads
// a page with scanFeed, and gives the slot back, also when emit panics
// (a connection aborted in mid-write).
func (s *Server) readPage(ctx context.Context, wait bool, p *feedParams, since uint64, n int, emit func(api.Change) bool) (next, oldest uint64, end bool, err, slotErr error) {
	if slotErr = s.feedSlot(ctx, wait); slotErr != nil {
		return since, 0, false, nil, slotErr
	}
	defer s.releaseFeedSlot()
	next, oldest, end, err = s.scanFeed(ctx, p, since, n, emit)
	return next, oldest, end, err, nil
}

// feedPageSize is the most change records one read takes.
func (s *Server) feedPageSize() int { return max(s.db.Limits().MaxLimit, 1) }

// scanFeed reads up to n change records after since and calls emit with
// each that the request's selector keeps (with its document under
// include_docs), in order; emit returns false to end the page before
// that change. It returns the seq to continue from, the oldest seq
// retained, and whether the read reached the feed's end (then a waiter
// waits for a seq past next).
func (s *Server) scanFeed(ctx context.Context, p *feedParams, since uint64, n int, emit func(api.Change) bool) (next, oldest uint64, end bool, err error) {
	page, err := s.db.Changes(ctx, docstore.ChangesOptions{Collection: p.col, Since: since, Limit: n})
	if err != nil {
		return since, 0, false, err
	}
	next = since
	for _, c := range page.Changes {
		res := api.Change{Seq: c.Seq, Collection: c.Collection, ID: c.ID, Op: string(c.Op), Rev: c.Rev}
		if p.includeDocs || p.sel != nil {
			var doc []byte
			if c.ID != "" {
				d, err := s.db.Get(ctx, c.Collection, c.ID)
				switch {
				case err == nil:
					doc = d.JSON
				case !errors.Is(err, docstore.ErrNotFound) && !errors.Is(err, docstore.ErrInvalidName):
					return next, page.OldestSeq, false, err
				}
			}
			if p.sel != nil {
				if doc == nil {
					next = c.Seq
					continue
				}
				ok, err := p.sel.Match(doc)
				if err != nil {
					return next, page.OldestSeq, false, err
				}
				if !ok {
					next = c.Seq
					continue
				}
			}
			if p.includeDocs {
				res.Doc = doc
				if doc == nil {
					res.Doc = json.RawMessage("null")
				}
			}
		}
		if !emit(res) {
			return next, page.OldestSeq, false, nil
		}
		next = c.Seq
	}
	return max(next, page.LastSeq), page.OldestSeq, len(page.Changes) < n, nil
}

// pollFeed answers a normal or longpoll feed with one JSON page. A
// longpoll whose page is empty waits (holding no slot) for a change or
// its timeout; the shutdown answers it at once.
func (s *Server) pollFeed(ctx context.Context, w http.ResponseWriter, r *http.Request, rc *http.ResponseController, p *feedParams) {
	n := s.feedPageSize()
	if p.limit > 0 {
		n = min(n, p.limit)
	}
	var deadline time.Time
	if p.kind == feedLongpoll {
		deadline = time.Now().Add(p.timeout)
	}
	var (
		buf   bytes.Buffer
		page  pageMemory
		count int
		since = p.since
		first = true
	)
	defer page.release(s.mem)
	for {
		buf.Reset()
		var memErr error
		next, oldest, end, err, slotErr := s.readPage(ctx, !first, p, since, n, func(c api.Change) bool {
			b, err := json.Marshal(c)
			if err != nil {
				memErr = err
				return false
			}
			if !page.reserve(s.mem, buf.Len()+len(b)+64) {
				if count == 0 {
					memErr = s.mem.overloaded("a page of changes")
				}
				return false
			}
			if count > 0 {
				buf.WriteByte(',')
			}
			buf.Write(b)
			count++
			return true
		})
		if slotErr != nil {
			if first || r.Context().Err() != nil {
				s.writeError(w, r, slotErr)
				return
			}
			break // shutting down: answer what we have
		}
		first = false
		if err == nil {
			err = memErr
		}
		if err != nil {
			if s.feedCtx.Err() != nil && r.Context().Err() == nil && count == 0 {
				break // shutting down: answer the empty page
			}
			s.writeError(w, r, err)
			return
		}
		since = next
		if count > 0 || p.kind == feedNormal {
			s.answerPage(w, rc, buf.Bytes(), since, oldest)
			return
		}
		if !end {
			continue // a selector skipped the whole page: read on
		}
		wait := time.Until(deadline)
		if wait <= 0 {
			break
		}
		wctx, cancel := context.WithTimeout(ctx, wait)
		err = s.db.WaitChange(wctx, since)
		cancel()
		if r.Context().Err() != nil {
			return // the client went away
		}
		if err != nil && ctx.Err() != nil {
			break // shutting down
		}
	}
	s.answerPage(w, rc, nil, since, s.oldestSeq(r.Context()))
}

// oldestSeq returns the feed's oldest retained seq for an empty answer.
func (s *Server) oldestSeq(ctx context.Context) uint64 {
	page, err := s.db.Changes(ctx, docstore.ChangesOptions{Since: s.db.FeedSeq(), Limit: 1})
	if err != nil {
		return 0
	}
	return page.OldestSeq
}

// answerPage writes a normal or longpoll answer: results (the results'
// JSON objects, comma-separated), last_seq and oldest_seq.
func (s *Server) answerPage(w http.ResponseWriter, rc *http.ResponseController, results []byte, last, oldest uint64) {
	b := make([]byte, 0, len(results)+80)
	b = append(b, `{"results":[`...)
	b = append(b, results...)
	b = append(b, `],"last_seq":`...)
	b = strconv.AppendUint(b, last, 10)
	b = append(b, `,"oldest_seq":`...)
	b = strconv.AppendUint(b, oldest, 10)
	b = append(b, "}\n"...)
	// A longpoll may have waited past the http.Server's write deadline.
	_ = rc.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
	writeRaw(w, http.StatusOK, b)
}

// feedWriter writes a streaming feed: NDJSON (continuous) or Server-Sent
// Events (eventsource). Each write must finish within WriteTimeout.
type feedWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	sse     bool
	stall   time.Duration
	started bool
	last    time.Time // the last write
	buf     []byte
	// conn, once the stream is detached (streamState.detach), is its
	// connection: writes are chunks of the chunked encoding, written
	// directly; cancel ends the detached stream's context.
	conn   net.Conn
	cancel context.CancelFunc
	chunk  []byte
}

// start sends the response's header.
func (fw *feedWriter) start() {
	if fw.started {
		return
	}
	fw.started = true
	h := fw.w.Header()
	if fw.sse {
		h.Set("Content-Type", "text/event-stream")
	} else {
		h.Set("Content-Type", "application/x-ndjson")
	}
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	h.Set(headerNoCompression, "1")
	fw.w.WriteHeader(http.StatusOK)
}

func (fw *feedWriter) write(b []byte) error {
	fw.start()
	fw.last = time.Now()
	if fw.conn != nil {
		c := strconv.AppendInt(fw.chunk[:0], int64(len(b)), 16)
		c = append(append(append(c, "\r\n"...), b...), "\r\n"...)
		fw.chunk = c[:0]
		_ = fw.conn.SetWriteDeadline(fw.last.Add(fw.stall))
		_, err := fw.conn.Write(c)
		return err
	}
	_ = fw.rc.SetWriteDeadline(fw.last.Add(fw.stall))
	_, err := fw.w.Write(b)
	return err
}

// change writes one result.
func (fw *feedWriter) change(c api.Change) error {
	js, err := json.Marshal(c)
	if err != nil {
		return err
	}
	b := fw.buf[:0]
	if fw.sse {
		b = append(b, "id: "...)
		b = strconv.AppendUint(b, c.Seq, 10)
		b = append(b, "\ndata: "...)
		b = append(b, js...)
		b = append(b, "\n\n"...)
	} else {
		b = append(append(b, js...), '\n')
	}
	fw.buf = b[:0]
	return fw.write(b)
}

// heartbeat writes a heartbeat (an empty line, or an SSE comment) and
// flushes.
func (fw *feedWriter) heartbeat() error {
	hb := []byte("\n")
	if fw.sse {
		hb = []byte(": \n\n")
	}
	if err := fw.write(hb); err != nil {
		return err
	}
	return fw.flush()
}

func (fw *feedWriter) flush() error {
	if fw.conn != nil {
		return nil // detached writes are not buffered
	}
	fw.start()
	_ = fw.rc.SetWriteDeadline(time.Now().Add(fw.stall))
	return fw.rc.Flush()
}

// fail ends a stream already under way with an error: an NDJSON line
// holding the error body, or an SSE "error" event.
func (fw *feedWriter) fail(body api.Error) {
	js, _ := json.Marshal(body)
	var b []byte
	if fw.sse {
		b = append(append(append(b, "event: error\ndata: "...), js...), "\n\n"...)
	} else {
		b = append(js, '\n')
	}
	if fw.write(b) == nil {
		_ = fw.flush()
	}
}

// streamFeed serves a continuous or eventsource feed: every change after
// since as it is committed, a heartbeat at once when there was none to
// send and after each heartbeat interval without a write, until the
// limit, the idle timeout, the client's disconnection or the server's
// shutdown. Once caught up, an HTTP/1.1 stream is detached from net/http
// (streamState.detach): it then reports true, and a goroutine of its own serves the
// rest, which ends the feed (openFeeds) when it is done.
func (s *Server) streamFeed(ctx context.Context, w http.ResponseWriter, r *http.Request, rc *http.ResponseController, p *feedParams) bool {
	st := &streamState{s: s, p: p, w: w, r: r, since: p.since, first: true, idle: time.Now(),
		fw: &feedWriter{w: w, rc: rc, sse: p.kind == feedEventSource, stall: s.cfg.WriteTimeout}}
	for {
		if !st.catchUp(ctx) {
			return false
		}
		if st.canDetach() {
			if dctx, ok := st.detach(); ok {
				s.feedWG.Go(func() {
					defer s.openFeeds.Add(-1)
					st.serveDetached(dctx)
				})
				return true
			}
		}
		if !st.wait(ctx) {
			return false
		}
	}
}

// streamState is the state of a continuous or eventsource feed.
type streamState struct {
	s     *Server
	p     *feedParams
	fw    *feedWriter
	w     http.ResponseWriter
	r     *http.Request
	since uint64
	sent  int
	first bool
	idle  time.Time // since the last change sent
	// tried is set once detach was attempted.
	tried bool
}

// catchUp sends every change after since, a page at a time; it reports
// false when the feed is over (limit, error, client gone).
func (st *streamState) catchUp(ctx context.Context) bool {
	s, p, fw := st.s, st.p, st.fw
	for {
		n := s.feedPageSize()
		if p.limit > 0 {
			n = min(n, p.limit-st.sent)
		}
		var werr error
		before := st.sent
		next, _, end, err, slotErr := s.readPage(ctx, !st.first, p, st.since, n, func(c api.Change) bool {
			if werr = fw.change(c); werr != nil {
				return false
			}
			st.sent++
			return true
		})
		if slotErr != nil {
			if st.first {
				s.writeError(st.w, st.r, slotErr)
			}
			return false
		}
		if werr != nil {
			return false // the client went away
		}
		if err != nil {
			if ctx.Err() != nil {
				return false
			}
			if !fw.started {
				s.writeError(st.w, st.r, err)
				return false
			}
			body, logMsg := answer(st.r, err)
			body.RequestID = requestID(st.r.Context())
			if logMsg != "" {
				s.logger.Error(logMsg, "request_id", body.RequestID, "error", err.Error())
			}
			fw.fail(body)
			return false
		}
		if st.first {
			st.first = false
			// The header, and a heartbeat when no change was sent:
			// the client sees that the feed is open (a compressing
			// middleware sends nothing on a flush of nothing).
			err := fw.flush()
			if fw.last.IsZero() {
				err = fw.heartbeat()
			}
			if err != nil {
				return false
			}
		}
		st.since = next
		if st.sent > before {
			st.idle = time.Now()
		}
		if p.limit > 0 && st.sent >= p.limit {
			_ = fw.flush()
			return false
		}
		if end {
			return fw.flush() == nil
		}
	}
}

// wait waits for a commit after since, writing heartbeats meanwhile; it
// reports false when the feed is over (idle timeout, client gone,
// shutdown).
func (st *streamState) wait(ctx context.Context) bool {
	p, fw := st.p, st.fw
	for {
		wait := p.heartbeat - time.Since(fw.last)
		if wait <= 0 {
			if fw.heartbeat() != nil {
				return false
			}
			wait = p.heartbeat
		}
		if p.timeout > 0 {
			left := p.timeout - time.Since(st.idle)
			if left <= 0 {
				return false
			}
			wait = min(wait, left)
		}
		wctx, cancel := context.WithTimeout(ctx, wait)
		err := st.s.db.WaitChange(wctx, st.since)
		cancel()
		if ctx.Err() != nil {
			return false // the client went away, or the server is shutting down
		}
		if err == nil {
			return true
		}
	}
}

// Detached streams. An open request costs net/http about 30 KB: the
// connection's read and write buffers and the serving goroutine's stack,
// which the middleware chain makes deep. A caught-up HTTP/1.1 stream is
// therefore taken over (Hijack) and served by a goroutine of its own that
// writes the chunked encoding itself, with a second, tiny goroutine
// reading the connection to notice the client's disconnection: an idle
// subscriber then costs a few KB (TestChangesIdleSubscribersRSS). The
// access log records the stream when it is detached; the shutdown ends
// detached streams through feedCtx, and Close waits for them (feedWG).

// canDetach reports whether the stream may be detached: once, on
// HTTP/1.1 (chunked), with the header sent.
func (st *streamState) canDetach() bool {
	if st.tried || !st.fw.started || st.r.ProtoMajor != 1 || st.r.ProtoMinor != 1 {
		return false
	}
	st.tried = true
	return true
}

// detach hijacks the connection; it returns the detached stream's
// context (which ends on disconnection and on shutdown) and whether the
// connection was taken over.
func (st *streamState) detach() (context.Context, bool) {
	conn, brw, err := st.fw.rc.Hijack()
	if err != nil {
		return nil, false // HTTP/2, or a writer that cannot: stay in the handler
	}
	if err := brw.Writer.Flush(); err != nil {
		conn.Close()
		return nil, false
	}
	// The request's context ends when the handler returns: a context of
	// the stream's own, ended by the shutdown and by the disconnection.
	ctx, cancel := context.WithCancel(context.WithoutCancel(st.r.Context()))
	stop := context.AfterFunc(st.s.feedCtx, cancel)
	go func() {
		var b [1]byte
		_, _ = conn.Read(b[:]) // the client sends nothing more: EOF is its disconnection
		cancel()
	}()
	_ = conn.SetReadDeadline(time.Time{})
	st.fw.conn = conn
	st.fw.cancel = func() {
		stop()
		cancel()
	}
	return ctx, true
}

// serveDetached serves a detached stream until it ends, then ends the
// chunked response and closes the connection.
func (st *streamState) serveDetached(ctx context.Context) {
	defer func() {
		if rec := recover(); rec != nil {
			st.s.logger.Error("panic", "request_id", requestID(st.r.Context()), "panic", fmt.Sprint(rec), "stack", string(debug.Stack()))
			_ = st.fw.conn.Close() // cut: no terminating chunk
			st.fw.cancel()
			return
		}
		st.fw.cancel()
		_ = st.fw.conn.SetWriteDeadline(time.Now().Add(st.fw.stall))
		_, _ = st.fw.conn.Write([]byte("0\r\n\r\n"))
		_ = st.fw.conn.Close()
	}()
	for st.wait(ctx) && st.catchUp(ctx) {
	}
}

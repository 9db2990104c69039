package httpd

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/minidbgo/minidbgo/docstore"
)

// Admission: what one request may take from the server.
//
// Memory. Request bodies, the buffers of unindexed sorts and the pages of
// query results are counted against one budget, Config.MaxInflightBytes
// (MAX_INFLIGHT_MB). A body
// with a Content-Length reserves it before a byte is read; a chunked body
// reserves as it arrives, in steps of bodyReserveStep. A body that does
// not fit is answered 503 overloaded with Retry-After, before it is read
// when its length is declared (the connection is then closed, so that
// the unread body is not drained). A sort reserves as its buffer grows
// and may hold at most Config.MaxSortBytes: beyond that it answers 400
// sort_too_large; when the shared budget runs out it answers 503. A page
// of _find/_search results reserves as it grows; when the budget has no
// room for its next document the page ends before it, with a cursor that
// continues with it (503 when not even its first document fits). The
// streaming uploads (restoreDB, _import) hold a batch of at most 1 MiB
// plus one document (docstore's streamBatchBytes) and reserve
// MaxBodyBytes for their whole run.
//
// Slow clients. A request body is read before the request takes one of
// the MaxConcurrent slots, so clients that send slowly do not hold the
// slots. Every transfer — a request body, an upload stream, a download
// stream (dumpDB, _export) — must move at least Config.MinTransferRate
// bytes per second, measured over windows of Config.TransferWindow of
// time spent waiting on the client (inside reads and writes, never the
// server's own work between them): a window that ends short of
// MinTransferRate × TransferWindow bytes ends the transfer (408 client_too_slow for a body; a cut response, which
// releases the snapshot it reads, for a download). A single read or write
// is also bounded by ReadTimeout/WriteTimeout, and a buffered body by
// ReadTimeout in total.

const (
	// codeClientTooSlow is a request body that arrived slower than the
	// minimum transfer rate (408).
	codeClientTooSlow = "client_too_slow"
	// bodyReserveStep is how much more of the budget a chunked body
	// reserves each time it outgrows its reservation.
	bodyReserveStep = 64 << 10
)

// admissionDefaults fills in the admission limits of a Config whose
// MaxBodyBytes, ReadTimeout and WriteTimeout are set.
//
// The default MaxInflightBytes is an eighth of the Go memory limit
// (GOMEMLIMIT, debug.SetMemoryLimit) when one is set, else 128 MiB, and
// never less than MaxBodyBytes (so that a body of the maximum size can be
// admitted). An eighth, because an admitted body costs about five times
// its bytes at its peak (the body, the parsed document, the encoded
// record, the WAL and the memtable's copies: 100 concurrent 10 MB POSTs
// peak at 149-199 MB RSS with 25 MiB admitted at once, 300 MB with 50 MiB),
// and the memtables and block cache need the rest. The default
// MaxSortBytes is half of MaxInflightBytes.
func (c Config) admissionDefaults() Config {
	if c.MaxInflightBytes <= 0 {
		c.MaxInflightBytes = 128 << 20
		if lim := debug.SetMemoryLimit(-1); lim > 0 && lim < math.MaxInt64 {
			c.MaxInflightBytes = lim / 8
		}
		c.MaxInflightBytes = max(c.MaxInflightBytes, c.MaxBodyBytes)
	}
	if c.MaxSortBytes <= 0 {
		c.MaxSortBytes = max(c.MaxInflightBytes/2, 1<<20)
	}
	if c.MinTransferRate == 0 {
		c.MinTransferRate = 16 << 10
	}
	if c.TransferWindow <= 0 {
		c.TransferWindow = 10 * time.Second
	}
	return c
}

// memBudget is the in-flight memory budget shared by requests. Safe for
// concurrent use. It is a docstore.MemoryBudget.
type memBudget struct {
	limit int64
	used  atomic.Int64
	// rejected counts the requests answered 503 for want of memory.
	rejected atomic.Uint64
	// tooSlow counts transfers ended below the minimum rate.
	tooSlow atomic.Uint64
}

// tryAcquire reserves n bytes if they fit.
func (b *memBudget) tryAcquire(n int64) bool {
	for {
		u := b.used.Load()
		if u+n > b.limit {
			return false
		}
		if b.used.CompareAndSwap(u, u+n) {
			return true
		}
	}
}

// release returns n reserved bytes.
func (b *memBudget) release(n int64) {
	if n > 0 {
		b.used.Add(-n)
	}
}

// Reserve reserves n bytes for a query's sort, or returns the 503 error.
func (b *memBudget) Reserve(n int64) error {
	if b.tryAcquire(n) {
		return nil
	}
	return b.overloaded("sort buffers")
}

// Release returns n bytes a sort reserved.
func (b *memBudget) Release(n int64) { b.release(n) }

// overloaded counts a request refused for want of memory and returns
// its 503 error.
func (b *memBudget) overloaded(what string) error {
	b.rejected.Add(1)
	return reqErr(codeOverloaded, fmt.Sprintf(
		"the server's memory budget for request bodies and sorts (%d bytes, MAX_INFLIGHT_MB) is in use; no room for %s: retry shortly",
		b.limit, what))
}

// budgeted gives a query the server's sort limit and memory budget.
func (s *Server) budgeted(q docstore.Query) docstore.Query {
	q.MaxSortBytes, q.Memory = s.cfg.MaxSortBytes, s.mem
	return q
}

// pageMemory is the reservation of a query's response page.
type pageMemory struct{ held int64 }

// pageReserveStep is the least a page reserves at a time.
const pageReserveStep = 64 << 10

// reserve makes the reservation at least n bytes, reporting false when
// the budget has no room.
func (p *pageMemory) reserve(b *memBudget, n int) bool {
	need := int64(n) - p.held
	if need <= 0 {
		return true
	}
	need = max(need, pageReserveStep)
	if !b.tryAcquire(need) {
		return false
	}
	p.held += need
	return true
}

// release gives the reservation back.
func (p *pageMemory) release(b *memBudget) {
	b.release(p.held)
	p.held = 0
}

// bufferedBody is a request body the admission middleware has read.
// readBody takes its bytes without copying them.
type bufferedBody struct {
	b   []byte
	off int
}

// Read reads from the buffered bytes.
func (bb *bufferedBody) Read(p []byte) (int, error) {
	if bb.off >= len(bb.b) {
		return 0, io.EOF
	}
	n := copy(p, bb.b[bb.off:])
	bb.off += n
	return n, nil
}

// Close does nothing.
func (bb *bufferedBody) Close() error { return nil }

// admitBody reads a request's body within the memory budget and the
// minimum transfer rate, before the request takes a concurrency slot
// (throttle comes after it). It also enforces MaxBodyBytes (413).
func (s *Server) admitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > s.cfg.MaxBodyBytes {
			w.Header().Set("Connection", "close")
			s.writeError(w, r, &http.MaxBytesError{Limit: s.cfg.MaxBodyBytes})
			return
		}
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		var held int64
		defer func() { s.mem.release(held) }()
		if r.ContentLength > 0 {
			if !s.mem.tryAcquire(r.ContentLength) {
				w.Header().Set("Connection", "close")
				s.writeError(w, r, s.mem.overloaded(fmt.Sprintf("a %d-byte body", r.ContentLength)))
				return
			}
			held = r.ContentLength
		}
		body, err := s.readAdmitted(w, r, &held)
		if err != nil {
			w.Header().Set("Connection", "close")
			s.writeError(w, r, err)
			return
		}
		if st := stateOf(r.Context()); st != nil {
			st.body = bufferedBody{b: body}
			r.Body = &st.body
		} else {
			r.Body = &bufferedBody{b: body}
		}
		next.ServeHTTP(w, r)
	})
}

// readAdmitted reads r's body at the minimum rate, within MaxBodyBytes,
// reserving what a body of unknown length grows to in *held.
func (s *Server) readAdmitted(w http.ResponseWriter, r *http.Request, held *int64) ([]byte, error) {
	rc := http.NewResponseController(w)
	m := s.newMeter(s.cfg.ReadTimeout)
	m.limit = time.Now().Add(s.cfg.ReadTimeout)
	defer func() { _ = rc.SetReadDeadline(time.Time{}) }() // no stale deadline for the handler
	var (
		src io.Reader = r.Body
		buf []byte
	)
	if r.ContentLength > 0 {
		// A declared length was checked against MaxBodyBytes. One byte
		// more than it is room for the EOF the server's body reader
		// reports after it (or for a body that is longer).
		buf = make([]byte, 0, r.ContentLength+1)
	} else {
		src = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	}
	for {
		if len(buf) == cap(buf) {
			if r.ContentLength > 0 {
				return nil, reqErr(codeBadBody, "the request body is longer than its Content-Length")
			}
			// Grow by half (at least a step, at most to one byte past
			// the limit, which MaxBytesReader reports), reserving first.
			newCap := min(max(int64(cap(buf))*3/2, int64(cap(buf))+bodyReserveStep), s.cfg.MaxBodyBytes+1)
			if more := newCap - *held; more > 0 {
				if !s.mem.tryAcquire(more) {
					return nil, s.mem.overloaded("a chunked body of more than " + itoa(cap(buf)) + " bytes")
				}
				*held += more
			}
			nb := make([]byte, len(buf), newCap)
			copy(nb, buf)
			buf = nb
		}
		n, err := m.read(rc, src, buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, s.bodyErr(err)
		}
	}
}

// bodyErr turns an error reading a request body into the error answered.
func (s *Server) bodyErr(err error) error {
	var mb *http.MaxBytesError
	var re *requestError
	switch {
	case errors.As(err, &mb), errors.As(err, &re):
		return err
	}
	return reqErr(codeBadBody, "reading the request body: "+err.Error())
}

// streamAdmit admits a streaming route: an upload (restoreDB, _import)
// reserves MaxBodyBytes of the memory budget for its run (it holds a
// batch of at most 1 MiB and a document of up to that size), or is
// answered 503 before its body is read.
func (s *Server) streamAdmit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			n := s.cfg.MaxBodyBytes
			if !s.mem.tryAcquire(n) {
				w.Header().Set("Connection", "close")
				s.writeError(w, r, s.mem.overloaded("an upload stream"))
				return
			}
			defer s.mem.release(n)
		}
		next.ServeHTTP(w, r)
	})
}

// transferMeter enforces the minimum transfer rate on one direction of
// one connection. Only the time spent waiting on the peer — inside reads
// and writes — counts: a window is TransferWindow of that time, within
// which quota bytes must move, or the window's end is the transfer's
// deadline. Time the server spends between transfers (reading tables for
// a dump, storing an import's documents) is never held against the
// client. Not safe for concurrent use.
type transferMeter struct {
	quota  int64          // bytes due per window; 0: no minimum rate
	window time.Duration  // the window's length, in time waited
	rate   int64          // bytes per second, for messages
	slow   *atomic.Uint64 // counts the transfers ended too slow
	stall  time.Duration  // the bound on one read or write
	limit  time.Time      // no deadline past this (zero: none)
	waited time.Duration  // time waited in the current window
	moved  int64          // bytes moved in the current window
}

func (s *Server) newMeter(stall time.Duration) transferMeter {
	m := transferMeter{window: s.cfg.TransferWindow, stall: stall, slow: &s.mem.tooSlow}
	if s.cfg.MinTransferRate > 0 {
		m.rate = s.cfg.MinTransferRate
		m.quota = max(1, int64(float64(s.cfg.MinTransferRate)*s.cfg.TransferWindow.Seconds()))
	}
	return m
}

// deadline returns the deadline of a read or write starting at now.
func (m *transferMeter) deadline(now time.Time) time.Time {
	d := now.Add(m.stall)
	if m.quota > 0 && m.moved < m.quota {
		if end := now.Add(m.window - m.waited); end.Before(d) {
			d = end
		}
	}
	if !m.limit.IsZero() && m.limit.Before(d) {
		d = m.limit
	}
	return d
}

// record counts n bytes moved in a read or write that waited waited; it
// reports false when a window ended short of its quota.
func (m *transferMeter) record(n int, waited time.Duration) bool {
	m.moved += int64(n)
	m.waited += waited
	if m.quota > 0 && m.waited >= m.window {
		if m.moved < m.quota {
			return false
		}
		m.waited, m.moved = 0, 0
	}
	return true
}

// tooSlow is the 408 error of a transfer below the minimum rate.
func (m *transferMeter) tooSlow() error {
	if m.slow != nil {
		m.slow.Add(1)
	}
	if m.quota == 0 {
		return reqErr(codeClientTooSlow, fmt.Sprintf("the client sent or read nothing for %s", m.stall))
	}
	return reqErr(codeClientTooSlow, fmt.Sprintf(
		"the transfer was slower than the minimum of %d bytes/s over %s (MIN_TRANSFER_RATE), or stalled",
		m.rate, m.window))
}

// read reads from src under the meter's deadline; a deadline reached is
// the 408 error.
func (m *transferMeter) read(rc *http.ResponseController, src io.Reader, p []byte) (int, error) {
	start := time.Now()
	_ = rc.SetReadDeadline(m.deadline(start)) // writers without deadlines (tests) keep none
	n, err := src.Read(p)
	if ok := m.record(n, time.Since(start)); err == nil && !ok || err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		return n, m.tooSlow()
	}
	return n, err
}

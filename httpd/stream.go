package httpd

import (
	"errors"
	"io"
	"net/http"
	"os"
	"time"
)

// Streaming routes (dumpDB, _export, restoreDB, _import) may run longer
// than the server's read and write timeouts. Rather than lifting the
// timeouts, they push the connection's deadline forward as data moves:
// a stalled peer is still cut off after one timeout, a steady one never.
// A peer that moves data, but slower than Config.MinTransferRate over a
// Config.TransferWindow of time spent waiting on it, is cut off at the
// end of that window (see admission.go): a dump reader that does not read
// cannot pin the snapshot, and the tables it holds, for long.

// deadlineWriter extends the write deadline before each write and
// records whether anything was written (after which errors can no
// longer become a status).
type deadlineWriter struct {
	w     http.ResponseWriter
	rc    *http.ResponseController
	m     transferMeter
	wrote bool
	werr  error // the first error writing to the client
}

// downloadWriter returns the writer of a streamed response.
func (s *Server) downloadWriter(w http.ResponseWriter) *deadlineWriter {
	return &deadlineWriter{w: w, rc: http.NewResponseController(w), m: s.newMeter(s.cfg.WriteTimeout)}
}

// Write extends the write deadline, then writes.
func (d *deadlineWriter) Write(p []byte) (int, error) {
	if d.werr != nil {
		return 0, d.werr
	}
	start := time.Now()
	_ = d.rc.SetWriteDeadline(d.m.deadline(start)) // unsupported writers (tests) keep theirs
	d.wrote = true
	n, err := d.w.Write(p)
	if ok := d.m.record(n, time.Since(start)); err == nil && !ok || err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		err = d.m.tooSlow()
	}
	if err != nil && d.werr == nil {
		d.werr = err
	}
	return n, err
}

// deadlineReader extends the read deadline before each read, within the
// minimum transfer rate.
type deadlineReader struct {
	r  io.Reader
	rc *http.ResponseController
	m  transferMeter
}

// uploadReader returns the reader of a streamed request body.
func (s *Server) uploadReader(w http.ResponseWriter, r io.Reader) *deadlineReader {
	return &deadlineReader{r: r, rc: http.NewResponseController(w), m: s.newMeter(s.cfg.ReadTimeout)}
}

// Read extends the read deadline, then reads. At the end of the body it
// lifts the deadline, which would otherwise end the server's background
// read (and cancel the request's context) while the handler answers.
func (d *deadlineReader) Read(p []byte) (int, error) {
	n, err := d.m.read(d.rc, d.r, p)
	if err == io.EOF {
		_ = d.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

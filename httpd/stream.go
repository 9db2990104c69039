package httpd

import (
	"io"
	"net/http"
	"time"
)

// Streaming routes (dumpDB, _export, restoreDB, _import) may run longer
// than the server's read and write timeouts. Rather than lifting the
// timeouts, they push the connection's deadline forward as data moves:
// a stalled peer is still cut off after one timeout, a steady one never.

// deadlineWriter extends the write deadline before each write and
// records whether anything was written (after which errors can no
// longer become a status).
type deadlineWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	wrote   bool
	werr    error // the first error writing to the client
}

func newDeadlineWriter(w http.ResponseWriter, timeout time.Duration) *deadlineWriter {
	return &deadlineWriter{w: w, rc: http.NewResponseController(w), timeout: timeout}
}

// Write extends the write deadline, then writes.
func (d *deadlineWriter) Write(p []byte) (int, error) {
	_ = d.rc.SetWriteDeadline(time.Now().Add(d.timeout)) // unsupported writers (tests) keep theirs
	d.wrote = true
	n, err := d.w.Write(p)
	if err != nil && d.werr == nil {
		d.werr = err
	}
	return n, err
}

// deadlineReader extends the read deadline before each read.
type deadlineReader struct {
	r       io.Reader
	rc      *http.ResponseController
	timeout time.Duration
}

func newDeadlineReader(w http.ResponseWriter, r io.Reader, timeout time.Duration) *deadlineReader {
	return &deadlineReader{r: r, rc: http.NewResponseController(w), timeout: timeout}
}

// Read extends the read deadline, then reads.
func (d *deadlineReader) Read(p []byte) (int, error) {
	_ = d.rc.SetReadDeadline(time.Now().Add(d.timeout))
	return d.r.Read(p)
}

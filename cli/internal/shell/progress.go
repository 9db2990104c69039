package shell

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// progressBar draws one self-overwriting status line on a terminal:
//
//	restoreDB [==========>         ]  52%  14.2/27.3 MiB  61,204 docs
//	dumpDB  14.2 MiB  61,204 docs
//
// A nil *progressBar draws nothing, so callers need not check whether
// stderr is a terminal.
type progressBar struct {
	w     io.Writer
	label string
	total int64 // bytes expected; 0: unknown

	mu    sync.Mutex
	bytes int64
	docs  int64
	last  time.Time
	drawn bool
}

// newProgress returns a bar on w, or nil when on is false.
func newProgress(on bool, w io.Writer, label string, total int64) *progressBar {
	if !on {
		return nil
	}
	return &progressBar{w: w, label: label, total: total}
}

// add records n more bytes and docs more documents and redraws, at most
// ten times a second.
func (p *progressBar) add(n, docs int64) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.bytes += n
	p.docs += docs
	if now := time.Now(); now.Sub(p.last) >= 100*time.Millisecond {
		p.last = now
		p.drawLocked()
	}
}

func (p *progressBar) drawLocked() {
	var b strings.Builder
	b.WriteString("\r" + p.label + " ")
	if p.total > 0 {
		frac := min(float64(p.bytes)/float64(p.total), 1)
		const width = 24
		n := int(frac * width)
		b.WriteString("[" + strings.Repeat("=", n))
		if n < width {
			b.WriteString(">" + strings.Repeat(" ", width-n-1))
		}
		fmt.Fprintf(&b, "] %3.0f%%  %s/%s", frac*100, mib(p.bytes), mib(p.total))
	} else {
		b.WriteString(" " + mib(p.bytes))
	}
	if p.docs > 0 {
		fmt.Fprintf(&b, "  %s docs", thousands(p.docs))
	}
	b.WriteString("\x1b[K")
	_, _ = io.WriteString(p.w, b.String())
	p.drawn = true
}

// done erases the line.
func (p *progressBar) done() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		_, _ = io.WriteString(p.w, "\r\x1b[K")
	}
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// thousands formats n with commas: 61,204.
func thousands(n int64) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// countingReader reports the bytes read through it to a progress bar.
type countingReader struct {
	r io.Reader
	p *progressBar
}

func (c countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.p.add(int64(n), 0)
	return n, err
}

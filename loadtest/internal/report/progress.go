package report

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// IsTerminal reports whether f is a terminal.
func IsTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// Progress draws a progress bar for a run on w while it lasts. It polls
// done every 100 ms, so workers never wait for it. Create it with
// StartProgress and stop it with Stop before printing anything else.
type Progress struct {
	stop chan struct{}
	wg   sync.WaitGroup
}

// StartProgress draws a bar on w labelled label, for total operations or
// for dur, whichever is set (total wins). It draws nothing and returns a
// Progress whose Stop does nothing when w is nil.
func StartProgress(w io.Writer, label string, total int64, dur time.Duration, done func() int64) *Progress {
	p := &Progress{stop: make(chan struct{})}
	if w == nil {
		return p
	}
	byTime := total <= 0
	max := total
	if byTime {
		max = int64(dur / time.Millisecond)
	}
	opts := []progressbar.Option{
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(label),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100 * time.Millisecond),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetPredictTime(!byTime),
	}
	if !byTime {
		opts = append(opts, progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("req"))
	}
	bar := progressbar.NewOptions64(max, opts...)
	start := time.Now()
	p.wg.Go(func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				_ = bar.Clear()
				_ = bar.Exit()
				return
			case <-t.C:
				if byTime {
					n := done()
					bar.Describe(fmt.Sprintf("%s %d req", label, n))
					_ = bar.Set64(min(int64(time.Since(start)/time.Millisecond), max))
				} else {
					_ = bar.Set64(min(done(), max))
				}
			}
		}
	})
	return p
}

// Stop erases the bar.
func (p *Progress) Stop() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	p.wg.Wait()
}

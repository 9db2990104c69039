package shell

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/minidbgo/minidbgo/httpd/client/api"
)

// lineWriter calls fn with each complete line written to it (without the
// newline); flush hands over a last unterminated line.
type lineWriter struct {
	fn   func(line []byte) error
	part []byte
}

func (l *lineWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			l.part = append(l.part, p...)
			break
		}
		line := p[:i]
		if len(l.part) > 0 {
			l.part = append(l.part, line...)
			line = l.part
		}
		if len(bytes.TrimSpace(line)) > 0 {
			if err := l.fn(line); err != nil {
				return 0, err
			}
		}
		l.part = l.part[:0]
		p = p[i+1:]
	}
	return n, nil
}

func (l *lineWriter) flush() error {
	if len(bytes.TrimSpace(l.part)) == 0 {
		return nil
	}
	err := l.fn(l.part)
	l.part = l.part[:0]
	return err
}

func cmdDumpAll(s *Shell, ctx context.Context, _ string, args []arg) error {
	var cols []string
	if len(args) == 1 {
		col := args[0].text
		if err := validName(col); err != nil {
			return err
		}
		if err := s.mustExist(ctx, col); err != nil {
			return err
		}
		cols = []string{col}
	} else {
		all, err := s.be.collections(ctx)
		if err != nil {
			return err
		}
		for _, c := range all {
			cols = append(cols, c.Name)
		}
	}
	for _, col := range cols {
		lw := &lineWriter{fn: func(line []byte) error {
			s.out.tagged(col, line)
			return nil
		}}
		if err := s.be.export(ctx, col, lw); err != nil {
			return err
		}
		if err := lw.flush(); err != nil {
			return err
		}
	}
	return nil
}

// dumpCounter tallies a dump stream as it passes: the collections, index
// lines and document lines of docstore's dump format
//
//	{"collection":"users","index":{...}}
//	{"collection":"users","doc":{...}}
//
// so that dumpDB reports the same figures whichever backend wrote them.
type dumpCounter struct {
	cols        map[string]bool
	docs, index int64
	bytes       int64
	lines       lineWriter
	bar         *progressBar
}

func newDumpCounter(bar *progressBar) *dumpCounter {
	d := &dumpCounter{cols: map[string]bool{}, bar: bar}
	d.lines.fn = d.line
	return d
}

func (d *dumpCounter) Write(p []byte) (int, error) {
	d.bytes += int64(len(p))
	before := d.docs
	n, err := d.lines.Write(p)
	d.bar.add(int64(len(p)), d.docs-before)
	return n, err
}

func (d *dumpCounter) line(b []byte) error {
	const pre = `{"collection":`
	if !bytes.HasPrefix(b, []byte(pre)) {
		return nil
	}
	end := scanStringBytes(b, len(pre))
	var name string
	if json.Unmarshal(b[len(pre):end], &name) == nil {
		d.cols[name] = true
	}
	switch rest := b[end:]; {
	case bytes.HasPrefix(rest, []byte(`,"doc":`)):
		d.docs++
	case bytes.HasPrefix(rest, []byte(`,"index":`)):
		d.index++
	}
	return nil
}

type dumpResult struct {
	File        string `json:"file"`
	Collections int    `json:"collections"`
	Documents   int64  `json:"documents"`
	Indexes     int64  `json:"indexes"`
	Bytes       int64  `json:"bytes"`
}

// cmdDumpDB streams the dump to a file (a temporary name, synced, then
// renamed, so that a failed dump never leaves a truncated backup under
// the name asked for) or to stdout.
func cmdDumpDB(s *Shell, ctx context.Context, _ string, args []arg) error {
	if len(args) == 0 || args[0].text == "-" {
		return s.be.dump(ctx, s.out.w)
	}
	path := args[0].text
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return &cmdError{code: "file_error", msg: fmt.Sprintf("dumpDB: %v", err)}
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	bar := newProgress(s.progress, s.errw, "dumpDB", 0)
	cnt := newDumpCounter(bar)
	err = s.be.dump(ctx, io.MultiWriter(tmp, cnt))
	bar.done()
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return &cmdError{code: "file_error", msg: fmt.Sprintf("dumpDB: %v", err)}
	}
	return s.out.value(dumpResult{File: path, Collections: len(cnt.cols), Documents: cnt.docs, Indexes: cnt.index, Bytes: cnt.bytes})
}

func cmdRestoreDB(s *Shell, ctx context.Context, _ string, args []arg) error {
	path := args[0].text
	f, err := os.Open(path)
	if err != nil {
		return &cmdError{code: "file_error", msg: fmt.Sprintf("restoreDB: %v", err)}
	}
	defer f.Close()
	var size int64
	if fi, err := f.Stat(); err == nil {
		size = fi.Size()
	}
	bar := newProgress(s.progress, s.errw, "restoreDB", size)
	var r io.Reader = f
	if bar != nil {
		r = countingReader{f, bar}
	}
	st, err := s.be.restore(ctx, r)
	bar.done()
	if err != nil {
		return err
	}
	return s.out.value(api.DumpStats{Collections: st.Collections, Documents: st.Documents, Indexes: st.Indexes, Bytes: st.Bytes})
}

package wal

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// wrapFile is an *os.File whose writes wrap around at 64 MiB, so that long
// benchmarks issue one real write(2) per Flush without filling the disk.
type wrapFile struct {
	*os.File
	off int64
}

func (f *wrapFile) Write(p []byte) (int, error) {
	n, err := f.WriteAt(p, f.off)
	f.off = (f.off + int64(n)) % (64 << 20)
	return n, err
}

// BenchmarkWriteRecord measures WriteRecord followed by Flush, as a commit
// without sync does: into memory (framing cost only) and into a file (one
// write(2) per record).
func BenchmarkWriteRecord(b *testing.B) {
	for _, size := range []int{100, 4 << 10} {
		rec := bytes.Repeat([]byte{'v'}, size)
		b.Run(fmt.Sprintf("size=%d/mem", size), func(b *testing.B) {
			w := NewWriter(&discardFile{})
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := w.WriteRecord(rec); err != nil {
					b.Fatal(err)
				}
				if err := w.Flush(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("size=%d/file", size), func(b *testing.B) {
			f, err := os.Create(filepath.Join(b.TempDir(), "000001.log"))
			if err != nil {
				b.Fatal(err)
			}
			w := NewWriter(&wrapFile{File: f})
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := w.WriteRecord(rec); err != nil {
					b.Fatal(err)
				}
				if err := w.Flush(); err != nil {
					b.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// BenchmarkReadRecord measures replay of a log of records of each size.
func BenchmarkReadRecord(b *testing.B) {
	for _, size := range []int{100, 4 << 10} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			recs := make([][]byte, (8<<20)/size)
			for i := range recs {
				recs[i] = bytes.Repeat([]byte{'v'}, size)
			}
			log, _ := writeLog(b, recs)
			src := bytes.NewReader(log)
			r := NewReader(src, "bench.log")
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.Next(); err != nil {
					if err != io.EOF {
						b.Fatal(err)
					}
					src.Reset(log)
					r.reset(src, "bench.log")
				}
			}
		})
	}
}

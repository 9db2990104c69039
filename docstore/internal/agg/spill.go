package agg

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"os"
)

// run is a spilled run file: records of a uvarint length and its bytes.
type run struct {
	f *os.File
	w *bufio.Writer
	r *bufio.Reader
}

func newRun(dir string) (*run, error) {
	f, err := os.CreateTemp(dir, "agg-*.run")
	if err != nil {
		return nil, fmt.Errorf("agg: creating a spill file: %w", err)
	}
	return &run{f: f, w: bufio.NewWriterSize(f, 64<<10)}, nil
}

func (r *run) write(b []byte) error {
	var hdr [binary.MaxVarintLen64]byte
	n := binary.PutUvarint(hdr[:], uint64(len(b)))
	if _, err := r.w.Write(hdr[:n]); err != nil {
		return err
	}
	_, err := r.w.Write(b)
	return err
}

// rewind ends writing and starts reading from the beginning.
func (r *run) rewind() error {
	if err := r.w.Flush(); err != nil {
		return err
	}
	if _, err := r.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	r.r = bufio.NewReaderSize(r.f, 64<<10)
	return nil
}

// read returns the next record, nil at the end.
func (r *run) read() ([]byte, error) {
	n, err := binary.ReadUvarint(r.r)
	if err == io.EOF {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("agg: reading a spill file: %w", err)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r.r, b); err != nil {
		return nil, fmt.Errorf("agg: reading a spill file: %w", err)
	}
	return b, nil
}

func (r *run) remove() {
	if r.f != nil {
		name := r.f.Name()
		_ = r.f.Close()
		_ = os.Remove(name)
		r.f = nil
	}
}

func tooLarge(at string, max int64) error {
	return &Error{Code: CodeTooLarge, Msg: fmt.Sprintf("%s needs more than its %d-byte memory limit and spilling to disk is off (raise AGG_MAX_MEMORY_MB, enable AGG_SPILL, or $match/$limit first)", at, max)}
}

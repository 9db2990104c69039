package wal

import (
	"encoding/binary"
	"errors"
	"io"

	"github.com/minidbgo/minidbgo/storage/vfs"
)

// errClosed is returned by every call on a Writer after Close.
var errClosed = errors.New("wal: writer is closed")

// Writer appends records to a vfs.File. It buffers at most one block in
// memory: WriteRecord frames into the buffer and writes each block through
// to the file as soon as it is full; Flush and Sync write the rest.
//
// Once any write or sync fails, the Writer is poisoned: every later call
// returns that error, because the file's tail is in an unknown state. A
// record that was cut short by the failure reads back as a torn tail.
//
// A Writer is not safe for concurrent use.
type Writer struct {
	f        vfs.File
	blockOff int64 // file offset of buf[0]
	n        int   // bytes of buf framed so far
	written  int   // bytes of buf already written to f
	err      error // sticky: the first write/sync error, or errClosed
	closed   bool  // f has been closed
	buf      [BlockSize]byte
}

// NewWriter returns a Writer that appends to f, which must be empty: the
// block structure is laid out from offset 0.
func NewWriter(f vfs.File) *Writer {
	return &Writer{f: f}
}

// WriteRecord frames p and appends it to the Writer's buffer; full blocks
// may be written through to the file at any time. It returns the byte
// offset of the record's first chunk header, which is what Reader.Offset
// reports for it. p is not retained. On error the offset is 0.
func (w *Writer) WriteRecord(p []byte) (offset int64, err error) {
	if w.err != nil {
		return 0, w.err
	}
	for first := true; ; first = false {
		if BlockSize-w.n < headerSize {
			// Too little room for a header: zero the block's trailer
			// and continue in the next block.
			clear(w.buf[w.n:])
			w.n = BlockSize
			if err := w.writeBlock(); err != nil {
				return 0, err
			}
		}
		if first {
			offset = w.blockOff + int64(w.n)
		}
		frag := min(len(p), BlockSize-w.n-headerSize)
		last := frag == len(p)
		var typ byte
		switch {
		case first && last:
			typ = chunkFull
		case first:
			typ = chunkFirst
		case last:
			typ = chunkLast
		default:
			typ = chunkMiddle
		}
		w.emit(typ, p[:frag])
		p = p[frag:]
		if w.n == BlockSize {
			if err := w.writeBlock(); err != nil {
				return 0, err
			}
		}
		if last {
			return offset, nil
		}
	}
}

// emit appends one chunk to the current block, which must have room for
// its header and payload.
func (w *Writer) emit(typ byte, payload []byte) {
	h := w.buf[w.n : w.n+headerSize]
	binary.LittleEndian.PutUint16(h[4:6], uint16(len(payload)))
	h[6] = typ
	end := w.n + headerSize + copy(w.buf[w.n+headerSize:], payload)
	binary.LittleEndian.PutUint32(h[0:4], chunkCRC(w.buf[w.n+6:end]))
	w.n = end
}

// writeBlock writes the unwritten part of the full current block and starts
// a new one.
func (w *Writer) writeBlock() error {
	if err := w.write(); err != nil {
		return err
	}
	w.blockOff += BlockSize
	w.n, w.written = 0, 0
	return nil
}

// write writes buf[written:n] to the file, poisoning the Writer on error.
func (w *Writer) write() error {
	if w.written == w.n {
		return nil
	}
	n, err := w.f.Write(w.buf[w.written:w.n])
	if err == nil && n != w.n-w.written {
		err = io.ErrShortWrite
	}
	if err != nil {
		w.err = err
		return err
	}
	w.written = w.n
	return nil
}

// Flush writes every buffered byte to the file with write(2). It does not
// make them durable; see Sync.
func (w *Writer) Flush() error {
	if w.err != nil {
		return w.err
	}
	return w.write()
}

// Sync flushes the buffer and then syncs the file, making every record
// written so far durable.
func (w *Writer) Sync() error {
	if err := w.Flush(); err != nil {
		return err
	}
	if err := w.f.Sync(); err != nil {
		w.err = err
		return err
	}
	return nil
}

// Size returns the number of bytes framed so far, buffered ones included:
// the size the file will have after Flush.
func (w *Writer) Size() int64 {
	return w.blockOff + int64(w.n)
}

// Close flushes and syncs the Writer and closes the file. The file is
// closed even if the Writer is poisoned or the sync fails; the first error
// is returned. Every call after Close, including a second Close, returns an
// error.
func (w *Writer) Close() error {
	if w.closed {
		return w.err
	}
	err := w.Sync()
	w.closed = true
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if w.err == nil {
		w.err = errClosed
	}
	return err
}

package sstable

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/minidbgo/minidbgo/storage/internal/base"
	"github.com/minidbgo/minidbgo/storage/vfs"
)

// maxEntryLen bounds len(key)+len(value) of one entry, which keeps every
// block far below the 4 GiB its uint32 restart offsets can address.
const maxEntryLen = 1 << 30

// writeBufferSize is the size of the Writer's bufio buffer.
const writeBufferSize = 64 << 10

var errWriterClosed = errors.New("sstable: writer is closed")

// Writer writes a table to a file. Entries must be added in strictly
// increasing internal key order (base.Compare). A Writer is not safe for
// concurrent use.
//
// Its memory is one data block, the index block, and 8 bytes per distinct
// user key for the bloom filter, which is built at Close.
//
// Every Writer must end with Close, which finishes the table, or Abort,
// which abandons it; both close the file.
type Writer struct {
	f  vfs.File
	bw *bufio.Writer
	o  WriterOptions

	offset  uint64 // bytes written (buffered or not) so far
	data    blockWriter
	index   blockWriter
	lastKey []byte
	hashes  []uint64 // filterHash of each distinct user key
	props   Properties

	compressBuf []byte
	handleBuf   []byte

	err  error // sticky write error
	done bool  // Close or Abort was called
}

// WriterMeta describes a finished table.
type WriterMeta struct {
	Size       uint64 // file size in bytes
	NumEntries uint64
	// Smallest and Largest are the first and last internal keys (copies);
	// nil for an empty table.
	Smallest, Largest []byte
	// SmallestSeq and LargestSeq bound the sequence numbers of all entries.
	SmallestSeq, LargestSeq base.SeqNum
}

// NewWriter returns a Writer that writes a table to f, which must be empty.
func NewWriter(f vfs.File, o WriterOptions) *Writer {
	o = o.withDefaults()
	w := &Writer{
		f:  f,
		bw: bufio.NewWriterSize(f, writeBufferSize),
		o:  o,
	}
	w.data.restartInterval = o.RestartInterval
	// Index entries are searched by binary search alone.
	w.index.restartInterval = 1
	w.props.Compression = o.Compression
	w.props.BloomBitsPerKey = uint64(o.BloomBitsPerKey)
	w.props.FormatVersion = FormatVersion
	w.props.SmallestSeq = base.MaxSeqNum
	return w
}

// Add appends an entry. ikey must be a valid internal key greater than every
// key added before. Add keeps no reference to ikey or value.
func (w *Writer) Add(ikey, value []byte) error {
	if w.err != nil {
		return w.err
	}
	if w.done {
		return errWriterClosed
	}
	if !base.Valid(ikey) {
		return fmt.Errorf("sstable: invalid internal key %q", ikey)
	}
	first := w.props.NumEntries == 0
	if !first && base.Compare(w.lastKey, ikey) >= 0 {
		return fmt.Errorf("sstable: keys out of order: %q#%d after %q#%d",
			base.UserKey(ikey), base.Seq(ikey), base.UserKey(w.lastKey), base.Seq(w.lastKey))
	}
	if len(ikey)+len(value) > maxEntryLen {
		return fmt.Errorf("sstable: entry of %d bytes is too large", len(ikey)+len(value))
	}
	if w.o.BloomBitsPerKey > 0 && (first || !bytes.Equal(base.UserKey(w.lastKey), base.UserKey(ikey))) {
		w.hashes = append(w.hashes, filterHash(base.UserKey(ikey)))
	}
	w.data.add(ikey, value)

	p := &w.props
	if first {
		p.Smallest = bytes.Clone(ikey)
	}
	p.NumEntries++
	if base.KindOf(ikey) == base.KindDelete {
		p.NumDeletions++
	}
	p.RawKeyBytes += uint64(len(ikey))
	p.RawValueBytes += uint64(len(value))
	seq := base.Seq(ikey)
	p.SmallestSeq = min(p.SmallestSeq, seq)
	p.LargestSeq = max(p.LargestSeq, seq)
	w.lastKey = append(w.lastKey[:0], ikey...)

	if w.data.estimatedSize() >= w.o.BlockSize {
		return w.flushDataBlock()
	}
	return nil
}

// EstimatedSize returns the bytes written so far plus the size of the
// pending data block: about the size of the file if closed now, less the
// filter, index, properties and footer.
func (w *Writer) EstimatedSize() uint64 {
	if w.data.entries == 0 {
		return w.offset
	}
	return w.offset + uint64(w.data.estimatedSize())
}

func (w *Writer) flushDataBlock() error {
	h := w.writeBlock(w.data.finish(), w.o.Compression)
	w.handleBuf = appendHandle(w.handleBuf[:0], h)
	// The index key is the block's last key: it is >= every key of the
	// block and < every key of the next one.
	w.index.add(w.lastKey, w.handleBuf)
	w.props.NumDataBlocks++
	w.data.reset()
	return w.err
}

// writeBlock writes a block and its trailer and returns its handle. Errors
// are sticky in w.err.
func (w *Writer) writeBlock(raw []byte, c Compression) blockHandle {
	stored, typ := compressBlock(w.compressBuf, raw, c)
	if typ != NoCompression {
		w.compressBuf = stored[:0]
	}
	var trailer [blockTrailerLen]byte
	trailer[0] = byte(typ)
	binary.LittleEndian.PutUint32(trailer[1:], blockChecksum(stored, byte(typ)))
	h := blockHandle{Offset: w.offset, Length: uint64(len(stored))}
	if w.err == nil {
		if _, err := w.bw.Write(stored); err != nil {
			w.err = fmt.Errorf("sstable: write: %w", err)
		} else if _, err := w.bw.Write(trailer[:]); err != nil {
			w.err = fmt.Errorf("sstable: write: %w", err)
		}
	}
	w.offset += uint64(len(stored)) + blockTrailerLen
	return h
}

// Close writes the last data block, the filter, index and properties
// blocks and the footer, syncs and closes the file. On error the file is
// closed and the caller should remove it.
func (w *Writer) Close() (WriterMeta, error) {
	if w.done {
		return WriterMeta{}, errWriterClosed
	}
	w.done = true
	meta, err := w.finish()
	if err != nil {
		_ = w.f.Close()
		return WriterMeta{}, err
	}
	if err := w.f.Close(); err != nil {
		return WriterMeta{}, fmt.Errorf("sstable: close: %w", err)
	}
	return meta, nil
}

func (w *Writer) finish() (WriterMeta, error) {
	if w.err != nil {
		return WriterMeta{}, w.err
	}
	if w.data.entries > 0 {
		w.flushDataBlock()
	}
	p := &w.props
	p.DataBytes = w.offset

	var ft footer
	ft.version = FormatVersion
	if len(w.hashes) > 0 {
		fb, err := buildFilter(w.hashes, w.o.BloomBitsPerKey)
		if err != nil {
			return WriterMeta{}, fmt.Errorf("sstable: build filter: %w", err)
		}
		ft.filter = w.writeBlock(fb, NoCompression)
		p.FilterBytes = ft.filter.Length
		w.hashes = nil
	}
	ft.index = w.writeBlock(w.index.finish(), NoCompression)
	p.IndexBytes = ft.index.Length

	if p.NumEntries == 0 {
		p.SmallestSeq = 0
	} else {
		p.Largest = bytes.Clone(w.lastKey)
	}
	ft.properties = w.writeBlock(p.encode(), NoCompression)
	if w.err != nil {
		return WriterMeta{}, w.err
	}
	if _, err := w.bw.Write(ft.encode()); err != nil {
		return WriterMeta{}, fmt.Errorf("sstable: write: %w", err)
	}
	w.offset += footerLen
	if err := w.bw.Flush(); err != nil {
		return WriterMeta{}, fmt.Errorf("sstable: write: %w", err)
	}
	if err := w.f.Sync(); err != nil {
		return WriterMeta{}, fmt.Errorf("sstable: sync: %w", err)
	}
	return WriterMeta{
		Size:        w.offset,
		NumEntries:  p.NumEntries,
		Smallest:    p.Smallest,
		Largest:     p.Largest,
		SmallestSeq: p.SmallestSeq,
		LargestSeq:  p.LargestSeq,
	}, nil
}

// Abort abandons the table and closes the file without finishing it; the
// caller removes the file. Abort after Close does nothing.
func (w *Writer) Abort() {
	if w.done {
		return
	}
	w.done = true
	w.hashes = nil
	_ = w.f.Close()
}

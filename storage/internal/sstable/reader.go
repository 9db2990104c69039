package sstable

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"sync"

	"github.com/bits-and-blooms/bloom/v3"
	"github.com/minidbgo/minidbgo/storage/internal/base"
	"github.com/minidbgo/minidbgo/storage/internal/cache"
	"github.com/minidbgo/minidbgo/storage/vfs"
)

// Reader reads a table. Open validates the footer and loads the index,
// filter and properties blocks, which stay in memory; data blocks are read
// on demand through the block cache.
//
// A Reader is safe for concurrent use, except Close, which must come after
// every other call has returned and every iterator has been closed.
//
// Get returns a copy of the value. Keys and values returned by iterators
// alias a block held by the cache: they must not be modified, and are
// valid until the iterator's next positioning call or Close, after which
// the block may be reused.
type Reader struct {
	f    vfs.File
	o    ReaderOptions
	size int64

	footer  footer
	dataEnd uint64 // data blocks occupy [0, dataEnd)
	index   []byte
	search  *indexSearch       // nil: Get searches the index block itself
	filter  *bloom.BloomFilter // nil when the table has none
	props   Properties
}

// Open opens the table in f, whose size is size bytes. It reads and
// validates the footer, index, filter and properties blocks; damage is
// reported as a *base.CorruptionError naming o.FileName and the offset.
// On success the Reader owns f and Reader.Close closes it; on error f is
// left open.
func Open(f vfs.File, size int64, o ReaderOptions) (*Reader, error) {
	r := &Reader{f: f, o: o, size: size}
	if size < footerLen {
		return nil, r.corruptf(0, "file too short for an sstable (%d bytes)", size)
	}
	metaEnd := uint64(size - footerLen)
	fb := make([]byte, footerLen)
	if err := r.readAt(fb, int64(metaEnd)); err != nil {
		return nil, err
	}
	ft, err := decodeFooter(fb)
	if err != nil {
		return nil, r.corrupt(int64(metaEnd), err)
	}
	r.footer = ft
	hasFilter := ft.filter != (blockHandle{})
	r.dataEnd = min(ft.index.Offset, ft.properties.Offset)
	if hasFilter {
		r.dataEnd = min(r.dataEnd, ft.filter.Offset)
	}
	handles := []blockHandle{ft.index, ft.properties}
	if hasFilter {
		handles = append(handles, ft.filter)
	}
	for _, h := range handles {
		if h.end() > metaEnd {
			return nil, r.corruptf(int64(metaEnd), "footer block handle %d+%d beyond the end of the table", h.Offset, h.Length)
		}
	}

	if r.index, err = r.readBlock(ft.index); err != nil {
		return nil, err
	}
	var it blockIter
	if err := it.init(r.index, int64(ft.index.Offset)); err != nil {
		return nil, r.named(err)
	}
	r.search = buildIndexSearch(r.index, int64(ft.index.Offset))
	if hasFilter {
		b, err := r.readBlock(ft.filter)
		if err != nil {
			return nil, err
		}
		if r.filter, err = decodeFilter(b); err != nil {
			return nil, r.corrupt(int64(ft.filter.Offset), fmt.Errorf("filter block: %w", err))
		}
	}
	b, err := r.readBlock(ft.properties)
	if err != nil {
		return nil, err
	}
	if r.props, err = decodeProperties(b); err != nil {
		return nil, r.corrupt(int64(ft.properties.Offset), fmt.Errorf("properties block: %w", err))
	}
	if r.props.FormatVersion != ft.version {
		return nil, r.corruptf(int64(ft.properties.Offset), "properties say format version %d, footer %d", r.props.FormatVersion, ft.version)
	}
	return r, nil
}

func (r *Reader) corrupt(off int64, err error) error {
	return &base.CorruptionError{File: r.o.FileName, Offset: off, Err: err}
}

// named adds the file name to a corruption error from a blockIter, which
// does not know it.
func (r *Reader) named(err error) error {
	if ce, ok := err.(*base.CorruptionError); ok && ce.File == "" {
		ce.File = r.o.FileName
	}
	return err
}

func (r *Reader) corruptf(off int64, format string, args ...any) error {
	return base.Corruptf(r.o.FileName, off, format, args...)
}

// readAt fills b from offset off. A short read means the file is shorter
// than its metadata says: corruption.
func (r *Reader) readAt(b []byte, off int64) error {
	n, err := r.f.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return r.corruptf(off, "truncated: read %d of %d bytes", n, len(b))
	}
	return fmt.Errorf("sstable: read %s at offset %d: %w", r.o.FileName, off, err)
}

// readBlock reads, checksums and decompresses the block at h into memory
// of its own on the Go heap; it is for the blocks the Reader keeps (index,
// filter, properties) and for Verify.
func (r *Reader) readBlock(h blockHandle) ([]byte, error) {
	buf, stored, typ, err := r.readStored(h)
	if err != nil {
		return nil, err
	}
	defer putReadBuf(buf)
	if typ == byte(NoCompression) {
		return bytes.Clone(stored), nil
	}
	b, err := decompressBlock(typ, stored)
	if err != nil {
		return nil, r.corrupt(int64(h.Offset), err)
	}
	return b, nil
}

// readBufs recycles the buffers that hold stored (compressed) blocks
// between the read and the decompression.
var readBufs sync.Pool

func getReadBuf(n int) *[]byte {
	if p, ok := readBufs.Get().(*[]byte); ok && cap(*p) >= n {
		*p = (*p)[:n]
		return p
	}
	b := make([]byte, n, max(n, 8<<10))
	return &b
}

func putReadBuf(p *[]byte) {
	if cap(*p) <= 256<<10 {
		readBufs.Put(p)
	}
}

// readStored reads the stored form of the block at h into a pooled buffer
// and checks its checksum. The caller returns buf with putReadBuf once it
// is done with stored.
func (r *Reader) readStored(h blockHandle) (buf *[]byte, stored []byte, typ byte, err error) {
	if h.end() > uint64(r.size) {
		return nil, nil, 0, r.corruptf(int64(min(h.Offset, uint64(r.size))), "block handle %d+%d beyond the end of the file", h.Offset, h.Length)
	}
	buf = getReadBuf(int(h.Length + blockTrailerLen))
	b := *buf
	if err := r.readAt(b, int64(h.Offset)); err != nil {
		putReadBuf(buf)
		return nil, nil, 0, err
	}
	stored, typ = b[:h.Length], b[h.Length]
	// The checksum covers the block and its type byte, which follow each
	// other in b: one pass, and no allocation for the type byte.
	if got, want := crc32.Update(0, crcTable, b[:h.Length+1]), binary.LittleEndian.Uint32(b[h.Length+1:]); got != want {
		putReadBuf(buf)
		return nil, nil, 0, r.corruptf(int64(h.Offset), "block checksum mismatch: computed %#08x, stored %#08x", got, want)
	}
	return buf, stored, typ, nil
}

// dataBlock returns the data block at h with a reference the caller must
// release. It comes from the block cache, or is read, checked and
// decompressed straight into cache memory, and cached if fill is set.
func (r *Reader) dataBlock(h blockHandle, fill bool) (*cache.Value, error) {
	if v, ok := r.o.Cache.Get(r.o.FileNum, h.Offset); ok {
		return v, nil
	}
	buf, stored, typ, err := r.readStored(h)
	if err != nil {
		return nil, err
	}
	defer putReadBuf(buf)
	n, err := decompressedLen(typ, stored)
	if err != nil {
		return nil, r.corrupt(int64(h.Offset), err)
	}
	c := r.o.Cache
	if !fill {
		c = nil // Go heap memory: the garbage collector frees it
	}
	v := c.Alloc(n)
	if err := decompressInto(v.Bytes(), typ, stored); err != nil {
		v.Release()
		return nil, r.corrupt(int64(h.Offset), err)
	}
	if fill {
		c.Set(r.o.FileNum, h.Offset, v)
	}
	return v, nil
}

// dataHandle decodes an index value into the handle of a data block.
func (r *Reader) dataHandle(v []byte) (blockHandle, error) {
	h, err := decodeHandle(v)
	if err != nil {
		return blockHandle{}, r.corrupt(int64(r.footer.index.Offset), fmt.Errorf("index block: %w", err))
	}
	if h.end() > r.dataEnd {
		return blockHandle{}, r.corruptf(int64(r.footer.index.Offset), "index block: data block %d+%d beyond the data section", h.Offset, h.Length)
	}
	return h, nil
}

var blockIterPool = sync.Pool{New: func() any { return &blockIter{key: make([]byte, 0, 64)} }}

// Get returns a copy of the value of the newest entry whose user key is
// ukey and whose sequence number is <= seq. found is false when there is
// none; an entry of kind DEL is returned as found, with its kind and a nil
// value. Get does not consult the bloom filter: callers call MayContain
// first.
func (r *Reader) Get(ukey []byte, seq base.SeqNum) (value []byte, kind base.Kind, found bool, err error) {
	seq = min(seq, base.MaxSeqNum)
	var searchBuf [64]byte
	search := base.AppendInternalKey(searchBuf[:0], ukey, seq, base.KindMax)

	// One pooled iterator serves the index, then the data block; init
	// keeps its key buffer.
	it := blockIterPool.Get().(*blockIter)
	defer func() {
		it.data, it.val, it.err = nil, nil, nil
		blockIterPool.Put(it)
	}()
	if err := it.init(r.index, int64(r.footer.index.Offset)); err != nil {
		return nil, 0, false, r.named(err)
	}
	var ok bool
	if r.search != nil {
		ok = r.search.seekGE(it, search)
	} else {
		ok = it.SeekGE(search)
	}
	if !ok {
		return nil, 0, false, r.named(it.err)
	}
	h, err := r.dataHandle(it.val)
	if err != nil {
		return nil, 0, false, err
	}
	blk, err := r.dataBlock(h, true)
	if err != nil {
		return nil, 0, false, err
	}
	defer blk.Release()
	if err := it.init(blk.Bytes(), int64(h.Offset)); err != nil {
		return nil, 0, false, r.named(err)
	}
	if !it.SeekGE(search) || !bytes.Equal(base.UserKey(it.key), ukey) {
		return nil, 0, false, r.named(it.err)
	}
	kind = base.KindOf(it.key)
	if kind == base.KindDelete && len(it.val) == 0 {
		return nil, kind, true, nil // the engine's tombstones carry no value: nothing to copy
	}
	// The block goes back to the cache on return: copy the value out.
	return bytes.Clone(it.val), kind, true, nil
}

// MayContain reports whether the table may hold an entry for ukey: false
// means it certainly does not. It is true when the table has no filter.
func (r *Reader) MayContain(ukey []byte) bool {
	if r.filter == nil {
		return true
	}
	return filterMayContain(r.filter, ukey)
}

// Properties returns the table's properties. Its slices must not be
// modified.
func (r *Reader) Properties() Properties { return r.props }

// Close closes the file. The Reader must not be used afterwards.
func (r *Reader) Close() error {
	return r.f.Close()
}

// Verify reads every block from the file, bypassing the cache, and checks
// every checksum, every block's structure, that keys are strictly
// increasing, that the index separates the blocks, and that the entries
// match the properties. It returns the first problem found.
func (r *Reader) Verify() error {
	fb := make([]byte, footerLen)
	if err := r.readAt(fb, r.size-footerLen); err != nil {
		return err
	}
	if _, err := decodeFooter(fb); err != nil {
		return r.corrupt(r.size-footerLen, err)
	}
	ft := r.footer
	index, err := r.readBlock(ft.index)
	if err != nil {
		return err
	}
	if ft.filter != (blockHandle{}) {
		b, err := r.readBlock(ft.filter)
		if err != nil {
			return err
		}
		if _, err := decodeFilter(b); err != nil {
			return r.corrupt(int64(ft.filter.Offset), fmt.Errorf("filter block: %w", err))
		}
	}
	b, err := r.readBlock(ft.properties)
	if err != nil {
		return err
	}
	if _, err := decodeProperties(b); err != nil {
		return r.corrupt(int64(ft.properties.Offset), fmt.Errorf("properties block: %w", err))
	}

	var ii, di blockIter
	if err := ii.init(index, int64(ft.index.Offset)); err != nil {
		return r.named(err)
	}
	var (
		prevKey, prevIndexKey, smallest []byte
		entries, blocks                 uint64
	)
	for ok := ii.First(); ok; ok = ii.Next() {
		h, err := r.dataHandle(ii.val)
		if err != nil {
			return err
		}
		data, err := r.readBlock(h)
		if err != nil {
			return err
		}
		if err := di.init(data, int64(h.Offset)); err != nil {
			return r.named(err)
		}
		n := 0
		for ok := di.First(); ok; ok = di.Next() {
			if prevKey != nil && base.Compare(prevKey, di.key) >= 0 {
				return r.corruptf(int64(h.Offset), "keys out of order: %q#%d after %q#%d",
					base.UserKey(di.key), base.Seq(di.key), base.UserKey(prevKey), base.Seq(prevKey))
			}
			if n == 0 && prevIndexKey != nil && base.Compare(prevIndexKey, di.key) >= 0 {
				return r.corruptf(int64(h.Offset), "first key of block is not above the previous index key")
			}
			if smallest == nil {
				smallest = bytes.Clone(di.key)
			}
			prevKey = append(prevKey[:0], di.key...)
			n++
		}
		if di.err != nil {
			return r.named(di.err)
		}
		if n == 0 {
			return r.corruptf(int64(h.Offset), "empty data block")
		}
		if base.Compare(prevKey, ii.key) > 0 {
			return r.corruptf(int64(ft.index.Offset), "index key below the last key of block at %d", h.Offset)
		}
		prevIndexKey = append(prevIndexKey[:0], ii.key...)
		entries += uint64(n)
		blocks++
	}
	if ii.err != nil {
		return r.named(ii.err)
	}
	p := r.props
	if entries != p.NumEntries || blocks != p.NumDataBlocks {
		return r.corruptf(int64(ft.properties.Offset), "table has %d entries in %d blocks, properties say %d in %d",
			entries, blocks, p.NumEntries, p.NumDataBlocks)
	}
	if entries > 0 && (!bytes.Equal(smallest, p.Smallest) || !bytes.Equal(prevKey, p.Largest)) {
		return r.corruptf(int64(ft.properties.Offset), "smallest/largest keys do not match the properties")
	}
	return nil
}

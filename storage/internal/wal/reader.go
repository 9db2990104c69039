package wal

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/minidbgo/minidbgo/storage/internal/base"
)

// Reader reads back the records of a log written by a Writer. It reads its
// source one block at a time and holds at most one block plus the record
// being assembled in memory, also while it scans a damaged tail.
//
// A Reader is not safe for concurrent use.
type Reader struct {
	src      io.Reader
	name     string
	tolerate bool

	blockOff int64 // file offset of buf[0]
	blen     int   // valid bytes in buf; < BlockSize only in the last block
	pos      int   // offset in buf of the next chunk
	loaded   bool  // buf holds a block

	rec     []byte // reused buffer for records of several chunks
	recOff  int64  // offset of the record last returned
	dropped int64  // bytes discarded as a torn tail
	dropAt  int64  // offset of the first byte discarded, when dropped > 0
	err     error  // sticky: io.EOF, a corruption or an I/O error

	buf [BlockSize]byte
}

// NewReader returns a Reader of the log in r, which must be positioned at
// the log's first byte. name identifies the log in errors.
func NewReader(r io.Reader, name string) *Reader {
	return &Reader{src: r, name: name}
}

// reset makes r read the log in src from its start, as NewReader would,
// but keeps r's buffers, saving their allocation when many logs are read.
func (r *Reader) reset(src io.Reader, name string) {
	r.src, r.name, r.tolerate = src, name, false
	r.blockOff, r.blen, r.pos, r.loaded = 0, 0, 0, false
	r.rec, r.recOff, r.dropped, r.dropAt, r.err = r.rec[:0], 0, 0, 0, nil
}

// SetTolerateCorruption sets whether damage in the middle of the log is an
// error (false, the default) or ends the log (true). With true, the first
// chunk that fails validation, and everything after it, is discarded:
// Next returns io.EOF and TailDropped reports the bytes discarded. Use it
// for point-in-time recovery. Call it before the first Next.
func (r *Reader) SetTolerateCorruption(tolerate bool) {
	r.tolerate = tolerate
}

// Offset returns the byte offset of the first chunk of the record last
// returned by Next. It is zero before the first record.
func (r *Reader) Offset() int64 {
	return r.recOff
}

// TailDropped returns, after Next has returned io.EOF, the number of bytes
// at the end of the log that were discarded as a torn tail (or, with
// SetTolerateCorruption(true), as damage): a partial chunk, zeros, garbage,
// or the chunks of a record whose last chunk is missing. It is 0 when the
// log ended cleanly.
func (r *Reader) TailDropped() int64 {
	return r.dropped
}

// TailOffset returns, when TailDropped is non-zero, the byte offset of
// the first byte discarded.
func (r *Reader) TailOffset() int64 {
	return r.dropAt
}

// chunk is a chunk accepted by nextChunk.
type chunk struct {
	typ     byte
	off     int64 // file offset of the header
	payload []byte
}

// badChunk describes a chunk that failed validation.
type badChunk struct {
	off    int64 // file offset of the damaged chunk
	reason string
	// torn is set when a crash can leave such a chunk at the end of a
	// log: a short header or payload, zeros, or garbage that is not a
	// chunk. It is false for a complete chunk that fails its checksum
	// (see the package comment), which only damage produces.
	torn bool
}

// Next returns the next record. The slice is valid until the next call to
// Next. At the end of the log, including when the rest of the log is a torn
// tail, Next returns io.EOF. When a chunk in the middle of the log is
// damaged, it returns a *base.CorruptionError with the chunk's offset,
// unless SetTolerateCorruption(true) was called. Errors are sticky.
func (r *Reader) Next() ([]byte, error) {
	if r.err != nil {
		return nil, r.err
	}
	inRecord := false
	var start int64 // offset of the FIRST chunk when inRecord
	for {
		c, bad, err := r.nextChunk()
		if err == io.EOF {
			if inRecord {
				// FIRST (and maybe MIDDLE) chunks without a LAST.
				return nil, r.endTail(start)
			}
			return nil, r.fail(io.EOF)
		}
		if err != nil {
			return nil, r.fail(err)
		}
		if bad != nil {
			return nil, r.damaged(*bad, inRecord, start)
		}
		switch c.typ {
		case chunkFull, chunkFirst:
			if inRecord {
				// A valid chunk follows the unfinished record, so it was
				// not torn off by a crash: some chunk went missing.
				return nil, r.outOfSequence(c, start, "record at offset %d has no LAST chunk", start)
			}
			if c.typ == chunkFull {
				r.recOff = c.off
				return c.payload, nil
			}
			inRecord, start = true, c.off
			r.rec = append(r.rec[:0], c.payload...)
		case chunkMiddle, chunkLast:
			if !inRecord {
				return nil, r.outOfSequence(c, c.off, "%s chunk without a FIRST chunk", typeName(c.typ))
			}
			r.rec = append(r.rec, c.payload...)
			if c.typ == chunkLast {
				r.recOff = start
				return r.rec, nil
			}
		}
	}
}

// nextChunk returns the next valid chunk, a description of the next chunk
// if it is not valid, io.EOF at the end of the input, or an I/O error.
func (r *Reader) nextChunk() (chunk, *badChunk, error) {
	for {
		if r.loaded {
			rem := r.blen - r.pos
			if rem >= headerSize {
				break
			}
			if r.blen < BlockSize {
				// The last, short block.
				if rem == 0 {
					return chunk{}, nil, io.EOF
				}
				return chunk{}, &badChunk{r.blockOff + int64(r.pos), "truncated chunk header", true}, nil
			}
			// Fewer than headerSize bytes left in a full block: padding.
		}
		ok, err := r.loadBlock()
		if err != nil {
			return chunk{}, nil, err
		}
		if !ok {
			return chunk{}, nil, io.EOF
		}
	}
	h := r.buf[r.pos : r.pos+headerSize]
	off := r.blockOff + int64(r.pos)
	crc := binary.LittleEndian.Uint32(h[0:4])
	length := int(binary.LittleEndian.Uint16(h[4:6]))
	typ := h[6]
	end := r.pos + headerSize + length
	switch {
	case typ == chunkZero && length == 0 && crc == 0:
		return chunk{}, &badChunk{off, "zeroed chunk header", true}, nil
	case typ < chunkFull || typ > chunkLast:
		// Garbage, unless the chunk checksums right with a known type:
		// then only its type byte is damaged.
		if r.damagedType(end, crc) {
			return chunk{}, &badChunk{off, fmt.Sprintf("unknown chunk type %d in a chunk whose checksum matches type 1-4", typ), false}, nil
		}
		return chunk{}, &badChunk{off, fmt.Sprintf("unknown chunk type %d", typ), true}, nil
	case end > r.blen:
		where := "the block"
		if r.blen < BlockSize {
			where = "the file"
		}
		// A write cut short leaves a payload whose checksum fails; if
		// what is there checksums right, the length field is damaged.
		if r.damagedLength(crc) {
			return chunk{}, &badChunk{off, fmt.Sprintf("chunk length %d runs past the end of %s, but the bytes up to it match the checksum", length, where), false}, nil
		}
		return chunk{}, &badChunk{off, fmt.Sprintf("chunk length %d runs past the end of %s", length, where), true}, nil
	case chunkCRC(r.buf[r.pos+6:end]) != crc:
		if r.zeroSector(off+headerSize, r.blockOff+int64(end)) {
			// Sectors of a file extended by a write that never reached
			// the disk read as zeros after a power cut.
			return chunk{}, &badChunk{off, "chunk checksum mismatch (a sector of zeros)", true}, nil
		}
		return chunk{}, &badChunk{off, "chunk checksum mismatch", false}, nil
	}
	c := chunk{typ: typ, off: off, payload: r.buf[r.pos+headerSize : end]}
	r.pos = end
	return c, nil, nil
}

// sectorSize is the granularity at which a power cut can leave the blocks
// of a file written or not: a sector that never reached the disk reads as
// zeros.
const sectorSize = 512

// zeroSector reports whether a sector that starts at a file offset in
// [lo, hi) of the current block reads as zeros up to its end or the end of
// the input, which is what a power cut leaves of an unwritten sector.
func (r *Reader) zeroSector(lo, hi int64) bool {
	for q := (lo + sectorSize - 1) / sectorSize * sectorSize; q < hi; q += sectorSize {
		p := int(q - r.blockOff)
		if p >= r.blen {
			break
		}
		if isZero(r.buf[p:min(p+sectorSize, r.blen)]) {
			return true
		}
	}
	return false
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// damagedType reports whether the chunk at r.pos, whose type is unknown,
// fits in the block and checksums right with one of the known types.
func (r *Reader) damagedType(end int, crc uint32) bool {
	if end > r.blen {
		return false
	}
	b := r.buf[r.pos+6 : end]
	saved := b[0]
	defer func() { b[0] = saved }()
	for t := byte(chunkFull); t <= chunkLast; t++ {
		b[0] = t
		if chunkCRC(b) == crc {
			return true
		}
	}
	return false
}

// damagedLength reports whether the chunk at r.pos, whose length runs past
// the data, checksums right over the data that is there, up to its end or
// up to the few bytes of zero padding a writer leaves at a block's end.
func (r *Reader) damagedLength(crc uint32) bool {
	for k := 0; k < headerSize && r.blen-k >= r.pos+headerSize; k++ {
		if chunkCRC(r.buf[r.pos+6:r.blen-k]) == crc {
			return true
		}
		if r.buf[r.blen-k-1] != 0 {
			break // padding is zeros
		}
	}
	return false
}

// loadBlock reads the next block into buf. It reports false at the end of
// the input.
func (r *Reader) loadBlock() (bool, error) {
	if r.loaded {
		if r.blen < BlockSize {
			return false, nil
		}
		r.blockOff += int64(r.blen)
	}
	n, err := io.ReadFull(r.src, r.buf[:])
	r.loaded, r.blen, r.pos = true, n, 0
	switch err {
	case nil, io.ErrUnexpectedEOF:
		return true, nil
	case io.EOF:
		return false, nil
	}
	return false, fmt.Errorf("wal: reading %s at offset %d: %w", r.name, r.blockOff+int64(n), err)
}

// damaged handles a chunk that failed validation. Unless corruption is
// tolerated, a chunk no crash can leave (complete, with a checksum that
// fails) is corruption wherever it is. Otherwise it scans the rest of the
// input for a valid chunk: if there is one, the damage is in the middle of
// the log and is reported as corruption; if not, the log ends in a torn
// tail, which is dropped.
func (r *Reader) damaged(bad badChunk, inRecord bool, start int64) error {
	from := bad.off
	if inRecord {
		from = start
	}
	if r.tolerate {
		return r.endTail(from)
	}
	if !bad.torn {
		return r.fail(base.Corruptf(r.name, bad.off, "wal: %s: a complete chunk, not a torn write", bad.reason))
	}
	found, err := r.scanForValidChunk(bad.off)
	if err != nil {
		return r.fail(err)
	}
	if found >= 0 {
		return r.fail(base.Corruptf(r.name, bad.off, "wal: %s (a valid chunk follows at offset %d)", bad.reason, found))
	}
	return r.endTail(from)
}

// outOfSequence handles a valid chunk that cannot follow its predecessor. A
// crash cannot produce one, so it is corruption unless tolerated, in which
// case the log ends at from.
func (r *Reader) outOfSequence(c chunk, from int64, format string, args ...any) error {
	if r.tolerate {
		return r.endTail(from)
	}
	return r.fail(base.Corruptf(r.name, c.off, "wal: unexpected %s chunk: "+format,
		append([]any{typeName(c.typ)}, args...)...))
}

// endTail ends the log with io.EOF, counting every byte from offset from to
// the end of the input as dropped.
func (r *Reader) endTail(from int64) error {
	for {
		ok, err := r.loadBlock()
		if err != nil {
			return r.fail(err)
		}
		if !ok {
			break
		}
	}
	if end := r.blockOff + int64(r.blen); end > from {
		r.dropped, r.dropAt = end-from, from
	}
	return r.fail(io.EOF)
}

// scanForValidChunk looks for a valid chunk starting at any byte offset
// after off, which must lie in the current block, reading the input to its
// end if need be. It returns the chunk's offset, or -1 if there is none.
func (r *Reader) scanForValidChunk(off int64) (int64, error) {
	pos := int(off-r.blockOff) + 1
	for {
		if p := findValidChunk(r.buf[:r.blen], pos); p >= 0 {
			return r.blockOff + int64(p), nil
		}
		ok, err := r.loadBlock()
		if err != nil || !ok {
			return -1, err
		}
		pos = 0
	}
}

// fail makes err sticky and returns it.
func (r *Reader) fail(err error) error {
	r.err = err
	return err
}

func typeName(typ byte) string {
	switch typ {
	case chunkFull:
		return "FULL"
	case chunkFirst:
		return "FIRST"
	case chunkMiddle:
		return "MIDDLE"
	case chunkLast:
		return "LAST"
	}
	return fmt.Sprintf("type-%d", typ)
}

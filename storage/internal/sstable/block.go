package sstable

import (
	"encoding/binary"

	"github.com/minidbgo/minidbgo/storage/internal/base"
)

// blockWriter builds a data or index block; see the package comment for
// the layout.
type blockWriter struct {
	restartInterval int
	buf             []byte
	restarts        []uint32
	sinceRestart    int // entries since the last restart point
	entries         int
	prevKey         []byte
}

func (w *blockWriter) add(key, value []byte) {
	shared := 0
	if w.entries > 0 && w.sinceRestart < w.restartInterval {
		n := min(len(w.prevKey), len(key))
		for shared < n && w.prevKey[shared] == key[shared] {
			shared++
		}
	} else {
		w.restarts = append(w.restarts, uint32(len(w.buf)))
		w.sinceRestart = 0
	}
	w.buf = binary.AppendUvarint(w.buf, uint64(shared))
	w.buf = binary.AppendUvarint(w.buf, uint64(len(key)-shared))
	w.buf = binary.AppendUvarint(w.buf, uint64(len(value)))
	w.buf = append(w.buf, key[shared:]...)
	w.buf = append(w.buf, value...)
	w.prevKey = append(w.prevKey[:0], key...)
	w.sinceRestart++
	w.entries++
}

// estimatedSize returns the size of the block if finished now.
func (w *blockWriter) estimatedSize() int {
	return len(w.buf) + 4*max(len(w.restarts), 1) + 4
}

// finish appends the restart array and returns the block, which stays
// valid until the next reset.
func (w *blockWriter) finish() []byte {
	if len(w.restarts) == 0 {
		w.restarts = append(w.restarts, 0)
	}
	for _, r := range w.restarts {
		w.buf = binary.LittleEndian.AppendUint32(w.buf, r)
	}
	w.buf = binary.LittleEndian.AppendUint32(w.buf, uint32(len(w.restarts)))
	return w.buf
}

func (w *blockWriter) reset() {
	w.buf = w.buf[:0]
	w.restarts = w.restarts[:0]
	w.sinceRestart = 0
	w.entries = 0
	w.prevKey = w.prevKey[:0]
}

// blockIter iterates over the entries of one block, whose keys are internal
// keys. It never trusts the block: every length and offset is checked, and
// malformed content stops the iteration with a CorruptionError.
//
// Key is a buffer reused across positioning calls; Value aliases the block.
type blockIter struct {
	data        []byte
	restarts    int // offset of the restart array: the end of the entries
	numRestarts int
	next        int // offset of the entry after the current one
	key         []byte
	val         []byte
	valid       bool
	err         error

	// blockOff locates the block in errors; the Reader adds the file name
	// (Reader.named).
	blockOff int64
}

// init positions the iterator before the first entry of data. It keeps
// the key buffer.
func (i *blockIter) init(data []byte, blockOff int64) error {
	*i = blockIter{data: data, key: i.key[:0], blockOff: blockOff}
	if len(data) < 4 {
		return i.corruptf("block too short (%d bytes)", len(data))
	}
	n := binary.LittleEndian.Uint32(data[len(data)-4:])
	if n == 0 || uint64(n) > uint64(len(data)-4)/4 {
		return i.corruptf("bad restart count %d for a %d-byte block", n, len(data))
	}
	i.numRestarts = int(n)
	i.restarts = len(data) - 4 - 4*i.numRestarts
	return nil
}

func (i *blockIter) corruptf(format string, args ...any) error {
	i.err = base.Corruptf("", i.blockOff, format, args...)
	i.valid = false
	return i.err
}

// entryHeader decodes the three varints that start an entry: shared,
// unshared and value lengths. n is the header's length, or 0 if it is
// malformed. The fast path covers one-byte key lengths and values shorter
// than 16 KiB.
func entryHeader(b []byte) (shared, unshared, vlen uint64, n int) {
	if len(b) >= 4 && b[0]|b[1] < 0x80 {
		if b[2] < 0x80 {
			return uint64(b[0]), uint64(b[1]), uint64(b[2]), 3
		}
		if b[3] < 0x80 {
			return uint64(b[0]), uint64(b[1]), uint64(b[2]&0x7f) | uint64(b[3])<<7, 4
		}
	}
	return entryHeaderSlow(b)
}

func entryHeaderSlow(b []byte) (shared, unshared, vlen uint64, n int) {
	var v [3]uint64
	for j := range v {
		x, k := binary.Uvarint(b[n:])
		if k <= 0 {
			return 0, 0, 0, 0
		}
		v[j] = x
		n += k
	}
	return v[0], v[1], v[2], n
}

// decodeAt decodes the entry at off into key and val. It reports false at
// the end of the block or on corruption (then i.err is set).
func (i *blockIter) decodeAt(off int) bool {
	if off >= i.restarts {
		i.valid = false
		return false
	}
	shared, unshared, vlen, n := entryHeader(i.data[off:i.restarts])
	if n == 0 {
		i.corruptf("bad entry header at block offset %d", off)
		return false
	}
	p := off + n
	if shared > uint64(len(i.key)) {
		i.corruptf("shared length %d exceeds previous key length %d at block offset %d", shared, len(i.key), off)
		return false
	}
	if unshared > uint64(i.restarts-p) {
		i.corruptf("key overflows block at block offset %d", off)
		return false
	}
	i.key = append(i.key[:shared], i.data[p:p+int(unshared)]...)
	p += int(unshared)
	if vlen > uint64(i.restarts-p) {
		i.corruptf("value overflows block at block offset %d", off)
		return false
	}
	if len(i.key) < base.TrailerLen || i.key[len(i.key)-base.TrailerLen] > byte(base.KindSet) {
		i.corruptf("invalid internal key at block offset %d", off)
		return false
	}
	i.val = i.data[p : p+int(vlen) : p+int(vlen)]
	i.next = p + int(vlen)
	i.valid = true
	return true
}

// restartKey returns the key stored at restart point r, which is stored
// whole and aliases the block.
func (i *blockIter) restartKey(r int) ([]byte, bool) {
	off := int(binary.LittleEndian.Uint32(i.data[i.restarts+4*r:]))
	if off >= i.restarts {
		i.corruptf("restart point %d out of range", r)
		return nil, false
	}
	shared, unshared, _, n := entryHeader(i.data[off:i.restarts])
	p := off + n
	if n == 0 || shared != 0 || unshared > uint64(i.restarts-p) || unshared < base.TrailerLen {
		i.corruptf("bad restart entry at block offset %d", off)
		return nil, false
	}
	return i.data[p : p+int(unshared)], true
}

// seekRestart positions the iterator at restart point r.
func (i *blockIter) seekRestart(r int) bool {
	off := int(binary.LittleEndian.Uint32(i.data[i.restarts+4*r:]))
	if off > i.restarts {
		i.corruptf("restart point %d out of range", r)
		return false
	}
	i.key = i.key[:0]
	return i.decodeAt(off)
}

// First moves to the first entry.
func (i *blockIter) First() bool {
	if i.err != nil {
		return false
	}
	return i.seekRestart(0)
}

// Next moves to the following entry.
func (i *blockIter) Next() bool {
	if !i.valid {
		return false
	}
	return i.decodeAt(i.next)
}

// SeekGE moves to the first entry whose key is >= target, an internal key.
func (i *blockIter) SeekGE(target []byte) bool {
	if i.err != nil {
		return false
	}
	if i.restarts == 0 { // an empty block
		i.valid = false
		return false
	}
	// Find the first restart point whose key is >= target; the answer is
	// between the restart point before it and that one.
	lo, hi := 0, i.numRestarts
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		k, ok := i.restartKey(mid)
		if !ok {
			return false
		}
		if base.Compare(k, target) < 0 {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if !i.seekRestart(max(lo-1, 0)) {
		return false
	}
	for base.Compare(i.key, target) < 0 {
		if !i.Next() {
			return false
		}
	}
	return true
}

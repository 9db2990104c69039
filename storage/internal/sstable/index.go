package sstable

import (
	"bytes"
	"encoding/binary"

	"github.com/minidbgo/minidbgo/storage/internal/base"
)

// indexSearch speeds up point lookups in the index block, which a Get
// binary-searches over every entry. A probe of the block itself costs two
// dependent memory loads far apart (the restart offset, then the entry);
// indexSearch keeps, per index entry, 8 bytes of its user key after the
// prefix common to the whole index, in one dense array. A Get searches the
// array first and compares whole keys only among the entries whose 8 bytes
// equal the search key's, usually none or one.
//
// It is built by Open when the index block has a restart point at every
// entry (as the Writer always writes it); otherwise Get searches the block
// as before. It is memory only: the file format is unchanged.
type indexSearch struct {
	common []byte   // the user-key prefix shared by every index key
	words  []uint64 // words[i]: 8 bytes of entry i's user key after common
}

// wordAfter returns the 8 bytes of ukey that follow n bytes, big-endian,
// zero-padded. It is monotone: ukey1 < ukey2 implies
// wordAfter(ukey1) <= wordAfter(ukey2) when both start with the same n
// bytes.
func wordAfter(ukey []byte, n int) uint64 {
	if n >= len(ukey) {
		return 0
	}
	rest := ukey[n:]
	if len(rest) >= 8 {
		return binary.BigEndian.Uint64(rest)
	}
	var b [8]byte
	copy(b[:], rest)
	return binary.BigEndian.Uint64(b[:])
}

// buildIndexSearch returns the search array of an index block, or nil when
// the block is empty, damaged (the block search reports the damage when a
// Get meets it) or does not have one restart point per entry.
func buildIndexSearch(index []byte, blockOff int64) *indexSearch {
	var it blockIter
	if it.init(index, blockOff) != nil || it.restarts == 0 {
		return nil
	}
	keys := make([][]byte, it.numRestarts)
	for r := range keys {
		k, ok := it.restartKey(r)
		if !ok {
			return nil
		}
		keys[r] = base.UserKey(k)
	}
	// One restart point per entry: the entries, counted, match.
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		n++
	}
	if it.err != nil || n != it.numRestarts {
		return nil
	}
	first, last := keys[0], keys[n-1]
	l := 0
	for l < len(first) && l < len(last) && first[l] == last[l] {
		l++
	}
	s := &indexSearch{common: bytes.Clone(first[:l]), words: make([]uint64, n)}
	for i, k := range keys {
		s.words[i] = wordAfter(k, l)
	}
	return s
}

// seekGE positions it, an iterator over the index block s was built from,
// at the first entry whose key is >= target, an internal key.
func (s *indexSearch) seekGE(it *blockIter, target []byte) bool {
	if it.err != nil {
		return false
	}
	n := len(s.words)
	ukey := base.UserKey(target)
	var lo, hi int
	switch c := bytes.Compare(ukey[:min(len(ukey), len(s.common))], s.common); {
	case c < 0 || (c == 0 && len(ukey) < len(s.common)):
		// Below every key (the common prefix is a prefix of all of them).
		lo, hi = 0, 0
	case c > 0:
		lo, hi = n, n
	default:
		w := wordAfter(ukey, len(s.common))
		// lo: first word >= w; hi: first word > w.
		lo, hi = 0, n
		for lo < hi {
			mid := int(uint(lo+hi) >> 1)
			if s.words[mid] < w {
				lo = mid + 1
			} else {
				hi = mid
			}
		}
		hi = lo
		for hi < n && s.words[hi] == w {
			hi++
		}
	}
	// Every entry before lo is below target and every entry from hi on
	// is above it: compare whole keys in between.
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		k, ok := it.restartKey(mid)
		if !ok {
			return false
		}
		if base.Compare(k, target) < 0 {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo >= n {
		it.valid = false
		return false
	}
	return it.seekRestart(lo)
}

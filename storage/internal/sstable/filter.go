package sstable

import (
	"encoding/binary"
	"errors"
	"math"

	"github.com/bits-and-blooms/bloom/v3"
)

// filterHash is the 64-bit FNV-1a hash of a user key. The bloom filter holds
// the 8-byte little-endian encoding of this hash rather than the key itself,
// so that the writer can buffer 8 bytes per key until it knows how many
// keys the table has. A 64-bit collision between two user keys only adds a
// false positive.
func filterHash(ukey []byte) uint64 {
	const (
		offset64 = 14695981039346656037
		prime64  = 1099511628211
	)
	h := uint64(offset64)
	for _, c := range ukey {
		h ^= uint64(c)
		h *= prime64
	}
	return h
}

// filterProbes returns k = round(bitsPerKey * ln 2), at least 1 and at
// most 30.
func filterProbes(bitsPerKey int) uint {
	k := uint(math.Round(float64(bitsPerKey) * math.Ln2))
	return min(max(k, 1), 30)
}

// buildFilter returns the serialized bloom filter over the given key
// hashes: m = bitsPerKey*len(hashes) bits, k = filterProbes(bitsPerKey).
func buildFilter(hashes []uint64, bitsPerKey int) ([]byte, error) {
	f := bloom.New(uint(bitsPerKey)*uint(len(hashes)), filterProbes(bitsPerKey))
	var b [8]byte
	for _, h := range hashes {
		binary.LittleEndian.PutUint64(b[:], h)
		f.Add(b[:])
	}
	return f.MarshalBinary()
}

// The serialized bloom filter (bloom/v3 MarshalBinary), all big-endian:
//
//	m uint64 | k uint64 | bitset length uint64 (= m) | ceil(m/64) words uint64
const filterHeaderLen = 24

// decodeFilter validates a serialized filter before handing it to the bloom
// package, whose decoder trusts the lengths it reads.
func decodeFilter(b []byte) (*bloom.BloomFilter, error) {
	if len(b) < filterHeaderLen {
		return nil, errors.New("filter too short")
	}
	m := binary.BigEndian.Uint64(b)
	k := binary.BigEndian.Uint64(b[8:])
	bits := binary.BigEndian.Uint64(b[16:])
	if m == 0 || k == 0 || k > 30 || bits != m {
		return nil, errors.New("bad filter parameters")
	}
	if words := (m + 63) / 64; words > uint64(len(b)-filterHeaderLen)/8 ||
		uint64(len(b)-filterHeaderLen) != words*8 {
		return nil, errors.New("filter length does not match its bit count")
	}
	f := new(bloom.BloomFilter)
	if err := f.UnmarshalBinary(b); err != nil {
		return nil, err
	}
	return f, nil
}

// filterMayContain reports whether the filter may hold ukey.
func filterMayContain(f *bloom.BloomFilter, ukey []byte) bool {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], filterHash(ukey))
	return f.Test(b[:])
}

package wal

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
)

// BlockSize is the size of a log block. Chunks never cross a block boundary.
const BlockSize = 32 << 10

// headerSize is the size of a chunk header: checksum, length, type.
const headerSize = 7

// Chunk types. Type 0 is reserved: it is what zero padding and preallocated
// space decode as, and it is never written.
const (
	chunkZero   = 0
	chunkFull   = 1
	chunkFirst  = 2
	chunkMiddle = 3
	chunkLast   = 4
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// crcMaskDelta is LevelDB's masking constant.
const crcMaskDelta = 0xa282ead8

// chunkCRC returns the masked CRC-32C of b, which is a chunk's type byte
// followed by its payload.
func chunkCRC(b []byte) uint32 {
	c := crc32.Checksum(b, crcTable)
	return (c>>15 | c<<17) + crcMaskDelta
}

// validChunkAt reports whether buf[pos:] starts with a chunk whose type is
// known, whose payload lies within buf and whose checksum matches.
func validChunkAt(buf []byte, pos int) bool {
	if len(buf)-pos < headerSize {
		return false
	}
	typ := buf[pos+6]
	if typ < chunkFull || typ > chunkLast {
		return false
	}
	end := pos + headerSize + int(binary.LittleEndian.Uint16(buf[pos+4:pos+6]))
	if end > len(buf) {
		return false
	}
	return chunkCRC(buf[pos+6:end]) == binary.LittleEndian.Uint32(buf[pos:pos+4])
}

// findValidChunk returns the offset of the first valid chunk in b that
// starts at or after from, or -1 if there is none. Rather than test every
// offset, it visits only those whose type byte (at offset+6) is a known
// type, finding them with the vectorized bytes.IndexByte; zeros, the usual
// content of a torn tail, are skipped at memory speed.
func findValidChunk(b []byte, from int) int {
	q := from + 6 // type byte of the first candidate
	if q >= len(b) {
		return -1
	}
	// next[t-1] is the index of the next byte equal to t at or after q.
	var next [chunkLast]int
	for i := range next {
		next[i] = indexByteFrom(b, q, byte(i+1))
	}
	for {
		i := 0
		for j := 1; j < len(next); j++ {
			if next[j] < next[i] {
				i = j
			}
		}
		q = next[i]
		if q >= len(b) {
			return -1
		}
		if validChunkAt(b, q-6) {
			return q - 6
		}
		next[i] = indexByteFrom(b, q+1, byte(i+1))
	}
}

// indexByteFrom returns the index of the first c in b at or after from, or
// len(b).
func indexByteFrom(b []byte, from int, c byte) int {
	if i := bytes.IndexByte(b[from:], c); i >= 0 {
		return from + i
	}
	return len(b)
}

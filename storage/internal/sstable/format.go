package sstable

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
)

const (
	// FormatVersion is the table format this package writes and the only
	// one it reads.
	FormatVersion uint32 = 1

	// tableMagic ends every table: the bytes "mdbgsst\x01" little-endian.
	tableMagic uint64 = 0x017473736762646d

	// blockTrailerLen is the length of the trailer after every block: a
	// compression type byte and a CRC32C.
	blockTrailerLen = 5

	// footerLen is the fixed length of the footer.
	footerLen = 3*16 + 4 + 4 + 8
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// blockChecksum is the CRC32C over a stored block followed by its
// compression type byte.
func blockChecksum(stored []byte, typ byte) uint32 {
	crc := crc32.Update(0, crcTable, stored)
	return crc32.Update(crc, crcTable, []byte{typ})
}

// blockHandle locates a block: Length excludes the trailer.
type blockHandle struct {
	Offset, Length uint64
}

// end returns the offset just past the block's trailer, or MaxUint64 on
// overflow.
func (h blockHandle) end() uint64 {
	e := h.Offset + h.Length + blockTrailerLen
	if e < h.Offset || h.Length > math.MaxUint64-blockTrailerLen {
		return math.MaxUint64
	}
	return e
}

func appendHandle(dst []byte, h blockHandle) []byte {
	dst = binary.AppendUvarint(dst, h.Offset)
	return binary.AppendUvarint(dst, h.Length)
}

var errBadHandle = errors.New("bad block handle")

// decodeHandle decodes a varint-encoded handle that must fill b exactly.
func decodeHandle(b []byte) (blockHandle, error) {
	off, n := binary.Uvarint(b)
	if n <= 0 {
		return blockHandle{}, errBadHandle
	}
	length, m := binary.Uvarint(b[n:])
	if m <= 0 || n+m != len(b) {
		return blockHandle{}, errBadHandle
	}
	return blockHandle{off, length}, nil
}

// footer is the fixed-size end of a table.
type footer struct {
	filter, index, properties blockHandle
	version                   uint32
}

func (f footer) encode() []byte {
	b := make([]byte, 0, footerLen)
	for _, h := range []blockHandle{f.filter, f.index, f.properties} {
		b = binary.LittleEndian.AppendUint64(b, h.Offset)
		b = binary.LittleEndian.AppendUint64(b, h.Length)
	}
	b = binary.LittleEndian.AppendUint32(b, f.version)
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, crcTable))
	return binary.LittleEndian.AppendUint64(b, tableMagic)
}

// decodeFooter checks the magic number, the checksum and the version, in
// that order, so that the error names the most basic problem.
func decodeFooter(b []byte) (footer, error) {
	if len(b) != footerLen {
		return footer{}, errors.New("bad footer length")
	}
	if binary.LittleEndian.Uint64(b[footerLen-8:]) != tableMagic {
		return footer{}, errors.New("bad magic number: not an sstable")
	}
	if crc32.Checksum(b[:footerLen-12], crcTable) != binary.LittleEndian.Uint32(b[footerLen-12:]) {
		return footer{}, errors.New("footer checksum mismatch")
	}
	var f footer
	hs := []*blockHandle{&f.filter, &f.index, &f.properties}
	for i, h := range hs {
		h.Offset = binary.LittleEndian.Uint64(b[16*i:])
		h.Length = binary.LittleEndian.Uint64(b[16*i+8:])
	}
	f.version = binary.LittleEndian.Uint32(b[48:])
	if f.version != FormatVersion {
		return footer{}, fmt.Errorf("unknown format version %d", f.version)
	}
	return f, nil
}

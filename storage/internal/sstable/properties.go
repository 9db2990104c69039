package sstable

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/minidbgo/minidbgo/storage/internal/base"
)

// Properties describe a table; the writer records them in the properties
// block. Slices alias the Reader's copy and must not be modified.
type Properties struct {
	NumEntries    uint64 // entries of any kind
	NumDeletions  uint64 // entries of kind DEL
	NumDataBlocks uint64
	RawKeyBytes   uint64 // sum of internal key lengths
	RawValueBytes uint64 // sum of value lengths
	// DataBytes is the on-disk size of the data blocks, trailers included.
	DataBytes uint64
	// IndexBytes and FilterBytes are the on-disk sizes of the index and
	// filter blocks, trailers excluded.
	IndexBytes  uint64
	FilterBytes uint64
	// Smallest and Largest are the first and last internal keys; nil for an
	// empty table.
	Smallest, Largest []byte
	// SmallestSeq and LargestSeq bound the sequence numbers of all entries.
	SmallestSeq, LargestSeq base.SeqNum
	// Compression is the writer's configured data block compression; blocks
	// that did not compress well are stored uncompressed anyway.
	Compression     Compression
	BloomBitsPerKey uint64
	FormatVersion   uint32
}

// Property tags. The properties block is a sequence of
//
//	tag uvarint | length uvarint | value (length bytes)
//
// where numeric values are a single uvarint filling the value. Readers skip
// unknown tags, so properties can be added without a format version bump.
const (
	propNumEntries = iota + 1
	propNumDeletions
	propNumDataBlocks
	propRawKeyBytes
	propRawValueBytes
	propDataBytes
	propIndexBytes
	propFilterBytes
	propSmallest
	propLargest
	propSmallestSeq
	propLargestSeq
	propCompression
	propBloomBitsPerKey
	propFormatVersion
)

func (p *Properties) encode() []byte {
	var b []byte
	num := func(tag int, v uint64) {
		b = binary.AppendUvarint(b, uint64(tag))
		var tmp [binary.MaxVarintLen64]byte
		n := binary.PutUvarint(tmp[:], v)
		b = binary.AppendUvarint(b, uint64(n))
		b = append(b, tmp[:n]...)
	}
	bytes := func(tag int, v []byte) {
		b = binary.AppendUvarint(b, uint64(tag))
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	num(propNumEntries, p.NumEntries)
	num(propNumDeletions, p.NumDeletions)
	num(propNumDataBlocks, p.NumDataBlocks)
	num(propRawKeyBytes, p.RawKeyBytes)
	num(propRawValueBytes, p.RawValueBytes)
	num(propDataBytes, p.DataBytes)
	num(propIndexBytes, p.IndexBytes)
	num(propFilterBytes, p.FilterBytes)
	if p.NumEntries > 0 {
		bytes(propSmallest, p.Smallest)
		bytes(propLargest, p.Largest)
	}
	num(propSmallestSeq, uint64(p.SmallestSeq))
	num(propLargestSeq, uint64(p.LargestSeq))
	num(propCompression, uint64(p.Compression))
	num(propBloomBitsPerKey, p.BloomBitsPerKey)
	num(propFormatVersion, uint64(p.FormatVersion))
	return b
}

// decodeProperties decodes and sanity-checks a properties block. The
// returned keys alias b.
func decodeProperties(b []byte) (Properties, error) {
	var p Properties
	for len(b) > 0 {
		tag, n := binary.Uvarint(b)
		if n <= 0 {
			return Properties{}, errors.New("bad property tag")
		}
		b = b[n:]
		l, n := binary.Uvarint(b)
		if n <= 0 || l > uint64(len(b)-n) {
			return Properties{}, errors.New("bad property length")
		}
		v := b[n : n+int(l) : n+int(l)]
		b = b[n+int(l):]
		var num uint64
		switch tag {
		case propSmallest, propLargest:
		default:
			var m int
			num, m = binary.Uvarint(v)
			if m <= 0 || m != len(v) {
				return Properties{}, fmt.Errorf("bad value for property %d", tag)
			}
		}
		switch tag {
		case propNumEntries:
			p.NumEntries = num
		case propNumDeletions:
			p.NumDeletions = num
		case propNumDataBlocks:
			p.NumDataBlocks = num
		case propRawKeyBytes:
			p.RawKeyBytes = num
		case propRawValueBytes:
			p.RawValueBytes = num
		case propDataBytes:
			p.DataBytes = num
		case propIndexBytes:
			p.IndexBytes = num
		case propFilterBytes:
			p.FilterBytes = num
		case propSmallest:
			p.Smallest = v
		case propLargest:
			p.Largest = v
		case propSmallestSeq:
			p.SmallestSeq = base.SeqNum(num)
		case propLargestSeq:
			p.LargestSeq = base.SeqNum(num)
		case propCompression:
			if num > uint64(ZstdCompression) {
				return Properties{}, fmt.Errorf("unknown compression %d", num)
			}
			p.Compression = Compression(num)
		case propBloomBitsPerKey:
			p.BloomBitsPerKey = num
		case propFormatVersion:
			if num > 1<<32-1 {
				return Properties{}, errors.New("bad format version")
			}
			p.FormatVersion = uint32(num)
		}
	}
	if p.NumEntries > 0 {
		if !base.Valid(p.Smallest) || !base.Valid(p.Largest) || base.Compare(p.Smallest, p.Largest) > 0 {
			return Properties{}, errors.New("bad smallest/largest keys")
		}
	} else if len(p.Smallest) != 0 || len(p.Largest) != 0 {
		return Properties{}, errors.New("keys in an empty table")
	}
	if p.NumDeletions > p.NumEntries || p.SmallestSeq > p.LargestSeq {
		return Properties{}, errors.New("inconsistent properties")
	}
	return p, nil
}

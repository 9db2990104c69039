package sstable

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
)

// maxCompressedBlockLen is the largest uncompressed block the writer
// compresses and the largest output decompression may produce. Larger blocks
// (which hold a single huge entry) are stored uncompressed, so the reader
// never allocates more than this for a compressed block, however it was
// crafted: a decompression bomb is a corruption error.
const maxCompressedBlockLen = 4 << 20

var (
	zstdEncoder = sync.OnceValue(func() *zstd.Encoder {
		e, err := zstd.NewWriter(nil,
			zstd.WithEncoderLevel(zstd.SpeedFastest),
			zstd.WithEncoderCRC(false), // every block has a CRC32C already
			zstd.WithLowerEncoderMem(true),
		)
		if err != nil {
			panic(err) // only invalid options fail
		}
		return e
	})
	zstdDecoder = sync.OnceValue(func() *zstd.Decoder {
		d, err := zstd.NewReader(nil,
			zstd.WithDecoderConcurrency(0),
			zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxMemory(maxCompressedBlockLen),
			zstd.WithDecodeAllCapLimit(true),
		)
		if err != nil {
			panic(err) // only invalid options fail
		}
		return d
	})
)

// compressBlock compresses raw with c into buf (reused when large enough)
// and returns the bytes to store and the compression actually used: raw
// itself and NoCompression when compressing saves less than 12.5%, when raw
// is larger than maxCompressedBlockLen, or when c is unknown.
func compressBlock(buf, raw []byte, c Compression) ([]byte, Compression) {
	if len(raw) > maxCompressedBlockLen {
		return raw, NoCompression
	}
	var out []byte
	switch c {
	case S2Compression:
		out = s2.Encode(buf[:cap(buf)], raw)
	case ZstdCompression:
		// A varint of the decoded length lets the reader bound and
		// preallocate the output.
		out = binary.AppendUvarint(buf[:0], uint64(len(raw)))
		out = zstdEncoder().EncodeAll(raw, out)
	default:
		return raw, NoCompression
	}
	if len(out) >= len(raw)-len(raw)/8 {
		return raw, NoCompression
	}
	return out, c
}

var errBlockTooLarge = fmt.Errorf("decompressed block larger than %d bytes", maxCompressedBlockLen)

// decompressBlock decodes a stored block of compression type typ. The
// result may alias stored. It never produces more than
// maxCompressedBlockLen bytes from a compressed block.
func decompressBlock(typ byte, stored []byte) ([]byte, error) {
	if Compression(typ) == NoCompression {
		return stored, nil
	}
	n, err := decompressedLen(typ, stored)
	if err != nil {
		return nil, err
	}
	out := make([]byte, n)
	if err := decompressInto(out, typ, stored); err != nil {
		return nil, err
	}
	return out, nil
}

// decompressedLen returns the size of the block a stored block of type typ
// decompresses to.
func decompressedLen(typ byte, stored []byte) (int, error) {
	var n uint64
	switch Compression(typ) {
	case NoCompression:
		return len(stored), nil
	case S2Compression:
		m, err := s2.DecodedLen(stored)
		if err != nil {
			return 0, fmt.Errorf("s2: %w", err)
		}
		n = uint64(m)
	case ZstdCompression:
		m, k := binary.Uvarint(stored)
		if k <= 0 {
			return 0, errors.New("zstd: bad length prefix")
		}
		n = m
	default:
		return 0, fmt.Errorf("unknown compression type %d", typ)
	}
	if n > maxCompressedBlockLen {
		return 0, errBlockTooLarge
	}
	return int(n), nil
}

// decompressInto decompresses a stored block of type typ into dst, whose
// length decompressedLen gave.
func decompressInto(dst []byte, typ byte, stored []byte) error {
	switch Compression(typ) {
	case NoCompression:
		copy(dst, stored)
		return nil
	case S2Compression:
		out, err := s2.Decode(dst, stored)
		if err != nil {
			return fmt.Errorf("s2: %w", err)
		}
		if len(out) != len(dst) || (len(out) > 0 && &out[0] != &dst[0]) {
			return fmt.Errorf("s2: decoded %d bytes, want %d", len(out), len(dst))
		}
		return nil
	case ZstdCompression:
		_, k := binary.Uvarint(stored)
		out, err := zstdDecoder().DecodeAll(stored[k:], dst[:0])
		if err != nil {
			return fmt.Errorf("zstd: %w", err)
		}
		if len(out) != len(dst) || (len(out) > 0 && &out[0] != &dst[0]) {
			return fmt.Errorf("zstd: decoded %d bytes, want %d", len(out), len(dst))
		}
		return nil
	}
	return fmt.Errorf("unknown compression type %d", typ)
}

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
	switch Compression(typ) {
	case NoCompression:
		return stored, nil
	case S2Compression:
		n, err := s2.DecodedLen(stored)
		if err != nil {
			return nil, fmt.Errorf("s2: %w", err)
		}
		if n > maxCompressedBlockLen {
			return nil, errBlockTooLarge
		}
		out, err := s2.Decode(make([]byte, n), stored)
		if err != nil {
			return nil, fmt.Errorf("s2: %w", err)
		}
		return out, nil
	case ZstdCompression:
		n, k := binary.Uvarint(stored)
		if k <= 0 {
			return nil, errors.New("zstd: bad length prefix")
		}
		if n > maxCompressedBlockLen {
			return nil, errBlockTooLarge
		}
		out, err := zstdDecoder().DecodeAll(stored[k:], make([]byte, 0, n))
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		if uint64(len(out)) != n {
			return nil, fmt.Errorf("zstd: decoded %d bytes, want %d", len(out), n)
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown compression type %d", typ)
}

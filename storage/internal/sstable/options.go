package sstable

import (
	"fmt"

	"github.com/minidbgo/minidbgo/storage/internal/cache"
)

// Compression selects how data blocks are compressed.
type Compression uint8

// The block compressions. Their values are stored on disk (in each block
// trailer and in the properties block) and must never change.
const (
	// NoCompression stores blocks as they are.
	NoCompression Compression = iota
	// S2Compression uses S2 (a faster Snappy) in block mode.
	S2Compression
	// ZstdCompression uses Zstandard at its fastest level.
	ZstdCompression
)

// ParseCompression parses "none", "s2" or "zstd".
func ParseCompression(s string) (Compression, error) {
	switch s {
	case "none":
		return NoCompression, nil
	case "s2":
		return S2Compression, nil
	case "zstd":
		return ZstdCompression, nil
	}
	return 0, fmt.Errorf("sstable: unknown compression %q (want none, s2 or zstd)", s)
}

// String returns the name ParseCompression accepts.
func (c Compression) String() string {
	switch c {
	case NoCompression:
		return "none"
	case S2Compression:
		return "s2"
	case ZstdCompression:
		return "zstd"
	}
	return fmt.Sprintf("compression(%d)", uint8(c))
}

// WriterOptions configure a Writer. The zero value is valid: every zero
// field selects its default.
type WriterOptions struct {
	// BlockSize is the target uncompressed size of a data block in bytes;
	// default 4096. A block is cut once it reaches this size, so a block
	// holding one large entry can be larger.
	BlockSize int
	// RestartInterval is the number of entries between restart points in a
	// data block; default 16.
	RestartInterval int
	// Compression is the data block compression; default NoCompression.
	Compression Compression
	// BloomBitsPerKey sizes the bloom filter; 0 writes no filter. 10 bits
	// per key give about 1% false positives.
	BloomBitsPerKey int
}

func (o WriterOptions) withDefaults() WriterOptions {
	if o.BlockSize <= 0 {
		o.BlockSize = 4096
	}
	if o.RestartInterval <= 0 {
		o.RestartInterval = 16
	}
	if o.BloomBitsPerKey < 0 {
		o.BloomBitsPerKey = 0
	}
	return o
}

// ReaderOptions configure a Reader. The zero value is valid.
type ReaderOptions struct {
	// Cache caches decompressed data blocks; nil disables caching. When
	// the table's file is deleted, the owner calls Cache.EvictFile(FileNum).
	Cache *cache.Cache
	// FileNum identifies the table in Cache. Tables sharing a Cache must
	// have distinct FileNums.
	FileNum uint64
	// FileName names the table in errors.
	FileName string
}

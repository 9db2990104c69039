package sstable

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/compress/s2"
	"github.com/stretchr/testify/require"
)

func TestCompressRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	random := make([]byte, 4096)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	text := bytes.Repeat([]byte(`{"_id":"user-000123","name":"Alice Smith","age":34}`), 80)
	for _, c := range []Compression{NoCompression, S2Compression, ZstdCompression} {
		// Compressible input is compressed (except with NoCompression).
		stored, typ := compressBlock(nil, text, c)
		require.Equal(t, c, typ)
		if c != NoCompression {
			require.Less(t, len(stored), len(text)/4)
		}
		out, err := decompressBlock(byte(typ), stored)
		require.NoError(t, err)
		require.Equal(t, text, out)

		// Incompressible input is stored as is.
		stored, typ = compressBlock(nil, random, c)
		require.Equal(t, NoCompression, typ)
		require.Equal(t, random, stored)

		// A buffer is reused when large enough.
		buf := make([]byte, 0, 64<<10)
		stored, _ = compressBlock(buf, text, c)
		if c != NoCompression {
			require.Equal(t, &buf[:1][0], &stored[:1][0])
		}
	}
}

func TestCompressThreshold(t *testing.T) {
	// Input that compresses by less than 12.5% is stored uncompressed:
	// 8 of every 9 bytes random, the rest a run.
	rng := rand.New(rand.NewPCG(2, 2))
	var b []byte
	for len(b) < 8192 {
		for range 64 {
			b = append(b, byte(rng.Uint32()))
		}
		b = append(b, make([]byte, 8)...)
	}
	for _, c := range []Compression{S2Compression, ZstdCompression} {
		stored, typ := compressBlock(nil, b, c)
		if typ != NoCompression {
			require.Less(t, len(stored), len(b)-len(b)/8)
		} else {
			require.Equal(t, b, stored)
		}
	}
}

func TestDecompressBomb(t *testing.T) {
	// 8 MiB of zeros compress to very little; a crafted block claiming
	// that must be refused before allocating.
	zeros := make([]byte, 2*maxCompressedBlockLen)
	s2Bomb := s2.Encode(nil, zeros)
	_, err := decompressBlock(byte(S2Compression), s2Bomb)
	require.ErrorIs(t, err, errBlockTooLarge)

	frame := zstdEncoder().EncodeAll(zeros, nil)
	zstdBomb := binary.AppendUvarint(nil, uint64(len(zeros)))
	_, err = decompressBlock(byte(ZstdCompression), append(zstdBomb, frame...))
	require.ErrorIs(t, err, errBlockTooLarge)

	// A lying small length prefix: the decoder stops at the prefix.
	liar := binary.AppendUvarint(nil, 1024)
	_, err = decompressBlock(byte(ZstdCompression), append(liar, frame...))
	require.Error(t, err)

	// Just over the limit and at the limit.
	over := make([]byte, maxCompressedBlockLen+1)
	_, err = decompressBlock(byte(S2Compression), s2.Encode(nil, over))
	require.ErrorIs(t, err, errBlockTooLarge)
	at := make([]byte, maxCompressedBlockLen)
	out, err := decompressBlock(byte(S2Compression), s2.Encode(nil, at))
	require.NoError(t, err)
	require.Len(t, out, maxCompressedBlockLen)

	// Raw blocks above the limit are never compressed.
	stored, typ := compressBlock(nil, over, ZstdCompression)
	require.Equal(t, NoCompression, typ)
	require.Len(t, stored, len(over))
}

func TestDecompressGarbage(t *testing.T) {
	for _, in := range [][]byte{nil, {0}, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, []byte("hello, world")} {
		for typ := range byte(5) {
			out, err := decompressBlock(typ, in)
			if err == nil {
				require.LessOrEqual(t, len(out), max(len(in), maxCompressedBlockLen))
			}
		}
	}
	_, err := decompressBlock(9, []byte("x"))
	require.ErrorContains(t, err, "unknown compression type 9")
}

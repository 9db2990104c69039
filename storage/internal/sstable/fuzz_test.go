package sstable

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/minidbgo/minidbgo/storage/internal/base"
	"github.com/minidbgo/minidbgo/storage/internal/cache"
)

// maxFuzzInput caps the fuzz inputs of this package's targets: each
// iteration's work and allocation stay bounded whatever the fuzzer
// generates (RELIABILITY.md S11), and tables of small blocks need little.
const maxFuzzInput = 256 << 10

func mustBeCorruption(t *testing.T, err error, op string) {
	if err != nil && !errors.Is(err, base.ErrCorruption) {
		t.Fatalf("%s: error %v is not a corruption error", op, err)
	}
}

// FuzzBlockDecode feeds arbitrary bytes to the block iterator: it must end
// cleanly or with a corruption error, never panic.
func FuzzBlockDecode(f *testing.F) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, interval := range []int{1, 3, 16} {
		es := genEntries(rng, 8)
		f.Add(buildBlock(es, interval))
	}
	f.Add(buildBlock(nil, 16))
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0, 0})
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzInput {
			return
		}
		var it blockIter
		if err := it.init(data, 0); err != nil {
			mustBeCorruption(t, err, "init")
			return
		}
		var keys [][]byte
		for ok := it.First(); ok; ok = it.Next() {
			if len(it.key) < base.TrailerLen || !base.Valid(it.key) {
				t.Fatalf("iterator returned invalid key %q", it.key)
			}
			if len(keys) < 16 {
				keys = append(keys, bytes.Clone(it.key))
			}
		}
		mustBeCorruption(t, it.err, "iterate")
		keys = append(keys, base.MakeSearchKey(nil, 0), base.MakeSearchKey([]byte("m"), 5))
		for _, k := range keys {
			// A block with disordered restarts may seek wrongly, but
			// must not panic.
			it.SeekGE(k)
			mustBeCorruption(t, it.err, "seek")
			for n := 0; n < 4 && it.Next(); n++ {
			}
			mustBeCorruption(t, it.err, "next")
		}
	})
}

// fixChecksums rewrites the footer's magic and checksum and the trailer
// checksums of every block it can locate, so that the fuzzer can explore
// the decoders behind the checksums.
func fixChecksums(b []byte) {
	if len(b) < footerLen {
		return
	}
	metaEnd := uint64(len(b) - footerLen)
	ft := b[metaEnd:]
	binary.LittleEndian.PutUint64(ft[56:], tableMagic)
	binary.LittleEndian.PutUint32(ft[48:], FormatVersion)
	binary.LittleEndian.PutUint32(ft[52:], crc32.Checksum(ft[:52], crcTable))
	fixBlock := func(h blockHandle) []byte {
		if h.end() > metaEnd {
			return nil
		}
		stored := b[h.Offset : h.Offset+h.Length]
		typ := b[h.Offset+h.Length]
		binary.LittleEndian.PutUint32(b[h.Offset+h.Length+1:], blockChecksum(stored, typ))
		out, err := decompressBlock(typ, stored)
		if err != nil {
			return nil
		}
		return out
	}
	var handles [3]blockHandle
	for i := range handles {
		handles[i] = blockHandle{binary.LittleEndian.Uint64(ft[16*i:]), binary.LittleEndian.Uint64(ft[16*i+8:])}
	}
	fixBlock(handles[0])
	fixBlock(handles[2])
	index := fixBlock(handles[1])
	if index == nil {
		return
	}
	var it blockIter
	if it.init(index, 0) != nil {
		return
	}
	for ok := it.First(); ok; ok = it.Next() {
		if h, err := decodeHandle(it.val); err == nil {
			fixBlock(h)
		}
	}
}

func sstSeeds(f *testing.F) {
	rng := rand.New(rand.NewPCG(2, 2))
	es := genEntries(rng, 12)
	for i := range es {
		if len(es[i].value) > 30 {
			es[i].value = es[i].value[:30]
		}
	}
	for _, o := range []WriterOptions{
		{BlockSize: 64, RestartInterval: 2, BloomBitsPerKey: 10},
		{BlockSize: 128, Compression: S2Compression},
		{BlockSize: 128, Compression: ZstdCompression, BloomBitsPerKey: 4},
	} {
		data, _ := buildTable(f, es, o)
		f.Add(data, false)
		f.Add(data, true)
		f.Add(data[:len(data)-1], true)
		f.Add(data[len(data)/2:], true)
	}
	empty, _ := buildTable(f, nil, WriterOptions{})
	f.Add(empty, false)
	f.Add([]byte("not an sstable"), false)
}

// FuzzSSTOpen opens arbitrary bytes as a table (optionally with repaired
// checksums) and reads it every way: every error must be a corruption
// error, and nothing may panic.
func FuzzSSTOpen(f *testing.F) {
	sstSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte, fix bool) {
		if len(data) > maxFuzzInput {
			return
		}
		data = bytes.Clone(data)
		if fix {
			fixChecksums(data)
		}
		r, err := Open(&memFile{data: data}, int64(len(data)), ReaderOptions{FileName: "fuzz.sst", Cache: cache.New(1 << 20)})
		if err != nil {
			mustBeCorruption(t, err, "Open")
			return
		}
		mustBeCorruption(t, r.Verify(), "Verify")
		var ukeys [][]byte
		it := r.NewIter(nil, nil)
		for ok := it.First(); ok; ok = it.Next() {
			if !base.Valid(it.Key()) {
				t.Fatalf("iterator returned invalid key %q", it.Key())
			}
			if len(ukeys) < 8 {
				ukeys = append(ukeys, bytes.Clone(base.UserKey(it.Key())))
			}
		}
		mustBeCorruption(t, it.Close(), "iterate")
		ukeys = append(ukeys, nil, []byte("key000004"))
		for _, uk := range ukeys {
			r.MayContain(uk)
			for _, seq := range []base.SeqNum{0, 5, base.MaxSeqNum} {
				_, _, _, err := r.Get(uk, seq)
				mustBeCorruption(t, err, "Get")
			}
			it := r.NewIter(uk, append(bytes.Clone(uk), 0xff))
			for ok := it.SeekGE(base.MakeSearchKey(uk, 7)); ok; ok = it.Next() {
			}
			mustBeCorruption(t, it.Close(), "bounded iterate")
		}
		_ = r.Properties()
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzDecompress round-trips arbitrary bytes through every compression and
// decompresses arbitrary bytes as every type: the output of a compressed
// block is bounded whatever the input claims.
func FuzzDecompress(f *testing.F) {
	f.Add([]byte(""), byte(1))
	f.Add([]byte("hello hello hello hello hello hello"), byte(1))
	f.Add(bytes.Repeat([]byte(`{"a":1}`), 100), byte(2))
	f.Add(compressBlockMust(bytes.Repeat([]byte("abc"), 1000), S2Compression), byte(1))
	f.Add(compressBlockMust(bytes.Repeat([]byte("abc"), 1000), ZstdCompression), byte(2))
	f.Add([]byte{0xff, 0xff, 0xff, 0x7f, 0}, byte(1))
	f.Add([]byte{0x80, 0x80, 0x80, 0x80, 0x10, 0x28, 0xb5, 0x2f, 0xfd}, byte(2))
	f.Fuzz(func(t *testing.T, data []byte, typ byte) {
		if len(data) > maxFuzzInput {
			return
		}
		for _, c := range []Compression{NoCompression, S2Compression, ZstdCompression} {
			stored, used := compressBlock(nil, data, c)
			if used != NoCompression && len(stored) >= len(data)-len(data)/8 {
				t.Fatalf("%s kept a block that saves too little", c)
			}
			out, err := decompressBlock(byte(used), stored)
			if err != nil {
				t.Fatalf("%s: %v", c, err)
			}
			if !bytes.Equal(out, data) {
				t.Fatalf("%s: round trip changed the data", c)
			}
		}
		out, err := decompressBlock(typ, data)
		if err == nil && typ != byte(NoCompression) && len(out) > maxCompressedBlockLen {
			t.Fatalf("decompressed %d bytes, above the bound", len(out))
		}
	})
}

func compressBlockMust(b []byte, c Compression) []byte {
	out, used := compressBlock(nil, b, c)
	if used != c {
		panic("incompressible seed")
	}
	return bytes.Clone(out)
}

// FuzzBloom checks that the filter has no false negatives, through a real
// table: keys are the NUL-separated parts of data.
func FuzzBloom(f *testing.F) {
	f.Add([]byte("a\x00b\x00c"), uint8(10))
	f.Add([]byte("same\x00same\x00other"), uint8(1))
	f.Add([]byte("\x00\x00\x00"), uint8(3))
	f.Add([]byte("user-1\x00user-2\x00user-3\x00user-4\x00user-5"), uint8(20))
	f.Fuzz(func(t *testing.T, data []byte, bits uint8) {
		if len(data) > maxFuzzInput {
			return
		}
		ukeys := bytes.Split(data, []byte{0})
		slices.SortFunc(ukeys, bytes.Compare)
		ukeys = slices.CompactFunc(ukeys, bytes.Equal)
		file := &memFile{}
		w := NewWriter(file, WriterOptions{BloomBitsPerKey: 1 + int(bits%32), BlockSize: 256})
		for _, uk := range ukeys {
			// Two versions each: deduplication must not lose a key.
			if err := w.Add(base.MakeInternalKey(uk, 2, base.KindSet), nil); err != nil {
				t.Fatal(err)
			}
			if err := w.Add(base.MakeInternalKey(uk, 1, base.KindDelete), nil); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := w.Close(); err != nil {
			t.Fatal(err)
		}
		r, err := Open(&memFile{data: file.data}, int64(len(file.data)), ReaderOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, uk := range ukeys {
			if !r.MayContain(uk) {
				t.Fatalf("false negative for %q", uk)
			}
		}
	})
}

// FuzzSSTRoundTrip builds a table from entries derived from data and checks
// that it reads back exactly. data is a sequence of records:
// keyLen byte, key, valueLen byte, value, seq byte, kind byte.
func FuzzSSTRoundTrip(f *testing.F) {
	f.Add([]byte("\x01a\x01A\x05\x01\x01b\x00\x07\x00\x01a\x02AA\x09\x01"), uint16(64), uint8(1), uint8(0), uint8(0))
	f.Add(bytes.Repeat([]byte("\x03key\x05value\x01\x01"), 20), uint16(100), uint8(16), uint8(1), uint8(10))
	f.Add([]byte("\x00\x00\x00\x00\x04abcd\x00\xff\x00"), uint16(1), uint8(2), uint8(2), uint8(5))
	f.Fuzz(func(t *testing.T, data []byte, blockSize uint16, restart, comp, bloomBits uint8) {
		if len(data) > maxFuzzInput {
			return
		}
		var es []kv
		for len(data) > 0 {
			var key, value []byte
			key, data = take(data)
			value, data = take(data)
			var seq, kind byte
			if len(data) > 0 {
				seq, data = data[0], data[1:]
			}
			if len(data) > 0 {
				kind, data = data[0]%2, data[1:]
			}
			es = append(es, kv{base.MakeInternalKey(key, base.SeqNum(seq), base.Kind(kind)), value})
		}
		sortEntries(es)
		es = slices.CompactFunc(es, func(a, b kv) bool { return base.Compare(a.key, b.key) == 0 })
		o := WriterOptions{
			BlockSize:       int(blockSize % 4096),
			RestartInterval: int(restart % 20),
			Compression:     Compression(comp % 3),
			BloomBitsPerKey: int(bloomBits % 16),
		}
		file := &memFile{}
		w := NewWriter(file, o)
		for _, e := range es {
			if err := w.Add(e.key, e.value); err != nil {
				t.Fatal(err)
			}
		}
		meta, err := w.Close()
		if err != nil {
			t.Fatal(err)
		}
		if meta.NumEntries != uint64(len(es)) {
			t.Fatalf("meta has %d entries, want %d", meta.NumEntries, len(es))
		}
		r, err := Open(&memFile{data: file.data}, int64(len(file.data)), ReaderOptions{Cache: cache.New(1 << 20)})
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Verify(); err != nil {
			t.Fatal(err)
		}
		it := r.NewIter(nil, nil)
		got := collect(it, it.First())
		if err := it.Close(); err != nil {
			t.Fatal(err)
		}
		requireSameEntries(t, es, got)
		for _, e := range es {
			uk := base.UserKey(e.key)
			if !r.MayContain(uk) {
				t.Fatalf("false negative for %q", uk)
			}
			want, _ := modelGet(es, uk, base.Seq(e.key))
			v, kind, found, err := r.Get(uk, base.Seq(e.key))
			if err != nil || !found || kind != base.KindOf(want.key) || !bytes.Equal(v, want.value) {
				t.Fatalf("Get(%q, %d) = %q, %v, %v, %v; want %v", uk, base.Seq(e.key), v, kind, found, err, want)
			}
		}
	})
}

// take splits a length-prefixed field off data.
func take(data []byte) (field, rest []byte) {
	if len(data) == 0 {
		return nil, nil
	}
	n := min(int(data[0]), len(data)-1)
	return data[1 : 1+n], data[1+n:]
}

package wal

import (
	"os"
	"runtime"
	"time"
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"testing/iotest"

	"github.com/minidbgo/minidbgo/storage/internal/base"
)

// recordsFrom derives records from fuzz input: each record's size comes from
// one input byte (values >= 200 select multi-block sizes), and its payload
// repeats the input from there. If highBit is set, every payload byte has
// its high bit set, so that no payload can contain a valid chunk (whose
// type byte is 1..4). The records total at most 256 KiB.
func recordsFrom(data []byte, highBit bool) [][]byte {
	src := data
	if highBit {
		src = make([]byte, len(data))
		for i, b := range data {
			src[i] = b | 0x80
		}
	}
	var recs [][]byte
	budget := 256 << 10
	for i := 0; i < len(data) && len(recs) < 64; {
		size := int(data[i])
		if size >= 200 {
			size = (size - 199) * 1531 // up to 86 KiB, odd so chunk ends vary
		}
		size = min(size, budget)
		budget -= size
		i++
		rec := make([]byte, size)
		for n := 0; n < size; {
			n += copy(rec[n:], src[(i+n)%len(src):])
		}
		recs = append(recs, rec)
		i += min(size, 8)
	}
	return recs
}

// fillerLog returns a valid log of one record that ends k bytes before the
// end of block 0. Fuzz input appended to it straddles a block boundary
// without the fuzzer having to grow inputs past 32 KiB, which would make
// minimizing them slow.
func fillerLog(k byte) []byte {
	size := BlockSize - int(k) - headerSize
	f := &memFile{}
	w := NewWriter(f)
	if _, err := w.WriteRecord(make([]byte, size)); err != nil {
		panic(err)
	}
	if err := w.Flush(); err != nil {
		panic(err)
	}
	return f.data
}

// fuzzSeeds returns small valid logs, truncated ones and damaged ones.
func fuzzSeeds(tb testing.TB) [][]byte {
	rng := rand.New(rand.NewPCG(21, 22))
	small, _ := writeLog(tb, [][]byte{[]byte("alpha"), nil, []byte("gamma-delta"), bytes.Repeat([]byte{3}, 40)})
	flip := func(b []byte, i int) []byte { b = bytes.Clone(b); b[i] ^= 0x20; return b }
	seeds := [][]byte{
		nil,
		small,
		small[:len(small)-3],  // torn last chunk
		small[:len(small)-45], // torn header
		append(bytes.Clone(small), make([]byte, 64)...), // zeros
		append(bytes.Clone(small), randBytes(rng, 50)...),
		flip(small, 2),       // CRC of the first record
		flip(small, 12+4),    // length of the second record
		flip(small, 12+7+11), // payload of the third record
		make([]byte, 100),
		bytes.Repeat([]byte{1}, 300),
	}
	// Continuations of a filler log (see fillerLog): the first byte picks
	// the filler, the rest is what a Writer appended after it, so records
	// cross the block boundary as FIRST and LAST chunks.
	for _, k := range []byte{0, 3, 6, 7, 8, 20, 200} {
		f := &memFile{}
		w := NewWriter(f)
		recs := [][]byte{make([]byte, BlockSize-int(k)-headerSize), []byte("x"), randBytes(rng, 100), nil}
		for _, r := range recs {
			if _, err := w.WriteRecord(r); err != nil {
				tb.Fatal(err)
			}
		}
		if err := w.Flush(); err != nil {
			tb.Fatal(err)
		}
		cont := append([]byte{k}, f.data[BlockSize-int(k):]...)
		seeds = append(seeds, cont, cont[:len(cont)-2], flip(cont, 3))
	}
	return seeds
}

// readChecked reads data and checks the Reader's invariants: no more bytes
// returned than read, reassembly memory bounded by the input, offsets
// increasing and in range, and a well-formed final error.
func readChecked(t *testing.T, data []byte, tolerate bool) readResult {
	r := NewReader(bytes.NewReader(data), "fuzz.log")
	r.SetTolerateCorruption(tolerate)
	var res readResult
	total, last := 0, int64(-1)
	for {
		rec, err := r.Next()
		if err != nil {
			res.err, res.dropped = err, r.TailDropped()
			break
		}
		total += len(rec)
		if total > len(data) {
			t.Fatalf("returned %d bytes of records from %d bytes of input", total, len(data))
		}
		if cap(r.rec) > 2*len(data)+64 {
			t.Fatalf("reassembly buffer of %d bytes for %d bytes of input", cap(r.rec), len(data))
		}
		off := r.Offset()
		if off <= last || off >= int64(len(data)) {
			t.Fatalf("record offset %d after %d, input %d bytes", off, last, len(data))
		}
		last = off
		res.recs = append(res.recs, bytes.Clone(rec))
		res.offs = append(res.offs, off)
	}
	var ce *base.CorruptionError
	switch {
	case res.err == io.EOF:
		if res.dropped < 0 || res.dropped > int64(len(data)) {
			t.Fatalf("TailDropped %d, input %d bytes", res.dropped, len(data))
		}
		if total > len(data)-int(res.dropped) {
			t.Fatalf("%d record bytes in the %d bytes kept", total, len(data)-int(res.dropped))
		}
	case errors.As(res.err, &ce):
		if tolerate {
			t.Fatalf("corruption error while tolerating: %v", res.err)
		}
		if !errors.Is(res.err, base.ErrCorruption) || ce.File != "fuzz.log" ||
			ce.Offset <= last || ce.Offset >= int64(len(data)) {
			t.Fatalf("bad corruption error %v (last record at %d, input %d bytes)", res.err, last, len(data))
		}
	default:
		t.Fatalf("unexpected error %v", res.err)
	}
	if _, err := r.Next(); err != res.err {
		t.Fatalf("error not sticky: %v then %v", res.err, err)
	}
	return res
}

func FuzzWALReader(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tm := time.AfterFunc(2*time.Second, func() {
			os.WriteFile("/tmp/walov/slow.bin", data, 0o644)
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			os.WriteFile("/tmp/walov/stack.txt", buf[:n], 0o644)
		})
		defer tm.Stop()
		// Arbitrary input.
		strict := readChecked(t, data, false)
		tolerant := readChecked(t, data, true)
		requireRecords(t, strict.recs, tolerant.recs)
		if strict.err == io.EOF && strict.dropped != tolerant.dropped {
			t.Fatalf("TailDropped %d strict, %d tolerant", strict.dropped, tolerant.dropped)
		}

		// The input appended to a filler log, so that it straddles a
		// block boundary: the filler record always comes back first.
		if len(data) > 0 {
			filler := fillerLog(data[0])
			shifted := append(filler, data[1:]...)
			for _, tolerate := range []bool{false, true} {
				res := readChecked(t, shifted, tolerate)
				if len(res.recs) == 0 || len(res.recs[0]) != len(filler)-headerSize {
					t.Fatalf("filler record lost (tolerate=%v): %v", tolerate, res.err)
				}
			}
		}

		// A Writer's log cut at an arbitrary point: every complete record
		// comes back, then io.EOF. Small inputs suffice to make multi-block
		// records, and keeping large inputs cheap keeps the fuzzer's
		// minimization of them fast.
		if len(data) > 1024 {
			return
		}
		recs := recordsFrom(data, true)
		if len(recs) == 0 {
			return
		}
		mf := &memFile{}
		w := NewWriter(mf)
		offs := make([]int64, len(recs))
		ends := make([]int64, len(recs))
		for i, rec := range recs {
			off, err := w.WriteRecord(rec)
			if err != nil {
				t.Fatal(err)
			}
			offs[i], ends[i] = off, w.Size()
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		log := mf.data
		var h uint64 = 14695981039346656037
		for _, b := range data {
			h = (h ^ uint64(b)) * 1099511628211
		}
		cut := int64(h % uint64(len(log)+1))
		complete := 0
		for complete < len(recs) && ends[complete] <= cut {
			complete++
		}
		res := readChecked(t, log[:cut], false)
		if res.err != io.EOF {
			t.Fatalf("cut at %d of %d: %v", cut, len(log), res.err)
		}
		requireRecords(t, recs[:complete], res.recs)
		var want int64
		switch {
		case complete == len(recs):
		case cut > offs[complete]:
			want = cut - offs[complete]
		case cut < offs[complete] && complete > 0:
			want = cut - ends[complete-1] // zero padding only
		}
		if res.dropped != want {
			t.Fatalf("cut at %d: TailDropped %d, want %d", cut, res.dropped, want)
		}
	})
}

func FuzzWALRoundTrip(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0})
	f.Add([]byte("\x05hello\x00\x00\x03abc"))
	f.Add([]byte{255, 1, 2, 3})
	f.Add([]byte{220, 0, 221, 7, 199, 3})
	for _, s := range fuzzSeeds(f)[1:4] {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		recs := recordsFrom(data, false)
		mf := &memFile{}
		w := NewWriter(mf)
		offs := make([]int64, len(recs))
		for i, rec := range recs {
			off, err := w.WriteRecord(rec)
			if err != nil {
				t.Fatal(err)
			}
			offs[i] = off
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if w.Size() != int64(len(mf.data)) {
			t.Fatalf("Size %d, file %d bytes", w.Size(), len(mf.data))
		}
		var src io.Reader = bytes.NewReader(mf.data)
		if len(data)%2 == 1 {
			src = iotest.HalfReader(src)
		}
		res := readFrom(src, false)
		if res.err != io.EOF || res.dropped != 0 {
			t.Fatalf("ended with %v, TailDropped %d", res.err, res.dropped)
		}
		requireRecords(t, recs, res.recs)
		for i := range offs {
			if offs[i] != res.offs[i] {
				t.Fatalf("record %d: written at %d, read at %d", i, offs[i], res.offs[i])
			}
		}
	})
}

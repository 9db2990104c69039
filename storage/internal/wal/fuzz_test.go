package wal

import (
	"bytes"
	"errors"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/minidbgo/minidbgo/storage/internal/base"
)

// recordsBudget caps the total size of recordsFrom's records: enough for a
// record with FIRST, MIDDLE and LAST chunks, small enough to keep fuzz
// iterations fast.
const recordsBudget = 72 << 10

// maxFuzzInput caps the fuzz inputs: each iteration's work and allocation
// stay bounded whatever the fuzzer generates (RELIABILITY.md S11). Four
// blocks is plenty: fillerLog makes short inputs cross block boundaries.
const maxFuzzInput = 4 * BlockSize

// recordsFrom derives records from fuzz input: each record's size comes from
// one input byte (values >= 200 select multi-block sizes), and its payload
// repeats the input from there. If highBit is set, every payload byte has
// its high bit set, so that no payload can contain a valid chunk (whose
// type byte is 1..4). The records total at most recordsBudget bytes.
func recordsFrom(data []byte, highBit bool) [][]byte {
	src := data
	if highBit {
		src = make([]byte, len(data))
		for i, b := range data {
			src[i] = b | 0x80
		}
	}
	var recs [][]byte
	budget := recordsBudget
	for i := 0; i < len(data) && len(recs) < 64; {
		size := int(data[i])
		if size >= 200 {
			size = (size - 199) * 1531 // up to 2.6 blocks; odd so chunk ends vary
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
// minimizing them slow. The result is shared: do not modify it.
func fillerLog(k byte) []byte {
	fillers.Lock()
	defer fillers.Unlock()
	if fillers.logs[k] == nil {
		f := &memFile{}
		w := NewWriter(f)
		if _, err := w.WriteRecord(make([]byte, BlockSize-int(k)-headerSize)); err != nil {
			panic(err)
		}
		if err := w.Flush(); err != nil {
			panic(err)
		}
		fillers.logs[k] = f.data
	}
	return fillers.logs[k]
}

var fillers struct {
	sync.Mutex
	logs [256][]byte
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

// checked is what readChecked saw: a digest of each record rather than a
// copy, to keep fuzz iterations cheap.
type checked struct {
	sums    []uint64 // per record: CRC-32C << 32 | length
	err     error
	dropped int64
}

// digest identifies a record's contents.
func digest(rec []byte) uint64 {
	return uint64(crc32.Checksum(rec, crcTable))<<32 | uint64(len(rec))
}

// readChecked reads data and checks the Reader's invariants: no more bytes
// returned than read, reassembly memory bounded by the input, offsets
// increasing and in range, and a well-formed final error. If want is not
// nil, the records must be a prefix of want.
func readChecked(t testing.TB, data []byte, tolerate bool, want [][]byte) checked {
	return readCheckedFrom(t, bytes.NewReader(data), len(data), tolerate, want)
}

// fuzzReader is reused across fuzz iterations: allocating and clearing a
// 32 KiB block per Reader dominated their cost.
var fuzzReader struct {
	sync.Mutex
	r *Reader
}

// readCheckedFrom is readChecked for a log of size bytes read from src.
func readCheckedFrom(t testing.TB, src io.Reader, size int, tolerate bool, want [][]byte) checked {
	fuzzReader.Lock()
	defer fuzzReader.Unlock()
	r := fuzzReader.r
	if r == nil {
		r = NewReader(src, "fuzz.log")
		fuzzReader.r = r
	} else {
		r.reset(src, "fuzz.log")
	}
	r.SetTolerateCorruption(tolerate)
	capBefore := cap(r.rec) // r is reused: only growth counts
	var res checked
	total, last := 0, int64(-1)
	for {
		rec, err := r.Next()
		if err != nil {
			res.err, res.dropped = err, r.TailDropped()
			break
		}
		total += len(rec)
		if total > size {
			t.Fatalf("returned %d bytes of records from %d bytes of input", total, size)
		}
		if c := cap(r.rec); c > capBefore && c > 2*size+64 {
			t.Fatalf("reassembly buffer of %d bytes for %d bytes of input", cap(r.rec), size)
		}
		off := r.Offset()
		if off <= last || off >= int64(size) {
			t.Fatalf("record offset %d after %d, input %d bytes", off, last, size)
		}
		last = off
		if want != nil {
			i := len(res.sums)
			if i >= len(want) || !bytes.Equal(rec, want[i]) {
				t.Fatalf("record %d at offset %d (%d bytes) was not written", i, off, len(rec))
			}
		}
		res.sums = append(res.sums, digest(rec))
	}
	var ce *base.CorruptionError
	switch {
	case res.err == io.EOF:
		if res.dropped < 0 || res.dropped > int64(size) {
			t.Fatalf("TailDropped %d, input %d bytes", res.dropped, size)
		}
		if total > size-int(res.dropped) {
			t.Fatalf("%d record bytes in the %d bytes kept", total, size-int(res.dropped))
		}
	case errors.As(res.err, &ce):
		if tolerate {
			t.Fatalf("corruption error while tolerating: %v", res.err)
		}
		if !errors.Is(res.err, base.ErrCorruption) || ce.File != "fuzz.log" ||
			ce.Offset <= last || ce.Offset >= int64(size) {
			t.Fatalf("bad corruption error %v (last record at %d, input %d bytes)", res.err, last, size)
		}
	default:
		t.Fatalf("unexpected error %v", res.err)
	}
	if _, err := r.Next(); err != res.err {
		t.Fatalf("error not sticky: %v then %v", res.err, err)
	}
	return res
}

// FuzzWALReader feeds arbitrary bytes to the Reader (see checkReader).
//
// Keep each iteration to tens of microseconds: Go minimizes every new
// interesting input with a search that is quadratic in its length, and
// fuzzing stops while it runs.
func FuzzWALReader(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) <= maxFuzzInput {
			checkReader(t, data)
		}
	})
}

// checkReader is FuzzWALReader's property. Read strictly and tolerantly,
// any input yields the same records, no more record bytes than input
// bytes, bounded memory, and io.EOF or a well-formed corruption error;
// appended to a valid log, it never costs that log's records; and a
// Writer's log derived from it, cut anywhere, reads back as every complete
// record, then io.EOF with the exact TailDropped.
func checkReader(t testing.TB, data []byte) {
	// Arbitrary input, strictly and tolerantly: the same records,
	// and the same tail when the strict read found no corruption.
	strict := readChecked(t, data, false, nil)
	tolerant := readChecked(t, data, true, nil)
	if !slices.Equal(strict.sums, tolerant.sums) {
		t.Fatalf("%d records strict, %d tolerant, or different contents", len(strict.sums), len(tolerant.sums))
	}
	if strict.err == io.EOF && strict.dropped != tolerant.dropped {
		t.Fatalf("TailDropped %d strict, %d tolerant", strict.dropped, tolerant.dropped)
	}

	// The input appended to a filler log, so that it straddles a
	// block boundary: the filler record always comes back first.
	if len(data) > 0 {
		filler := fillerLog(data[0])
		for _, tolerate := range []bool{false, true} {
			shifted := io.MultiReader(bytes.NewReader(filler), bytes.NewReader(data[1:]))
			res := readCheckedFrom(t, shifted, len(filler)+len(data)-1, tolerate, nil)
			if len(res.sums) == 0 || int(res.sums[0]&0xffffffff) != len(filler)-headerSize {
				t.Fatalf("filler record lost (tolerate=%v): %v", tolerate, res.err)
			}
		}
	}

	// A Writer's log cut at an arbitrary point: every complete record
	// comes back, then io.EOF. Small inputs suffice to make multi-block
	// records.
	if len(data) > 256 {
		return
	}
	recs := recordsFrom(data, true)
	if len(recs) == 0 {
		return
	}
	mf := &memFile{data: make([]byte, 0, recordsBudget+recordsBudget/8)}
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
	cut := int64(crc32.ChecksumIEEE(data)) % int64(len(log)+1)
	complete := 0
	for complete < len(recs) && ends[complete] <= cut {
		complete++
	}
	res := readChecked(t, log[:cut], false, recs)
	if res.err != io.EOF || len(res.sums) != complete {
		t.Fatalf("cut at %d of %d: %d records of %d complete, then %v", cut, len(log), len(res.sums), complete, res.err)
	}
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
}

// FuzzWALRoundTrip writes records derived from the input and requires them
// back, at the offsets WriteRecord reported, with a clean end.
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
		if len(data) <= maxFuzzInput {
			checkRoundTrip(t, data)
		}
	})
}

// checkRoundTrip is FuzzWALRoundTrip's property.
func checkRoundTrip(t testing.TB, data []byte) {
	recs := recordsFrom(data, false)
	mf := &memFile{data: make([]byte, 0, recordsBudget+recordsBudget/8)}
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
	r := NewReader(src, "rt.log")
	for i := 0; ; i++ {
		rec, err := r.Next()
		if err == io.EOF && i == len(recs) && r.TailDropped() == 0 {
			break
		}
		if err != nil {
			t.Fatalf("after %d of %d records: %v, TailDropped %d", i, len(recs), err, r.TailDropped())
		}
		if i >= len(recs) || !bytes.Equal(rec, recs[i]) || r.Offset() != offs[i] {
			t.Fatalf("record %d at offset %d (%d bytes) differs from what was written", i, r.Offset(), len(rec))
		}
	}
}

package wal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/minidbgo/minidbgo/storage/internal/base"
	"github.com/minidbgo/minidbgo/storage/vfs"
)

// memFile is an in-memory vfs.File that can fail its Nth Write or Sync.
type memFile struct {
	data        []byte
	writes      int  // Write calls so far
	syncs       int  // Sync calls so far
	closes      int  // Close calls so far
	failWriteAt int  // 1-based Write call that fails; 0 = never
	failSyncAt  int  // 1-based Sync call that fails; 0 = never
	shortWrite  bool // the failing Write writes half and reports no error
	synced      int  // len(data) at the last successful Sync
}

var _ vfs.File = (*memFile)(nil)

var errInjected = errors.New("injected")

func (f *memFile) Write(p []byte) (int, error) {
	f.writes++
	if f.writes == f.failWriteAt {
		n := len(p) / 2
		f.data = append(f.data, p[:n]...)
		if f.shortWrite {
			return n, nil
		}
		return n, errInjected
	}
	f.data = append(f.data, p...)
	return len(p), nil
}

func (f *memFile) Sync() error {
	f.syncs++
	if f.syncs == f.failSyncAt {
		return errInjected
	}
	f.synced = len(f.data)
	return nil
}

func (f *memFile) Close() error { f.closes++; return nil }

func (f *memFile) Read([]byte) (int, error) { return 0, io.EOF }

func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(f.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *memFile) Stat() (os.FileInfo, error) { return memInfo(len(f.data)), nil }

type memInfo int64

func (i memInfo) Name() string       { return "mem" }
func (i memInfo) Size() int64        { return int64(i) }
func (i memInfo) Mode() os.FileMode  { return 0o644 }
func (i memInfo) ModTime() time.Time { return time.Time{} }
func (i memInfo) IsDir() bool        { return false }
func (i memInfo) Sys() any           { return nil }

// writeLog frames recs and returns the log and each record's offset.
func writeLog(t testing.TB, recs [][]byte) ([]byte, []int64) {
	t.Helper()
	f := &memFile{}
	w := NewWriter(f)
	offs := make([]int64, len(recs))
	for i, r := range recs {
		off, err := w.WriteRecord(r)
		require.NoError(t, err)
		offs[i] = off
	}
	require.NoError(t, w.Close())
	require.Equal(t, w.Size(), int64(len(f.data)))
	return f.data, offs
}

// readResult is everything a Reader returned for one log.
type readResult struct {
	recs    [][]byte
	offs    []int64
	err     error // the error that ended the log: io.EOF or other
	dropped int64
}

// readLog reads every record of log.
func readLog(log []byte, tolerate bool) readResult {
	return readFrom(bytes.NewReader(log), tolerate)
}

func readFrom(src io.Reader, tolerate bool) readResult {
	r := NewReader(src, "000001.log")
	r.SetTolerateCorruption(tolerate)
	var res readResult
	for {
		rec, err := r.Next()
		if err != nil {
			res.err = err
			res.dropped = r.TailDropped()
			return res
		}
		res.recs = append(res.recs, bytes.Clone(rec))
		res.offs = append(res.offs, r.Offset())
	}
}

// readPrefix reads log, requiring its records to be exactly want, without
// copying them.
func readPrefix(t testing.TB, log []byte, want [][]byte) readResult {
	t.Helper()
	r := NewReader(bytes.NewReader(log), "000001.log")
	for i := 0; ; i++ {
		rec, err := r.Next()
		if err != nil {
			require.Equal(t, len(want), i, "record count")
			return readResult{err: err, dropped: r.TailDropped()}
		}
		require.Less(t, i, len(want), "record count")
		if !bytes.Equal(want[i], rec) {
			t.Fatalf("record %d: got %d bytes, want %d bytes (contents differ)", i, len(rec), len(want[i]))
		}
	}
}

// requireRecords checks that got is exactly want, element by element.
func requireRecords(t testing.TB, want, got [][]byte) {
	t.Helper()
	require.Equal(t, len(want), len(got), "record count")
	for i := range want {
		if !bytes.Equal(want[i], got[i]) {
			t.Fatalf("record %d: got %d bytes, want %d bytes (contents differ)", i, len(got[i]), len(want[i]))
		}
	}
}

// chunkInfo locates one chunk of a valid log.
type chunkInfo struct {
	off    int64
	length int
	typ    byte
}

// chunksOf walks a log produced by a Writer and lists its chunks. It is
// independent of Reader so that tests can aim damage at exact chunks.
func chunksOf(t testing.TB, log []byte) []chunkInfo {
	t.Helper()
	var cs []chunkInfo
	for pos := 0; pos < len(log); {
		if left := BlockSize - pos%BlockSize; left < headerSize {
			pos += left
			continue
		}
		require.LessOrEqual(t, pos+headerSize, len(log))
		n := int(binary.LittleEndian.Uint16(log[pos+4:]))
		cs = append(cs, chunkInfo{int64(pos), n, log[pos+6]})
		pos += headerSize + n
	}
	return cs
}

func randBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// randRecords returns n records whose sizes mix empty, small, block-sized
// and multi-block records.
func randRecords(rng *rand.Rand, n int) [][]byte {
	recs := make([][]byte, n)
	for i := range recs {
		var size int
		switch rng.IntN(10) {
		case 0:
			size = 0
		case 1:
			size = BlockSize - headerSize + rng.IntN(3) - 1
		case 2:
			size = BlockSize
		case 3:
			size = rng.IntN(4 * BlockSize)
		default:
			size = rng.IntN(300)
		}
		recs[i] = randBytes(rng, size)
	}
	return recs
}

func TestRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	recs := randRecords(rng, 500)
	// Fixed sizes around the interesting boundaries.
	for _, n := range []int{0, 1, headerSize, BlockSize - headerSize, BlockSize - headerSize + 1,
		BlockSize, 2*BlockSize - 2*headerSize, 2 * BlockSize, 5*BlockSize + 17, 0, 0} {
		recs = append(recs, randBytes(rng, n))
	}
	log, offs := writeLog(t, recs)

	for name, src := range map[string]func() io.Reader{
		"whole":    func() io.Reader { return bytes.NewReader(log) },
		"onebyte":  func() io.Reader { return iotest.OneByteReader(bytes.NewReader(log)) },
		"halfread": func() io.Reader { return iotest.HalfReader(bytes.NewReader(log)) },
		"dataerr":  func() io.Reader { return iotest.DataErrReader(bytes.NewReader(log)) },
	} {
		t.Run(name, func(t *testing.T) {
			res := readFrom(src(), false)
			require.ErrorIs(t, res.err, io.EOF)
			require.Zero(t, res.dropped)
			requireRecords(t, recs, res.recs)
			require.Equal(t, offs, res.offs)
		})
	}
}

// TestBlockBoundaries writes a first record that ends at every position
// near the end of block 0, so that the second record meets every trailer
// case: exact fit, zero padding of 1..6 bytes, and a 7-byte remainder that
// holds an empty FIRST chunk.
func TestBlockBoundaries(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for first := BlockSize - 3*headerSize; first <= BlockSize; first++ {
		for _, second := range []int{0, 1, 100, BlockSize} {
			recs := [][]byte{randBytes(rng, first), randBytes(rng, second), randBytes(rng, 5)}
			log, offs := writeLog(t, recs)
			res := readLog(log, false)
			require.ErrorIs(t, res.err, io.EOF, "first=%d second=%d", first, second)
			require.Zero(t, res.dropped)
			requireRecords(t, recs, res.recs)
			require.Equal(t, offs, res.offs)
			for _, c := range chunksOf(t, log) {
				require.Equal(t, c.off/BlockSize, (c.off+int64(headerSize+c.length)-1)/BlockSize, "chunk crosses a block")
			}
		}
	}
}

func TestWriterOffsetsAndSize(t *testing.T) {
	f := &memFile{}
	w := NewWriter(f)
	require.Zero(t, w.Size())
	off, err := w.WriteRecord([]byte("abc"))
	require.NoError(t, err)
	require.Zero(t, off)
	require.EqualValues(t, headerSize+3, w.Size())
	require.Empty(t, f.data, "small records stay buffered until Flush")
	require.NoError(t, w.Flush())
	require.Len(t, f.data, headerSize+3)
	require.Zero(t, f.synced)
	require.NoError(t, w.Sync())
	require.Equal(t, headerSize+3, f.synced)

	// A record that fills the block is written through without Flush.
	off, err = w.WriteRecord(make([]byte, BlockSize-2*headerSize-3))
	require.NoError(t, err)
	require.EqualValues(t, headerSize+3, off)
	require.Len(t, f.data, BlockSize)
	require.EqualValues(t, BlockSize, w.Size())

	// Leave 3 bytes in block 1: the next record starts in block 2.
	_, err = w.WriteRecord(make([]byte, BlockSize-headerSize-3))
	require.NoError(t, err)
	require.EqualValues(t, 2*BlockSize-3, w.Size())
	off, err = w.WriteRecord(nil)
	require.NoError(t, err)
	require.EqualValues(t, 2*BlockSize, off)
	require.NoError(t, w.Close())
	require.Equal(t, []byte{0, 0, 0}, f.data[2*BlockSize-3:2*BlockSize], "trailer is zero padded")
	require.Equal(t, 1, f.closes)
}

// lastRecordLog builds a log that ends in a record of the given size
// starting at offset lead within its block (or at the next block if lead
// leaves no room for a header). It returns the log, the records before the
// last, where they end, and the last record's offset.
func lastRecordLog(t *testing.T, rng *rand.Rand, lead, size int, bigPrefix bool) (log []byte, prefix [][]byte, prevEnd, lastOff int64) {
	t.Helper()
	prefix = [][]byte{randBytes(rng, 10), randBytes(rng, 0)}
	if bigPrefix {
		prefix = append(prefix, randBytes(rng, BlockSize+50))
	}
	f := &memFile{}
	w := NewWriter(f)
	for _, r := range prefix {
		_, err := w.WriteRecord(r)
		require.NoError(t, err)
	}
	if fill := lead - int(w.Size()%BlockSize) - headerSize; fill >= 0 {
		r := randBytes(rng, fill)
		prefix = append(prefix, r)
		_, err := w.WriteRecord(r)
		require.NoError(t, err)
	}
	prevEnd = w.Size()
	lastOff, err := w.WriteRecord(randBytes(rng, size))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return f.data, prefix, prevEnd, lastOff
}

func TestTruncatedTail(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	cases := []struct {
		name       string
		lead, size int
		chunks     int
		bigPrefix  bool // a multi-block record precedes the last
	}{
		{"full", 1000, 200, 1, true},
		{"first-last", BlockSize - 150, 300, 2, true},
		{"empty-first", BlockSize - headerSize, 40, 2, true},
		{"padded", BlockSize - 3, 50, 1, true},
		{"first-middle-last", BlockSize - 100, BlockSize + 200, 3, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			log, prefix, prevEnd, lastOff := lastRecordLog(t, rng, tc.lead, tc.size, tc.bigPrefix)
			n := 0
			for _, c := range chunksOf(t, log) {
				if c.off >= lastOff {
					n++
				}
			}
			require.Equal(t, tc.chunks, n, "chunks in the last record")

			// Every cut strictly inside the last record (or its padding).
			// Under the race detector, which slows the 33k reads of the
			// three-chunk case tenfold, cuts far from a chunk boundary
			// are sampled.
			var lastChunks []int64
			for _, c := range chunksOf(t, log) {
				lastChunks = append(lastChunks, c.off, c.off+int64(headerSize+c.length))
			}
			nearBoundary := func(cut int64) bool {
				for _, b := range lastChunks {
					if cut > b-64 && cut < b+64 {
						return true
					}
				}
				return false
			}
			for cut := prevEnd + 1; cut < int64(len(log)); cut++ {
				if raceEnabled && cut%13 != 0 && !nearBoundary(cut) {
					continue
				}
				res := readPrefix(t, log[:cut], prefix)
				require.ErrorIs(t, res.err, io.EOF, "cut at %d", cut)
				switch {
				case cut > lastOff:
					require.Equal(t, cut-lastOff, res.dropped, "cut at %d", cut)
				case cut < lastOff:
					// Only zero padding before a block boundary survived.
					require.Equal(t, cut-prevEnd, res.dropped, "cut at %d", cut)
				default:
					// The log ends with a complete, padded block: a clean end.
					require.Zero(t, res.dropped, "cut at %d", cut)
				}
			}
			// Cutting exactly before the last record is a clean end.
			res := readLog(log[:prevEnd], false)
			require.ErrorIs(t, res.err, io.EOF)
			require.Zero(t, res.dropped)
			requireRecords(t, prefix, res.recs)
		})
	}
}

func TestTrailingJunk(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	recs := randRecords(rng, 40)
	recs = append(recs, []byte("last")) // ends mid-block
	log, _ := writeLog(t, recs)
	require.NotZero(t, len(log)%BlockSize)

	for _, n := range []int{1, 6, 7, 8, 100, BlockSize, 3*BlockSize + 11} {
		t.Run(fmt.Sprintf("zeros-%d", n), func(t *testing.T) {
			res := readLog(append(bytes.Clone(log), make([]byte, n)...), false)
			require.ErrorIs(t, res.err, io.EOF)
			requireRecords(t, recs, res.recs)
			require.EqualValues(t, n, res.dropped)
		})
		t.Run(fmt.Sprintf("garbage-%d", n), func(t *testing.T) {
			for range 20 {
				res := readLog(append(bytes.Clone(log), randBytes(rng, n)...), false)
				require.ErrorIs(t, res.err, io.EOF)
				requireRecords(t, recs, res.recs)
				require.EqualValues(t, n, res.dropped)
			}
		})
	}

	// Garbage shaped like headers: known types with lengths that do not
	// fit, and a plausible header with a wrong checksum.
	t.Run("header-shaped", func(t *testing.T) {
		junk := []byte{1, 2, 3, 4, 0xff, 0xff, chunkFull, 9, 9, 9, 9, 10, 0, chunkLast, 'x'}
		res := readLog(append(bytes.Clone(log), junk...), false)
		require.ErrorIs(t, res.err, io.EOF)
		requireRecords(t, recs, res.recs)
		require.EqualValues(t, len(junk), res.dropped)
	})

	// Zeros after a record that exactly fills a block start at a block
	// boundary.
	t.Run("zeros-at-block-start", func(t *testing.T) {
		recs := [][]byte{randBytes(rng, BlockSize-headerSize)}
		log, _ := writeLog(t, recs)
		require.Len(t, log, BlockSize)
		res := readLog(append(bytes.Clone(log), make([]byte, 5000)...), false)
		require.ErrorIs(t, res.err, io.EOF)
		requireRecords(t, recs, res.recs)
		require.EqualValues(t, 5000, res.dropped)
	})
}

// TestMidLogCorruption damages every byte of a chunk that valid records
// follow, in a log that fits in one block and in one that spans several.
func TestMidLogCorruption(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	small := make([][]byte, 30)
	for i := range small {
		small[i] = randBytes(rng, 1+rng.IntN(60))
	}
	large := [][]byte{randBytes(rng, 100), randBytes(rng, 2*BlockSize+500), randBytes(rng, 300), randBytes(rng, 70)}

	for name, recs := range map[string][][]byte{"one-block": small, "multi-block": large} {
		t.Run(name, func(t *testing.T) {
			log, offs := writeLog(t, recs)
			chunks := chunksOf(t, log)
			for ci, c := range chunks[:len(chunks)-1] {
				// The record the chunk belongs to and how many records precede it.
				rec := 0
				for rec+1 < len(offs) && offs[rec+1] <= c.off {
					rec++
				}
				// Damage every header byte and a sample of payload bytes.
				var positions []int
				for i := range headerSize + c.length {
					if i < headerSize+4 || i == headerSize+c.length-1 || i%1009 == 0 {
						positions = append(positions, i)
					}
				}
				for _, i := range positions {
					masks := []byte{0x01, 0x80, 0xff}
					if i >= headerSize {
						masks = masks[:1] // any payload change breaks the CRC alike
					}
					for _, mask := range masks {
						bad := bytes.Clone(log)
						bad[c.off+int64(i)] ^= mask
						msg := fmt.Sprintf("chunk %d at %d, byte %d ^ %#x", ci, c.off, i, mask)

						res := readLog(bad, false)
						require.ErrorIs(t, res.err, base.ErrCorruption, msg)
						var ce *base.CorruptionError
						require.ErrorAs(t, res.err, &ce, msg)
						require.Equal(t, c.off, ce.Offset, msg)
						require.Equal(t, "000001.log", ce.File)
						requireRecords(t, recs[:rec], res.recs)

						res = readLog(bad, true)
						require.ErrorIs(t, res.err, io.EOF, msg)
						requireRecords(t, recs[:rec], res.recs)
						require.Equal(t, int64(len(log))-offs[rec], res.dropped, msg)
					}
				}
			}
		})
	}
}

// TestLastRecordDamage damages every header byte and a sample of payload
// bytes of the chunks of the LAST record of a log, where no later record
// can show the damage to be in the middle. A complete chunk whose checksum
// fails is not what a crash leaves (a killed writer leaves a prefix), so
// it is corruption at the chunk's offset, not a torn tail; tolerated, the
// log ends before the record.
func TestLastRecordDamage(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	lead := [][]byte{randBytes(rng, 100), randBytes(rng, 40)}
	cases := map[string][]byte{
		"small":       randBytes(rng, 60),
		"empty":       {},
		"multi-block": randBytes(rng, BlockSize+300),
		"block-end":   randBytes(rng, BlockSize-headerSize-(headerSize+100)-(headerSize+40)),
	}
	for name, last := range cases {
		t.Run(name, func(t *testing.T) {
			recs := append(append([][]byte{}, lead...), last)
			log, offs := writeLog(t, recs)
			lastOff := offs[len(offs)-1]
			for _, c := range chunksOf(t, log) {
				if c.off < lastOff {
					continue
				}
				var positions []int
				for i := range headerSize + c.length {
					if i < headerSize || i == headerSize+c.length-1 || i%997 == 0 {
						positions = append(positions, i)
					}
				}
				for _, i := range positions {
					masks := []byte{0x01, 0x80, 0xff}
					if i >= headerSize {
						masks = masks[:1]
					}
					for _, mask := range masks {
						bad := bytes.Clone(log)
						bad[c.off+int64(i)] ^= mask
						msg := fmt.Sprintf("chunk at %d, byte %d ^ %#x", c.off, i, mask)

						res := readLog(bad, false)
						var ce *base.CorruptionError
						require.ErrorAs(t, res.err, &ce, msg)
						require.ErrorIs(t, res.err, base.ErrCorruption, msg)
						require.Equal(t, c.off, ce.Offset, msg)
						requireRecords(t, lead, res.recs)

						res = readLog(bad, true)
						require.ErrorIs(t, res.err, io.EOF, msg)
						requireRecords(t, lead, res.recs)
						require.Equal(t, int64(len(log))-lastOff, res.dropped, msg)
					}
				}
			}
		})
	}
}

// TestZeroSectorTail covers what a power cut leaves of a last record whose
// sectors did not all reach the disk: an aligned sector of zeros inside
// it, or its end zeroed from a sector boundary to the end of the file. It
// is a torn tail, not corruption.
func TestZeroSectorTail(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	lead := [][]byte{randBytes(rng, 100)}
	last := randBytes(rng, 3000)
	log, offs := writeLog(t, append(append([][]byte{}, lead...), last))
	lastOff := offs[1]
	end := int64(len(log))
	for name, hole := range map[string][2]int64{
		"sector":     {1024, 1536},
		"to-the-end": {2560, end},
	} {
		t.Run(name, func(t *testing.T) {
			bad := bytes.Clone(log)
			clear(bad[hole[0]:hole[1]])
			res := readLog(bad, false)
			require.ErrorIs(t, res.err, io.EOF)
			requireRecords(t, lead, res.recs)
			require.Equal(t, end-lastOff, res.dropped)
		})
	}
	// Zeros that are not a whole aligned sector are damage.
	bad := bytes.Clone(log)
	clear(bad[1030:1530])
	res := readLog(bad, false)
	var ce *base.CorruptionError
	require.ErrorAs(t, res.err, &ce)
	require.Equal(t, lastOff, ce.Offset)
}

// TestOutOfSequence covers valid chunks in an order no writer produces.
func TestOutOfSequence(t *testing.T) {
	chunk := func(typ byte, payload string) []byte {
		b := make([]byte, headerSize, headerSize+len(payload))
		binary.LittleEndian.PutUint16(b[4:], uint16(len(payload)))
		b[6] = typ
		b = append(b, payload...)
		binary.LittleEndian.PutUint32(b, chunkCRC(b[6:]))
		return b
	}
	full := chunk(chunkFull, "ok")
	cases := []struct {
		name    string
		log     [][]byte
		badOff  int
		records int
	}{
		{"first-then-full", [][]byte{full, chunk(chunkFirst, "a"), full}, len(full) + 8, 1},
		{"first-then-first", [][]byte{full, chunk(chunkFirst, "a"), chunk(chunkFirst, "b"), full}, len(full) + 8, 1},
		{"middle-alone", [][]byte{full, chunk(chunkMiddle, "a"), full}, len(full), 1},
		{"last-alone", [][]byte{chunk(chunkLast, "a"), full}, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			log := bytes.Join(tc.log, nil)
			res := readLog(log, false)
			var ce *base.CorruptionError
			require.ErrorAs(t, res.err, &ce)
			require.EqualValues(t, tc.badOff, ce.Offset)
			require.Len(t, res.recs, tc.records)

			res = readLog(log, true)
			require.ErrorIs(t, res.err, io.EOF)
			require.Len(t, res.recs, tc.records)
			require.Positive(t, res.dropped)
		})
	}
	// FIRST and MIDDLE with no LAST at the end are a torn tail.
	log := bytes.Join([][]byte{full, chunk(chunkFirst, "a"), chunk(chunkMiddle, "b")}, nil)
	res := readLog(log, false)
	require.ErrorIs(t, res.err, io.EOF)
	require.Len(t, res.recs, 1)
	require.EqualValues(t, len(log)-len(full), res.dropped)
}

func TestReaderIOError(t *testing.T) {
	recs := [][]byte{make([]byte, BlockSize), []byte("x")}
	log, _ := writeLog(t, recs)
	src := io.MultiReader(bytes.NewReader(log[:BlockSize+10]), iotest.ErrReader(errInjected))
	r := NewReader(src, "000002.log")
	_, err := r.Next()
	require.ErrorIs(t, err, errInjected)
	require.NotErrorIs(t, err, base.ErrCorruption)
	require.ErrorContains(t, err, "000002.log")
	_, err2 := r.Next()
	require.Equal(t, err, err2, "errors are sticky")
}

func TestReaderStickyEOF(t *testing.T) {
	log, _ := writeLog(t, [][]byte{[]byte("a")})
	r := NewReader(bytes.NewReader(log), "x")
	rec, err := r.Next()
	require.NoError(t, err)
	require.Equal(t, "a", string(rec))
	for range 3 {
		_, err = r.Next()
		require.ErrorIs(t, err, io.EOF)
	}
	require.Zero(t, r.TailDropped())
}

func TestWriterPoisoned(t *testing.T) {
	rec := bytes.Repeat([]byte("r"), 1000)
	for _, tc := range []struct {
		name string
		file *memFile
		want error
	}{
		{"write", &memFile{failWriteAt: 2}, errInjected},
		{"short-write", &memFile{failWriteAt: 2, shortWrite: true}, io.ErrShortWrite},
		{"sync", &memFile{failSyncAt: 2}, errInjected},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.file
			w := NewWriter(f)
			var acked [][]byte
			var first error
			for i := 0; i < 200 && first == nil; i++ {
				r := bytes.Repeat([]byte{byte(i)}, 1000)
				if _, first = w.WriteRecord(r); first != nil {
					break
				}
				if first = w.Sync(); first != nil {
					break
				}
				acked = append(acked, r)
			}
			require.ErrorIs(t, first, tc.want)
			// Every later call returns the same error.
			_, err := w.WriteRecord(rec)
			require.ErrorIs(t, err, tc.want)
			require.ErrorIs(t, w.Flush(), tc.want)
			require.ErrorIs(t, w.Sync(), tc.want)
			require.ErrorIs(t, w.Close(), tc.want)
			require.Equal(t, 1, f.closes, "Close closes the file even when poisoned")
			require.Error(t, w.Close())
			require.Equal(t, 1, f.closes)

			// Whatever reached the file reads back as acked records plus
			// a torn tail.
			res := readLog(f.data, false)
			require.ErrorIs(t, res.err, io.EOF)
			require.GreaterOrEqual(t, len(res.recs), len(acked))
			requireRecords(t, acked, res.recs[:len(acked)])
		})
	}
}

func TestWriterClosed(t *testing.T) {
	f := &memFile{}
	w := NewWriter(f)
	_, err := w.WriteRecord([]byte("x"))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	require.Equal(t, 1, f.closes)
	require.Equal(t, len(f.data), f.synced)
	_, err = w.WriteRecord([]byte("y"))
	require.ErrorIs(t, err, errClosed)
	require.ErrorIs(t, w.Flush(), errClosed)
	require.ErrorIs(t, w.Close(), errClosed)
	require.Equal(t, 1, f.closes)
}

func TestNoAllocs(t *testing.T) {
	if testing.CoverMode() != "" || raceEnabled {
		t.Skip("allocation counts are not meaningful under instrumentation")
	}
	w := NewWriter(&discardFile{})
	rec := make([]byte, 100)
	big := make([]byte, 3*BlockSize)
	allocs := testing.AllocsPerRun(1000, func() {
		_, _ = w.WriteRecord(rec)
		_ = w.Flush()
	})
	require.Zero(t, allocs, "WriteRecord+Flush")
	allocs = testing.AllocsPerRun(50, func() { _, _ = w.WriteRecord(big) })
	require.Zero(t, allocs, "WriteRecord of a multi-block record")

	recs := make([][]byte, 2000)
	for i := range recs {
		recs[i] = rec
		if i%100 == 0 {
			recs[i] = big
		}
	}
	log, _ := writeLog(t, recs)
	r := NewReader(bytes.NewReader(log), "x")
	_, err := r.Next() // the first big record sizes the reassembly buffer
	require.NoError(t, err)
	allocs = testing.AllocsPerRun(1000, func() {
		if _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
	})
	require.Zero(t, allocs, "Reader.Next")
}

// discardFile is a vfs.File that discards writes.
type discardFile struct{ memFile }

func (f *discardFile) Write(p []byte) (int, error) { return len(p), nil }

// TestFindValidChunk checks the IndexByte-driven scan against testing
// every offset.
func TestFindValidChunk(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	brute := func(b []byte, from int) int {
		for p := from; p+headerSize <= len(b); p++ {
			if validChunkAt(b, p) {
				return p
			}
		}
		return -1
	}
	log, _ := writeLog(t, [][]byte{[]byte("hello"), nil, randBytes(rng, 40)})
	for range 500 {
		n := rng.IntN(300)
		b := make([]byte, n)
		for i := range b {
			switch rng.IntN(4) {
			case 0:
				b[i] = byte(rng.IntN(6)) // dense in type bytes and short lengths
			case 1:
				b[i] = 0
			default:
				b[i] = byte(rng.Uint32())
			}
		}
		// Plant pieces of a valid log.
		for range rng.IntN(3) {
			if n > 0 {
				at := rng.IntN(n)
				copy(b[at:], log[rng.IntN(2)*12:])
			}
		}
		for from := 0; from <= n; from++ {
			require.Equal(t, brute(b, from), findValidChunk(b, from), "from %d in % x", from, b)
		}
	}
}

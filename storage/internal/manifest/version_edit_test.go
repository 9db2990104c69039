package manifest

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/minidbgo/minidbgo/storage/internal/base"
)

func TestEditEncodeExample(t *testing.T) {
	// The example drawn in doc.go.
	e := &VersionEdit{LastSeq: 9, NewFiles: []NewFile{{Level: 0, Meta: &FileMetadata{
		FileNum: 7, Size: 100, Smallest: ikey("a", 5), Largest: ikey("c", 9), SmallestSeq: 5, LargestSeq: 9,
	}}}}
	var want []byte
	want = append(want, 0x01, 0x01, 0x04, 0x09, 0x06, 0x00, 0x07, 0x64, 0x09)
	want = append(want, ikey("a", 5)...)
	want = append(want, 0x09)
	want = append(want, ikey("c", 9)...)
	want = append(want, 0x05, 0x09)
	got := e.Encode(nil)
	require.Equal(t, want, got)
	require.Len(t, got, 30)

	// Encode appends.
	require.Equal(t, append([]byte("xy"), want...), e.Encode([]byte("xy")))
}

func TestEditEmpty(t *testing.T) {
	var e VersionEdit
	enc := e.Encode(nil)
	require.Equal(t, []byte{tagVersion, editFormatVersion}, enc)
	d := VersionEdit{LogNum: 5}
	require.NoError(t, d.Decode(enc))
	require.Equal(t, VersionEdit{}, d)
}

// randomEdit returns an edit with arbitrary (not necessarily Apply-able)
// contents that the encoding must preserve.
func randomEdit(rng *rand.Rand) *VersionEdit {
	e := &VersionEdit{}
	counter := func() uint64 {
		switch rng.IntN(4) {
		case 0:
			return 0
		case 1:
			return rng.Uint64()
		}
		return rng.Uint64N(1000)
	}
	seq := func() base.SeqNum { return base.SeqNum(rng.Uint64N(uint64(base.MaxSeqNum) + 1)) }
	key := func() []byte {
		ukey := make([]byte, rng.IntN(20))
		for i := range ukey {
			ukey[i] = byte(rng.IntN(256))
		}
		return base.MakeInternalKey(ukey, seq(), base.Kind(rng.IntN(2)))
	}
	e.LogNum = counter()
	e.NextFileNum = counter()
	if rng.IntN(4) > 0 {
		e.LastSeq = seq()
	}
	for range rng.IntN(5) {
		e.DeletedFiles = append(e.DeletedFiles, DeletedFile{Level: rng.IntN(NumLevels), FileNum: counter()})
	}
	for range rng.IntN(5) {
		e.NewFiles = append(e.NewFiles, NewFile{Level: rng.IntN(NumLevels), Meta: &FileMetadata{
			FileNum: counter(), Size: counter(), Smallest: key(), Largest: key(),
			SmallestSeq: seq(), LargestSeq: seq(),
		}})
	}
	return e
}

func TestEditRoundTripRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		e := randomEdit(rng)
		enc := e.Encode(nil)
		var got VersionEdit
		require.NoError(t, got.Decode(enc), "edit %d", i)
		require.Equal(t, e, &got, "edit %d", i)
		require.Equal(t, enc, got.Encode(nil), "edit %d", i)
	}
}

func TestEditDecodeCopiesKeys(t *testing.T) {
	e := add(1, file(3, "a", "b", 1, 2))
	enc := e.Encode(nil)
	var got VersionEdit
	require.NoError(t, got.Decode(enc))
	for i := range enc {
		enc[i] = 0xff
	}
	require.Equal(t, e, &got)
}

// checkDecodeResult asserts what Decode may do with arbitrary input: fail
// with a corruption error, or produce an edit whose encoding round-trips.
// It avoids require in this hot loop to keep the race-enabled run fast.
func checkDecodeResult(t *testing.T, b []byte) {
	t.Helper()
	var e VersionEdit
	if err := e.Decode(b); err != nil {
		if !errors.Is(err, base.ErrCorruption) {
			t.Fatalf("Decode(%x) = %v, want a corruption error", b, err)
		}
		if !reflect.DeepEqual(e, VersionEdit{}) {
			t.Fatalf("a failed Decode(%x) changed the edit", b)
		}
		return
	}
	var e2 VersionEdit
	if err := e2.Decode(e.Encode(nil)); err != nil || !reflect.DeepEqual(e, e2) {
		t.Fatalf("Decode(%x) = %+v, which does not round-trip: %+v, %v", b, e, e2, err)
	}
}

func TestEditDecodeTruncatedAndBitFlipped(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 20 {
		enc := randomEdit(rng).Encode(nil)
		for n := range len(enc) {
			checkDecodeResult(t, enc[:n])
		}
		for bit := range 8 * len(enc) {
			b := append([]byte(nil), enc...)
			b[bit/8] ^= 1 << (bit % 8)
			checkDecodeResult(t, b)
		}
	}
	// A truncation in the middle of a field is always an error.
	enc := add(2, file(9, "k", "p", 4, 8)).Encode(nil)
	for n := 0; n < len(enc); n++ {
		var e VersionEdit
		if n == 2 { // just the version: a valid empty edit
			require.NoError(t, e.Decode(enc[:n]))
			continue
		}
		require.ErrorIs(t, e.Decode(enc[:n]), base.ErrCorruption, "prefix %d", n)
	}
}

func TestEditDecodeErrors(t *testing.T) {
	v := []byte{tagVersion, editFormatVersion}
	cat := func(parts ...[]byte) []byte {
		var b []byte
		for _, p := range parts {
			b = append(b, p...)
		}
		return b
	}
	newFile := func(level byte, keyLen byte, key []byte) []byte {
		return cat([]byte{tagNewFile, level, 1, 10, keyLen}, key, []byte{9}, ikey("b", 1), []byte{1, 1})
	}
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "truncated tag"},
		{"zeros", make([]byte, 16), "must start with the format version"},
		{"no version", []byte{tagLogNum, 5}, "must start with the format version"},
		{"future version", []byte{tagVersion, 2}, "unsupported edit format version 2"},
		{"truncated version", []byte{tagVersion}, "truncated format version"},
		{"unknown tag", cat(v, []byte{7, 1}), "unknown tag 7"},
		{"tag zero", cat(v, []byte{0}), "unknown tag 0"},
		{"duplicate log num", cat(v, []byte{tagLogNum, 1, tagLogNum, 2}), "tag 2 appears twice"},
		{"duplicate last seq", cat(v, []byte{tagLastSeq, 1, tagLastSeq, 1}), "tag 4 appears twice"},
		{"varint overflow", cat(v, []byte{tagLogNum}, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}), "overflows"},
		{"seq too large", cat(v, []byte{tagLastSeq, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}), "exceeds the maximum"},
		{"deleted level", cat(v, []byte{tagDeletedFile, NumLevels, 1}), "level 7 out of range"},
		{"deleted truncated", cat(v, []byte{tagDeletedFile, 1}), "truncated deleted file number"},
		{"new file level", cat(v, newFile(NumLevels, 9, ikey("a", 1))), "level 7 out of range"},
		{"key too long", cat(v, newFile(1, 100, ikey("a", 1))), "length 100 exceeds"},
		{"huge key length", cat(v, []byte{tagNewFile, 1, 1, 10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}), "exceeds the"},
		{"key too short", cat(v, newFile(1, 3, []byte("abc"))), "not a valid internal key"},
		{"bad kind", cat(v, newFile(1, 9, base.MakeInternalKey([]byte("a"), 1, 7))), "not a valid internal key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := VersionEdit{LogNum: 42}
			err := e.Decode(tc.b)
			require.ErrorIs(t, err, base.ErrCorruption)
			require.ErrorContains(t, err, tc.want)
			require.Equal(t, VersionEdit{LogNum: 42}, e)

			// The caller wraps it with file and offset.
			var ce *base.CorruptionError
			wrapped := &base.CorruptionError{File: "MANIFEST-000001", Offset: 7, Err: err}
			require.True(t, errors.As(error(wrapped), &ce))
			require.ErrorIs(t, wrapped, base.ErrCorruption)
		})
	}
}

func TestEditDecodeAnyOrder(t *testing.T) {
	b := []byte{tagVersion, editFormatVersion, tagDeletedFile, 1, 5, tagLastSeq, 9, tagDeletedFile, 2, 6, tagLogNum, 3}
	var e VersionEdit
	require.NoError(t, e.Decode(b))
	require.Equal(t, VersionEdit{
		LogNum:       3,
		LastSeq:      9,
		DeletedFiles: []DeletedFile{{1, 5}, {2, 6}},
	}, e)
}

func TestSnapshot(t *testing.T) {
	v, err := (&Version{}).Apply(
		add(0, file(1, "a", "z", 10, 12), file(2, "c", "d", 13, 20)),
		add(1, file(3, "a", "b", 1, 2), file(4, "c", "f", 3, 4)),
		add(6, file(5, "x", "\x00\xff", 0, 0)),
	)
	require.Error(t, err) // "x" > "\x00\xff"

	v, err = (&Version{}).Apply(
		add(0, file(1, "a", "z", 10, 12), file(2, "c", "d", 13, 20)),
		add(1, file(3, "a", "b", 1, 2), file(4, "c", "f", 3, 4)),
		add(6, file(5, "\x00\xff", "x", 0, 0)),
	)
	require.NoError(t, err)

	s := Snapshot(v, 7, 8, 9)
	require.Equal(t, uint64(7), s.LogNum)
	require.Equal(t, uint64(8), s.NextFileNum)
	require.Equal(t, base.SeqNum(9), s.LastSeq)
	require.Empty(t, s.DeletedFiles)
	require.Len(t, s.NewFiles, 5)

	var dec VersionEdit
	require.NoError(t, dec.Decode(s.Encode(nil)))
	nv, err := (&Version{}).Apply(&dec)
	require.NoError(t, err)
	require.Equal(t, v.String(), nv.String())
	for level := range v.Levels {
		require.Equal(t, fileNums(v.Levels[level]), fileNums(nv.Levels[level]))
	}

	empty := Snapshot(&Version{}, 1, 2, 3)
	require.Equal(t, &VersionEdit{LogNum: 1, NextFileNum: 2, LastSeq: 3}, empty)
}

package manifest

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/minidbgo/minidbgo/storage/internal/base"
)

// maxFuzzInput caps the fuzz inputs this package's targets accept, so that
// each iteration's work and allocation are bounded whatever the fuzzer
// generates; real edits are far smaller.
const maxFuzzInput = 64 << 10

// FuzzManifestDecode feeds arbitrary bytes to Decode. Decode must not panic;
// it either fails with a corruption error or yields an edit that survives an
// Encode/Decode round trip. A decoded edit applied to an empty Version must
// likewise fail with a corruption error or yield a Version that passes
// CheckInvariants and that its Snapshot recreates.
func FuzzManifestDecode(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{tagVersion, editFormatVersion})
	f.Add([]byte{tagVersion, 2})
	f.Add([]byte{tagVersion, editFormatVersion, tagLogNum, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Add([]byte{tagVersion, editFormatVersion, tagNewFile, 1, 1, 1, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add((&VersionEdit{LogNum: 3, NextFileNum: 9, LastSeq: 77}).Encode(nil))
	f.Add(add(0, file(7, "a", "c", 5, 9), file(8, "b", "d", 10, 12)).Encode(nil))
	f.Add(add(1, file(7, "a", "c", 5, 9), file(8, "c", "d", 10, 12)).Encode(nil)) // overlap
	f.Add((&VersionEdit{
		DeletedFiles: []DeletedFile{{1, 4}},
		NewFiles:     []NewFile{{2, file(4, "k", "m", 1, 2)}, {6, file(5, "\x00", "\xff", 0, 0)}},
	}).Encode(nil))
	rng := rand.New(rand.NewPCG(11, 12))
	for range 8 {
		f.Add(randomEdit(rng).Encode(nil))
	}

	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > maxFuzzInput {
			return // bounded work and allocation per input (RELIABILITY.md S11)
		}
		var e VersionEdit
		if err := e.Decode(b); err != nil {
			require.ErrorIs(t, err, base.ErrCorruption)
			return
		}
		enc := e.Encode(nil)
		var e2 VersionEdit
		require.NoError(t, e2.Decode(enc))
		require.Equal(t, e, e2)
		require.Equal(t, enc, e2.Encode(nil))

		v, err := (&Version{}).Apply(&e)
		if err != nil {
			require.ErrorIs(t, err, base.ErrCorruption)
			return
		}
		require.NoError(t, v.CheckInvariants())
		var snap VersionEdit
		require.NoError(t, snap.Decode(Snapshot(v, e.LogNum, e.NextFileNum, e.LastSeq).Encode(nil)))
		v2, err := (&Version{}).Apply(&snap)
		require.NoError(t, err)
		require.Equal(t, v.String(), v2.String())
		for level := range v.Levels {
			_ = v.Overlaps(level, nil, nil)
		}
	})
}

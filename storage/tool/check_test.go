package tool

import (
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/minidbgo/minidbgo/storage"
	"github.com/minidbgo/minidbgo/storage/vfs"
	"github.com/stretchr/testify/require"
)

// build writes n keys in two flushed tables and leaves some in the WAL.
func build(t *testing.T, n int) *vfs.MemFS {
	t.Helper()
	fs := vfs.NewMem()
	db, err := storage.Open("/db", &storage.Options{FS: fs})
	require.NoError(t, err)
	for i := range n {
		require.NoError(t, db.Put(fmt.Appendf(nil, "key%05d", i), fmt.Appendf(nil, "value-%05d-padding-padding", i)))
		if i == n/2 {
			require.NoError(t, db.Flush())
		}
	}
	require.NoError(t, db.Flush())
	for i := range 10 {
		require.NoError(t, db.Put(fmt.Appendf(nil, "wal%02d", i), []byte("v")))
	}
	require.NoError(t, db.Close())
	return fs
}

func ssts(t *testing.T, fs *vfs.MemFS) []string {
	t.Helper()
	names, err := fs.List("/db/sst")
	require.NoError(t, err)
	require.NotEmpty(t, names)
	return names
}

func TestCheckClean(t *testing.T) {
	fs := build(t, 2000)
	rep, err := Check(fs, "/db")
	require.NoError(t, err)
	require.True(t, rep.OK(), "%+v", rep.Damaged())
	kinds := map[FileKind]int{}
	for _, f := range rep.Files {
		kinds[f.Kind]++
		require.True(t, f.Live, f.Path)
	}
	require.Equal(t, 1, kinds[KindCurrent])
	require.Equal(t, 1, kinds[KindManifest])
	require.GreaterOrEqual(t, kinds[KindSST], 1)
	require.GreaterOrEqual(t, kinds[KindWAL], 1)
}

func TestCheckCorruptSST(t *testing.T) {
	fs := build(t, 2000)
	name := ssts(t, fs)[0]
	path := filepath.Join("/db/sst", name)
	b, err := fs.ReadFile(path)
	require.NoError(t, err)
	b[len(b)/3] ^= 0x40 // a data block
	require.NoError(t, fs.WriteFile(path, b))

	rep, err := Check(fs, "/db")
	require.NoError(t, err)
	bad := rep.Damaged()
	require.Len(t, bad, 1)
	require.Equal(t, filepath.Join("sst", name), bad[0].Path)
	var ce *storage.CorruptionError
	require.True(t, errors.As(bad[0].Err, &ce), "%v", bad[0].Err)
	require.Equal(t, filepath.Join("sst", name), ce.File)
	require.GreaterOrEqual(t, ce.Offset, int64(0))
	require.LessOrEqual(t, ce.Offset, int64(len(b)/3))
}

func TestCheckTruncatedSST(t *testing.T) {
	fs := build(t, 500)
	name := ssts(t, fs)[0]
	path := filepath.Join("/db/sst", name)
	b, err := fs.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, fs.WriteFile(path, b[:len(b)-10]))
	rep, err := Check(fs, "/db")
	require.NoError(t, err)
	require.Len(t, rep.Damaged(), 1)
	require.ErrorIs(t, rep.Damaged()[0].Err, storage.ErrCorruption)
}

func TestCheckMissingSST(t *testing.T) {
	fs := build(t, 500)
	name := ssts(t, fs)[0]
	require.NoError(t, fs.Remove(filepath.Join("/db/sst", name)))
	rep, err := Check(fs, "/db")
	require.NoError(t, err)
	bad := rep.Damaged()
	require.Len(t, bad, 1)
	require.Equal(t, filepath.Join("sst", name), bad[0].Path)
	require.ErrorContains(t, bad[0].Err, "missing")
}

func TestCheckCorruptManifestAndCurrent(t *testing.T) {
	fs := build(t, 500)
	names, err := fs.List("/db")
	require.NoError(t, err)
	var man string
	for _, n := range names {
		if len(n) > 9 && n[:9] == "MANIFEST-" {
			man = n
		}
	}
	require.NotEmpty(t, man)
	b, err := fs.ReadFile(filepath.Join("/db", man))
	require.NoError(t, err)
	b[10] ^= 0xff
	require.NoError(t, fs.WriteFile(filepath.Join("/db", man), b))
	rep, err := Check(fs, "/db")
	require.NoError(t, err)
	require.False(t, rep.OK())
	require.Equal(t, man, rep.Damaged()[0].Path)
	_, err = Inspect(fs, "/db")
	require.ErrorIs(t, err, storage.ErrCorruption)

	require.NoError(t, fs.WriteFile("/db/CURRENT", []byte("garbage\n")))
	rep, err = Check(fs, "/db")
	require.NoError(t, err)
	require.Equal(t, "CURRENT", rep.Damaged()[0].Path)
}

func TestCheckCorruptWALMiddle(t *testing.T) {
	fs := vfs.NewMem()
	db, err := storage.Open("/db", &storage.Options{FS: fs})
	require.NoError(t, err)
	for i := range 3000 {
		require.NoError(t, db.Put(fmt.Appendf(nil, "k%05d", i), make([]byte, 100)))
	}
	crashed := fs.CrashClone(vfs.CrashCloneOptions{})
	require.NoError(t, db.Close())
	names, err := crashed.List("/db/wal")
	require.NoError(t, err)
	path := filepath.Join("/db/wal", names[len(names)-1])
	b, err := crashed.ReadFile(path)
	require.NoError(t, err)
	require.Greater(t, len(b), 64<<10)
	b[100] ^= 0xff
	require.NoError(t, crashed.WriteFile(path, b))
	rep, err := Check(crashed, "/db")
	require.NoError(t, err)
	bad := rep.Damaged()
	require.Len(t, bad, 1)
	var ce *storage.CorruptionError
	require.ErrorAs(t, bad[0].Err, &ce)
	require.Equal(t, filepath.Join("wal", names[len(names)-1]), ce.File)
}

func TestInspect(t *testing.T) {
	fs := build(t, 2000)
	lay, err := Inspect(fs, "/db")
	require.NoError(t, err)
	require.Len(t, lay.Levels, NumLevels)
	require.Equal(t, len(ssts(t, fs)), lay.Tables)
	var entries uint64
	for _, l := range lay.Levels {
		for _, f := range l.Files {
			require.Empty(t, f.Error)
			entries += f.Entries
		}
	}
	require.Equal(t, uint64(2000), entries)
	require.NotEmpty(t, lay.WALs)
	require.NotZero(t, lay.LastSeq)
}

func TestNotDataDir(t *testing.T) {
	fs := vfs.NewMem()
	require.NoError(t, fs.MkdirAll("/empty", 0o755))
	_, err := Check(fs, "/empty")
	require.ErrorIs(t, err, ErrNotDataDir)
	_, err = Inspect(fs, "/empty")
	require.ErrorIs(t, err, ErrNotDataDir)
}

func TestRepairWALMiddle(t *testing.T) {
	fs := build(t, 200)
	logs, err := fs.List("/db/wal")
	require.NoError(t, err)
	var path string
	for _, l := range logs {
		data, err := fs.ReadFile("/db/wal/" + l)
		require.NoError(t, err)
		if len(data) > 200 {
			path = "/db/wal/" + l
			data[len(data)/2] ^= 0x55
			require.NoError(t, fs.WriteFile(path, data))
		}
	}
	require.NotEmpty(t, path, "build leaves an unflushed log")
	_, err = storage.Open("/db", &storage.Options{FS: fs})
	require.ErrorIs(t, err, storage.ErrCorruption)
	require.Contains(t, Advice(err, "/db"), "minidbgo repair --wal=point-in-time --dir /db")

	r, err := Repair(fs, "/db", nil)
	require.NoError(t, err)
	require.Equal(t, "wal/"+filepath.Base(path), r.DamagedLog)
	require.Positive(t, r.Records)
	rep, err := Check(fs, "/db")
	require.NoError(t, err)
	require.True(t, rep.OK(), "damaged after repair: %v", rep.Damaged())
	db, err := storage.Open("/db", &storage.Options{FS: fs})
	require.NoError(t, err)
	require.NoError(t, db.Close())
}

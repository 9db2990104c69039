package vfs_test

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/minidbgo/minidbgo/storage/vfs"
)

// syncDir makes dir's entries durable.
func syncDir(t *testing.T, fs vfs.FS, dir string) {
	t.Helper()
	d, err := fs.OpenDir(dir)
	require.NoError(t, err)
	require.NoError(t, d.Sync())
	require.NoError(t, d.Close())
}

// write appends data to f.
func write(t *testing.T, f vfs.File, data string) {
	t.Helper()
	_, err := io.WriteString(f, data)
	require.NoError(t, err)
}

// crash returns fs after a power cut that keeps only synced state.
func crash(fs *vfs.MemFS) *vfs.MemFS {
	return fs.CrashClone(vfs.CrashCloneOptions{})
}

// contents returns name's contents in fs, or "<missing>".
func contents(t *testing.T, fs *vfs.MemFS, name string) string {
	t.Helper()
	b, err := fs.ReadFile(name)
	if errors.Is(err, os.ErrNotExist) {
		return "<missing>"
	}
	require.NoError(t, err)
	return string(b)
}

func TestMemFSCrashDropsUnsyncedData(t *testing.T) {
	fs := vfs.NewMem()
	require.NoError(t, fs.MkdirAll("/db", 0o755))
	f, err := fs.Create("/db/000001.log")
	require.NoError(t, err)
	syncDir(t, fs, "/db")

	write(t, f, "abc")
	require.Equal(t, "", contents(t, crash(fs), "/db/000001.log"), "unsynced write")

	require.NoError(t, f.Sync())
	write(t, f, "def")
	require.Equal(t, "abc", contents(t, crash(fs), "/db/000001.log"), "synced prefix only")

	require.NoError(t, f.Sync())
	require.Equal(t, "abcdef", contents(t, crash(fs), "/db/000001.log"))
}

func TestMemFSCrashDropsUnsyncedCreate(t *testing.T) {
	fs := vfs.NewMem()
	require.NoError(t, fs.MkdirAll("/db", 0o755))
	f, err := fs.Create("/db/000002.sst")
	require.NoError(t, err)
	write(t, f, "table")
	require.NoError(t, f.Sync()) // data synced, entry not

	require.Equal(t, "<missing>", contents(t, crash(fs), "/db/000002.sst"))

	syncDir(t, fs, "/db")
	require.Equal(t, "table", contents(t, crash(fs), "/db/000002.sst"))
}

func TestMemFSCrashRemove(t *testing.T) {
	fs := vfs.NewMem()
	require.NoError(t, fs.MkdirAll("/db", 0o755))
	require.NoError(t, fs.WriteFile("/db/old.sst", []byte("x")))
	require.NoError(t, fs.Remove("/db/old.sst"))
	require.Equal(t, "x", contents(t, crash(fs), "/db/old.sst"), "unsynced remove")
	syncDir(t, fs, "/db")
	require.Equal(t, "<missing>", contents(t, crash(fs), "/db/old.sst"))
}

func TestMemFSCrashRename(t *testing.T) {
	fs := vfs.NewMem()
	require.NoError(t, fs.MkdirAll("/db", 0o755))
	require.NoError(t, fs.WriteFile("/db/CURRENT", []byte("MANIFEST-1\n")))
	f, err := fs.Create("/db/CURRENT.tmp")
	require.NoError(t, err)
	write(t, f, "MANIFEST-2\n")
	require.NoError(t, f.Sync())
	require.NoError(t, f.Close())
	syncDir(t, fs, "/db")

	require.NoError(t, fs.Rename("/db/CURRENT.tmp", "/db/CURRENT"))
	c := crash(fs)
	require.Equal(t, "MANIFEST-1\n", contents(t, c, "/db/CURRENT"), "rename without dir sync")
	require.Equal(t, "MANIFEST-2\n", contents(t, c, "/db/CURRENT.tmp"))

	syncDir(t, fs, "/db")
	c = crash(fs)
	require.Equal(t, "MANIFEST-2\n", contents(t, c, "/db/CURRENT"), "rename with dir sync")
	require.Equal(t, "<missing>", contents(t, c, "/db/CURRENT.tmp"))
}

func TestMemFSCrashCreateTruncate(t *testing.T) {
	fs := vfs.NewMem()
	require.NoError(t, fs.WriteFile("/f", []byte("synced")))
	f, err := fs.Create("/f") // truncates, unsynced
	require.NoError(t, err)
	write(t, f, "new")
	require.Equal(t, "new", contents(t, fs, "/f"))
	require.Equal(t, "synced", contents(t, crash(fs), "/f"))

	for seed := range uint64(20) {
		got := contents(t, fs.CrashClone(vfs.CrashCloneOptions{
			UnsyncedDataPercent: 100,
			RNG:                 rand.New(rand.NewPCG(seed, 0)),
		}), "/f")
		require.True(t, strings.HasPrefix("new", got), "got %q", got)
	}
}

func TestMemFSCrashKeepsUnsyncedPrefixes(t *testing.T) {
	fs := vfs.NewMem()
	const files = 8
	want := make([]string, files)
	for i := range files {
		name := "/" + string(rune('a'+i))
		f, err := fs.Create(name)
		require.NoError(t, err)
		write(t, f, "synced-")
		require.NoError(t, f.Sync())
		for j := range 10 {
			write(t, f, strings.Repeat(string(rune('0'+j)), 10))
		}
		want[i] = contents(t, fs, name)
	}
	syncDir(t, fs, "/")

	kept := 0
	for seed := range uint64(10) {
		opts := func() vfs.CrashCloneOptions {
			return vfs.CrashCloneOptions{UnsyncedDataPercent: 100, RNG: rand.New(rand.NewPCG(seed, 1))}
		}
		c := fs.CrashClone(opts())
		require.Equal(t, c.String(), fs.CrashClone(opts()).String(), "same seed, same clone")
		for i := range files {
			got := contents(t, c, "/"+string(rune('a'+i)))
			require.True(t, strings.HasPrefix(got, "synced-"), "lost synced data: %q", got)
			require.True(t, strings.HasPrefix(want[i], got), "not a prefix: %q", got)
			kept += len(got) - len("synced-")
		}
	}
	require.Positive(t, kept, "UnsyncedDataPercent=100 kept no unsynced byte")
}

func TestMemFSCrashCloneIsIndependent(t *testing.T) {
	fs := vfs.NewMem()
	f, err := fs.Create("/f")
	require.NoError(t, err)
	write(t, f, "abc")
	require.NoError(t, f.Sync())
	syncDir(t, fs, "/")
	l, err := fs.Lock("/LOCK")
	require.NoError(t, err)
	defer l.Close()

	c := crash(fs)
	cl, err := c.Lock("/LOCK")
	require.NoError(t, err, "locks do not survive a crash")
	require.NoError(t, cl.Close())

	write(t, f, "def") // the original's handle, shared backing array
	require.NoError(t, f.Sync())
	require.Equal(t, "abc", contents(t, c, "/f"))

	cf, err := c.Create("/g")
	require.NoError(t, err)
	write(t, cf, "clone")
	require.NoError(t, c.WriteFile("/f", []byte("changed")))
	require.Equal(t, "abcdef", contents(t, fs, "/f"))
	require.Equal(t, "<missing>", contents(t, fs, "/g"))
}

func TestMemFSCrashCloneNeedsRNG(t *testing.T) {
	require.Panics(t, func() {
		vfs.NewMem().CrashClone(vfs.CrashCloneOptions{UnsyncedDataPercent: 50})
	})
}

func TestMemFSPaths(t *testing.T) {
	fs := vfs.NewMem()
	require.NoError(t, fs.MkdirAll("db/sub", 0o755))
	require.NoError(t, fs.WriteFile("db/../db/sub/./f", []byte("x")))
	require.Equal(t, "x", contents(t, fs, "/db/sub/f"))
	names, err := fs.List("/")
	require.NoError(t, err)
	require.Equal(t, []string{"db"}, names)
	fi, err := fs.Stat("")
	require.NoError(t, err)
	require.True(t, fi.IsDir())
}

func TestMemFSErrors(t *testing.T) {
	fs := vfs.NewMem()
	require.NoError(t, fs.MkdirAll("/d/e", 0o755))
	require.NoError(t, fs.WriteFile("/d/f", nil))

	_, err := fs.Create("/d")
	require.Error(t, err, "Create over a directory")
	_, err = fs.Open("/d/f/g")
	require.Error(t, err, "a file as a directory")
	require.ErrorIs(t, fs.Remove("/d"), os.ErrExist, "non-empty directory (ENOTEMPTY)")
	require.Error(t, fs.Rename("/d/f", "/d/e"), "file over directory")
	require.Error(t, fs.Rename("/d", "/d/e/x"), "directory into itself")
	require.Error(t, fs.Remove("/"))

	_, err = fs.ReadFile("/d")
	require.Error(t, err)

	d, err := fs.Open("/d")
	require.NoError(t, err)
	_, err = d.Read(make([]byte, 1))
	require.Error(t, err, "reading a directory")
	require.NoError(t, d.Close())
}

func TestMemFSOpenHandleSeesTruncation(t *testing.T) {
	fs := vfs.NewMem()
	require.NoError(t, fs.WriteFile("/f", []byte("long contents")))
	r, err := fs.Open("/f")
	require.NoError(t, err)
	defer r.Close()
	require.NoError(t, fs.WriteFile("/f", []byte("short")))
	b, err := io.ReadAll(r)
	require.NoError(t, err)
	require.Equal(t, "short", string(b))
}

func TestMemFSString(t *testing.T) {
	fs := vfs.NewMem()
	require.NoError(t, fs.MkdirAll("/db", 0o755))
	require.NoError(t, fs.WriteFile("/db/CURRENT", []byte("MANIFEST-1\n")))
	require.NoError(t, fs.Remove("/db/CURRENT"))
	f, err := fs.Create("/db/000001.log")
	require.NoError(t, err)
	write(t, f, "abc")
	require.Equal(t, `/
  db/
    000001.log (3 bytes, 0 synced) (not durable)
    CURRENT (11 bytes, 11 synced) (removed)
`, fs.String())
}

func TestMemFSConcurrentReadAtWrite(t *testing.T) {
	fs := vfs.NewMem()
	w, err := fs.Create("/f")
	require.NoError(t, err)
	r, err := fs.Open("/f")
	require.NoError(t, err)

	const writes, chunk = 500, 16
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range writes {
			if _, err := w.Write(bytes.Repeat([]byte{byte(i)}, chunk)); err != nil {
				t.Error(err)
				return
			}
			if i%50 == 0 {
				if err := w.Sync(); err != nil {
					t.Error(err)
					return
				}
			}
		}
	})
	for range 4 {
		wg.Go(func() {
			buf := make([]byte, chunk)
			for i := range writes {
				n, err := r.ReadAt(buf, int64(i*chunk))
				if err != nil && err != io.EOF {
					t.Error(err)
					return
				}
				for _, b := range buf[:n] {
					if b != byte(i) {
						t.Errorf("chunk %d holds byte %d", i, b)
						return
					}
				}
				if _, err := r.Stat(); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			crash(fs)
		}
	})
	wg.Wait()
	fi, err := r.Stat()
	require.NoError(t, err)
	require.Equal(t, int64(writes*chunk), fi.Size())
}

// TestMemSameFileAndRemoveAll: SameFile tells a file from one created
// again under its name, and RemoveAll unlinks a tree that open files keep
// using.
func TestMemSameFileAndRemoveAll(t *testing.T) {
	m := vfs.NewMem()
	require.NoError(t, m.MkdirAll("/d/sub", 0o755))
	f, err := m.Create("/d/sub/f")
	require.NoError(t, err)
	a, err := m.Stat("/d/sub/f")
	require.NoError(t, err)
	b, err := m.Stat("/d/sub/f")
	require.NoError(t, err)
	require.True(t, vfs.SameFile(a, b))
	dir, err := m.Stat("/d")
	require.NoError(t, err)
	require.False(t, vfs.SameFile(a, dir))

	require.NoError(t, m.RemoveAll("/d"))
	_, err = m.Stat("/d/sub/f")
	require.ErrorIs(t, err, os.ErrNotExist)
	_, err = f.Write([]byte("x")) // an unlinked file stays writable
	require.NoError(t, err)
	require.NoError(t, f.Sync())
	require.NotContains(t, m.CrashClone(vfs.CrashCloneOptions{}).String(), "d/", "the removal is durable")

	require.NoError(t, m.MkdirAll("/d/sub", 0o755))
	g, err := m.Create("/d/sub/f")
	require.NoError(t, err)
	defer g.Close()
	c, err := m.Stat("/d/sub/f")
	require.NoError(t, err)
	require.False(t, vfs.SameFile(a, c), "created again under the same name")

	osDir := t.TempDir()
	require.NoError(t, os.WriteFile(osDir+"/x", nil, 0o644))
	x1, err := vfs.Default.Stat(osDir + "/x")
	require.NoError(t, err)
	x2, err := vfs.Default.Stat(osDir + "/x")
	require.NoError(t, err)
	require.True(t, vfs.SameFile(x1, x2))
	require.False(t, vfs.SameFile(x1, nil))
}

// A link, like a creation, survives a crash only once its directory is
// synced; the linked data is whatever the file had synced.
func TestMemFSCrashLink(t *testing.T) {
	fs := vfs.NewMem()
	require.NoError(t, fs.MkdirAll("/a", 0o755))
	require.NoError(t, fs.MkdirAll("/b", 0o755))
	require.NoError(t, fs.WriteFile("/a/t.sst", []byte("table")))
	require.NoError(t, fs.Link("/a/t.sst", "/b/t.sst"))

	_, err := fs.CrashClone(vfs.CrashCloneOptions{}).Stat("/b/t.sst")
	require.ErrorIs(t, err, os.ErrNotExist, "the link's directory was not synced")

	d, err := fs.OpenDir("/b")
	require.NoError(t, err)
	require.NoError(t, d.Sync())
	require.NoError(t, d.Close())
	c := fs.CrashClone(vfs.CrashCloneOptions{})
	got, err := c.ReadFile("/b/t.sst")
	require.NoError(t, err)
	require.Equal(t, "table", string(got))
	// The clone keeps the two names one file.
	fa, err := c.Stat("/a/t.sst")
	require.NoError(t, err)
	fb, err := c.Stat("/b/t.sst")
	require.NoError(t, err)
	require.True(t, vfs.SameFile(fa, fb))
}

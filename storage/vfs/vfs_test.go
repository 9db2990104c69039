package vfs_test

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/minidbgo/minidbgo/storage/vfs"
)

// implementations are the filesystems every conformance test runs
// against. Each returns a fresh FS and an existing, empty directory in it.
var implementations = []struct {
	name string
	new  func(t *testing.T) (vfs.FS, string)
}{
	{"os", func(t *testing.T) (vfs.FS, string) { return vfs.Default, t.TempDir() }},
	{"mem", func(t *testing.T) (vfs.FS, string) {
		fs := vfs.NewMem()
		require.NoError(t, fs.MkdirAll("/tmp/test", 0o755))
		return fs, "/tmp/test"
	}},
}

// conformance lists behaviour that Default and MemFS must share.
var conformance = []struct {
	name string
	test func(t *testing.T, fs vfs.FS, dir string)
}{
	{"WriteReadBack", testWriteReadBack},
	{"CreateTruncates", testCreateTruncates},
	{"NotExist", testNotExist},
	{"ListSorted", testListSorted},
	{"Rename", testRename},
	{"Remove", testRemove},
	{"MkdirAll", testMkdirAll},
	{"SyncDir", testSyncDir},
	{"ReadOnly", testReadOnly},
	{"Closed", testClosed},
	{"Lock", testLock},
	{"Link", testLink},
}

func TestConformance(t *testing.T) {
	for _, impl := range implementations {
		t.Run(impl.name, func(t *testing.T) {
			for _, c := range conformance {
				t.Run(c.name, func(t *testing.T) {
					fs, dir := impl.new(t)
					c.test(t, fs, dir)
				})
			}
		})
	}
}

// writeFile creates name with data, synced.
func writeFile(t *testing.T, fs vfs.FS, name, data string) {
	t.Helper()
	f, err := fs.Create(name)
	require.NoError(t, err)
	_, err = io.WriteString(f, data)
	require.NoError(t, err)
	require.NoError(t, f.Sync())
	require.NoError(t, f.Close())
}

// readFile returns name's contents, read through Open.
func readFile(t *testing.T, fs vfs.FS, name string) string {
	t.Helper()
	f, err := fs.Open(name)
	require.NoError(t, err)
	defer f.Close()
	b, err := io.ReadAll(f)
	require.NoError(t, err)
	return string(b)
}

func testWriteReadBack(t *testing.T, fs vfs.FS, dir string) {
	name := filepath.Join(dir, "000001.log")
	f, err := fs.Create(name)
	require.NoError(t, err)
	for _, s := range []string{"hello, ", "world"} {
		n, err := io.WriteString(f, s)
		require.NoError(t, err)
		require.Equal(t, len(s), n)
	}
	require.NoError(t, f.Sync())
	fi, err := f.Stat()
	require.NoError(t, err)
	require.Equal(t, int64(12), fi.Size())
	require.NoError(t, f.Close())

	require.Equal(t, "hello, world", readFile(t, fs, name))

	fi, err = fs.Stat(name)
	require.NoError(t, err)
	require.Equal(t, "000001.log", fi.Name())
	require.Equal(t, int64(12), fi.Size())
	require.False(t, fi.IsDir())
	require.False(t, fi.ModTime().IsZero())

	r, err := fs.Open(name)
	require.NoError(t, err)
	defer r.Close()
	buf := make([]byte, 5)
	n, err := r.ReadAt(buf, 7)
	require.NoError(t, err)
	require.Equal(t, "world", string(buf[:n]))
	n, err = r.ReadAt(buf, 10)
	require.ErrorIs(t, err, io.EOF)
	require.Equal(t, "ld", string(buf[:n]))
	_, err = r.ReadAt(buf, 12)
	require.ErrorIs(t, err, io.EOF)
}

func testCreateTruncates(t *testing.T, fs vfs.FS, dir string) {
	name := filepath.Join(dir, "CURRENT")
	writeFile(t, fs, name, "a long first version")
	writeFile(t, fs, name, "v2")
	require.Equal(t, "v2", readFile(t, fs, name))
}

func testNotExist(t *testing.T, fs vfs.FS, dir string) {
	missing := filepath.Join(dir, "missing")
	_, err := fs.Open(missing)
	require.ErrorIs(t, err, os.ErrNotExist)
	_, err = fs.Stat(missing)
	require.ErrorIs(t, err, os.ErrNotExist)
	require.ErrorIs(t, fs.Remove(missing), os.ErrNotExist)
	require.ErrorIs(t, fs.Rename(missing, filepath.Join(dir, "x")), os.ErrNotExist)
	_, err = fs.List(missing)
	require.ErrorIs(t, err, os.ErrNotExist)
	_, err = fs.OpenDir(missing)
	require.ErrorIs(t, err, os.ErrNotExist)
	_, err = fs.Create(filepath.Join(missing, "f"))
	require.ErrorIs(t, err, os.ErrNotExist)

	var pe *os.PathError
	_, err = fs.Open(missing)
	require.ErrorAs(t, err, &pe)
	require.Equal(t, missing, pe.Path)
}

func testListSorted(t *testing.T, fs vfs.FS, dir string) {
	for _, name := range []string{"b", "c", "a"} {
		writeFile(t, fs, filepath.Join(dir, name), name)
	}
	require.NoError(t, fs.MkdirAll(filepath.Join(dir, "d", "e"), 0o755))
	names, err := fs.List(dir)
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b", "c", "d"}, names)

	names, err = fs.List(filepath.Join(dir, "d", "e"))
	require.NoError(t, err)
	require.Empty(t, names)
}

func testRename(t *testing.T, fs vfs.FS, dir string) {
	tmp, cur := filepath.Join(dir, "CURRENT.tmp"), filepath.Join(dir, "CURRENT")
	writeFile(t, fs, cur, "old")
	writeFile(t, fs, tmp, "new")
	require.NoError(t, fs.Rename(tmp, cur))
	require.Equal(t, "new", readFile(t, fs, cur))
	_, err := fs.Stat(tmp)
	require.ErrorIs(t, err, os.ErrNotExist)
	names, err := fs.List(dir)
	require.NoError(t, err)
	require.Equal(t, []string{"CURRENT"}, names)
}

func testRemove(t *testing.T, fs vfs.FS, dir string) {
	name := filepath.Join(dir, "f")
	writeFile(t, fs, name, "x")
	require.NoError(t, fs.Remove(name))
	_, err := fs.Stat(name)
	require.ErrorIs(t, err, os.ErrNotExist)

	sub := filepath.Join(dir, "sub")
	require.NoError(t, fs.MkdirAll(sub, 0o755))
	writeFile(t, fs, filepath.Join(sub, "f"), "x")
	require.Error(t, fs.Remove(sub), "removing a non-empty directory")
	require.NoError(t, fs.Remove(filepath.Join(sub, "f")))
	require.NoError(t, fs.Remove(sub))
}

func testMkdirAll(t *testing.T, fs vfs.FS, dir string) {
	deep := filepath.Join(dir, "a", "b", "c")
	require.NoError(t, fs.MkdirAll(deep, 0o755))
	require.NoError(t, fs.MkdirAll(deep, 0o755), "MkdirAll of an existing directory")
	fi, err := fs.Stat(deep)
	require.NoError(t, err)
	require.True(t, fi.IsDir())
	require.Equal(t, "c", fi.Name())

	file := filepath.Join(dir, "file")
	writeFile(t, fs, file, "x")
	require.Error(t, fs.MkdirAll(file, 0o755))
	require.Error(t, fs.MkdirAll(filepath.Join(file, "sub"), 0o755))
}

func testSyncDir(t *testing.T, fs vfs.FS, dir string) {
	writeFile(t, fs, filepath.Join(dir, "f"), "x")
	d, err := fs.OpenDir(dir)
	require.NoError(t, err)
	require.NoError(t, d.Sync())
	fi, err := d.Stat()
	require.NoError(t, err)
	require.True(t, fi.IsDir())
	require.NoError(t, d.Close())

	_, err = fs.OpenDir(filepath.Join(dir, "f"))
	require.Error(t, err, "OpenDir of a file")
}

func testReadOnly(t *testing.T, fs vfs.FS, dir string) {
	name := filepath.Join(dir, "f")
	writeFile(t, fs, name, "x")
	f, err := fs.Open(name)
	require.NoError(t, err)
	defer f.Close()
	_, err = f.Write([]byte("y"))
	require.Error(t, err, "Write to a file opened by Open")
	require.Equal(t, "x", readFile(t, fs, name))
}

func testClosed(t *testing.T, fs vfs.FS, dir string) {
	f, err := fs.Create(filepath.Join(dir, "f"))
	require.NoError(t, err)
	require.NoError(t, f.Close())
	_, err = f.Write([]byte("x"))
	require.ErrorIs(t, err, os.ErrClosed)
	require.ErrorIs(t, f.Close(), os.ErrClosed)
}

func testLock(t *testing.T, fs vfs.FS, dir string) {
	name := filepath.Join(dir, "LOCK")
	pid := strconv.Itoa(os.Getpid())

	l, err := fs.Lock(name)
	require.NoError(t, err)
	require.Equal(t, pid+"\n", readFile(t, fs, name))

	_, err = fs.Lock(name)
	require.ErrorIs(t, err, vfs.ErrLocked)
	require.Equal(t, fmt.Sprintf("lock %s: held by pid %s: %v", name, pid, vfs.ErrLocked), err.Error())

	require.NoError(t, l.Close())
	require.Error(t, l.Close(), "second Close")

	l, err = fs.Lock(name)
	require.NoError(t, err, "relock after release")
	require.NoError(t, l.Close())
}

func TestLockErrorIsNotOtherErrors(t *testing.T) {
	for _, impl := range implementations {
		t.Run(impl.name, func(t *testing.T) {
			fs, dir := impl.new(t)
			_, err := fs.Lock(filepath.Join(dir, "missing", "LOCK"))
			require.ErrorIs(t, err, os.ErrNotExist)
			require.False(t, errors.Is(err, vfs.ErrLocked))
		})
	}
}

// TestLockErrorNamesHolder: a failed Lock is a *LockError that matches
// ErrLocked and carries the holder's pid, so that callers need not parse
// the message.
func TestLockErrorNamesHolder(t *testing.T) {
	fs := vfs.NewMem()
	l, err := fs.Lock("/LOCK")
	require.NoError(t, err)
	defer l.Close()
	_, err = fs.Lock("/LOCK")
	require.ErrorIs(t, err, vfs.ErrLocked)
	var le *vfs.LockError
	require.ErrorAs(t, err, &le)
	require.Equal(t, "/LOCK", le.Name)
}

func testLink(t *testing.T, fs vfs.FS, dir string) {
	a, b := filepath.Join(dir, "a.sst"), filepath.Join(dir, "b.sst")
	writeFile(t, fs, a, "table")
	require.NoError(t, fs.Link(a, b))
	require.Equal(t, "table", readFile(t, fs, b))
	fa, err := fs.Stat(a)
	require.NoError(t, err)
	fb, err := fs.Stat(b)
	require.NoError(t, err)
	require.True(t, vfs.SameFile(fa, fb), "a link names the same file")

	// Removing one name leaves the other.
	require.NoError(t, fs.Remove(a))
	require.Equal(t, "table", readFile(t, fs, b))

	// Like link(2): an existing target, a missing source, a directory.
	writeFile(t, fs, a, "other")
	require.ErrorIs(t, fs.Link(a, b), os.ErrExist)
	require.Equal(t, "table", readFile(t, fs, b), "a failed link changes nothing")
	require.ErrorIs(t, fs.Link(filepath.Join(dir, "missing"), filepath.Join(dir, "c")), os.ErrNotExist)
	require.NoError(t, fs.MkdirAll(filepath.Join(dir, "d"), 0o755))
	require.Error(t, fs.Link(filepath.Join(dir, "d"), filepath.Join(dir, "e")))
}

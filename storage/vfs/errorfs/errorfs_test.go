package errorfs_test

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/minidbgo/minidbgo/storage/vfs"
	"github.com/minidbgo/minidbgo/storage/vfs/errorfs"
)

// step is one operation of the workload below, named by the kind of its
// (only) errorfs operation.
type step struct {
	kind errorfs.OpKind
	run  func(fs vfs.FS, f *vfs.File) error
}

// steps is a workload of one errorfs operation per step, covering every
// OpKind in order.
var steps = []step{
	{errorfs.OpMkdirAll, func(fs vfs.FS, _ *vfs.File) error { return fs.MkdirAll("/db", 0o755) }},
	{errorfs.OpCreate, func(fs vfs.FS, f *vfs.File) (err error) { *f, err = fs.Create("/db/a.log"); return err }},
	{errorfs.OpFileWrite, func(_ vfs.FS, f *vfs.File) error { _, err := (*f).Write([]byte("data")); return err }},
	{errorfs.OpFileSync, func(_ vfs.FS, f *vfs.File) error { return (*f).Sync() }},
	{errorfs.OpFileStat, func(_ vfs.FS, f *vfs.File) error { _, err := (*f).Stat(); return err }},
	{errorfs.OpFileClose, func(_ vfs.FS, f *vfs.File) error { return (*f).Close() }},
	{errorfs.OpOpen, func(fs vfs.FS, f *vfs.File) (err error) { *f, err = fs.Open("/db/a.log"); return err }},
	{errorfs.OpFileRead, func(_ vfs.FS, f *vfs.File) error { _, err := (*f).Read(make([]byte, 2)); return err }},
	{errorfs.OpFileReadAt, func(_ vfs.FS, f *vfs.File) error { _, err := (*f).ReadAt(make([]byte, 2), 2); return err }},
	{errorfs.OpRename, func(fs vfs.FS, _ *vfs.File) error { return fs.Rename("/db/a.log", "/db/b.log") }},
	{errorfs.OpOpenDir, func(fs vfs.FS, f *vfs.File) (err error) { *f, err = fs.OpenDir("/db"); return err }},
	{errorfs.OpList, func(fs vfs.FS, _ *vfs.File) error { _, err := fs.List("/db"); return err }},
	{errorfs.OpStat, func(fs vfs.FS, _ *vfs.File) error { _, err := fs.Stat("/db/b.log"); return err }},
	{errorfs.OpLink, func(fs vfs.FS, _ *vfs.File) error { return fs.Link("/db/b.log", "/db/c.log") }},
	{errorfs.OpRemove, func(fs vfs.FS, _ *vfs.File) error { return fs.Remove("/db/b.log") }},
	{errorfs.OpLock, func(fs vfs.FS, _ *vfs.File) error { _, err := fs.Lock("/db/LOCK"); return err }},
}

// runSteps runs every step and returns each step's error. A step that
// fails with an injected error is run again, once, so that the steps after
// it find the state they expect; Close is not, as it closes regardless.
func runSteps(fs vfs.FS) []error {
	var f vfs.File
	errs := make([]error, len(steps))
	for i, s := range steps {
		if errs[i] = s.run(fs, &f); errors.Is(errs[i], errorfs.ErrInjected) && s.kind != errorfs.OpFileClose {
			if err := s.run(fs, &f); err != nil {
				panic(fmt.Sprintf("step %d failed twice: %v", i, err))
			}
		}
	}
	return errs
}

func TestCountsOps(t *testing.T) {
	var seen []errorfs.Op
	var mu sync.Mutex
	fs := errorfs.Wrap(vfs.NewMem(), errorfs.InjectorFunc(func(op errorfs.Op) error {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, op)
		return nil
	}))
	for i, err := range runSteps(fs) {
		require.NoError(t, err, "step %d", i)
	}
	require.Equal(t, int64(len(steps)), fs.Ops())
	require.Len(t, seen, len(steps))
	for i, op := range seen {
		require.Equal(t, int64(i), op.Index)
		require.Equal(t, steps[i].kind, op.Kind, "op %d", i)
	}
	require.Equal(t, "/db/a.log", seen[2].Path, "a File op carries its file's name")
	require.Equal(t, "/db/a.log", seen[9].Path, "Rename carries the old name")

	fs.SetInjector(nil)
	_, err := fs.Stat("/db")
	require.NoError(t, err)
	require.Equal(t, int64(len(steps)+1), fs.Ops(), "ops count without an injector")
}

func TestOnIndexFailsExactlyOneOp(t *testing.T) {
	for i := range int64(len(steps)) {
		efs := errorfs.Wrap(vfs.NewMem(), errorfs.OnIndex(i, nil))
		for j, err := range runSteps(efs) {
			if int64(j) != i {
				require.NoError(t, err, "index %d: step %d", i, j)
				continue
			}
			require.ErrorIs(t, err, errorfs.ErrInjected, "index %d", i)
			require.ErrorIs(t, err, syscall.EIO)
			var pe *fs.PathError
			var le *os.LinkError
			if k := steps[j].kind; k == errorfs.OpRename || k == errorfs.OpLink {
				require.ErrorAs(t, err, &le)
				require.Equal(t, k.String(), le.Op)
			} else {
				require.ErrorAs(t, err, &pe)
				require.Equal(t, steps[j].kind.String(), pe.Op)
			}
		}
		retries := int64(1)
		if steps[i].kind == errorfs.OpFileClose {
			retries = 0
		}
		require.Equal(t, int64(len(steps))+retries, efs.Ops(), "index %d", i)
	}
}

func TestAfterIndexIsPersistent(t *testing.T) {
	mem := vfs.NewMem()
	fs := errorfs.Wrap(mem, errorfs.AfterIndex(3, errorfs.ErrNoSpace))
	require.NoError(t, fs.MkdirAll("/db", 0o755)) // 0
	f, err := fs.Create("/db/a")                  // 1
	require.NoError(t, err)
	_, err = f.Write([]byte("ok")) // 2
	require.NoError(t, err)
	for range 5 {
		_, err = f.Write([]byte("lost"))
		require.ErrorIs(t, err, errorfs.ErrNoSpace)
		require.ErrorIs(t, err, errorfs.ErrInjected)
		require.ErrorIs(t, err, syscall.ENOSPC)
		require.NotErrorIs(t, err, syscall.EIO)
	}
	_, err = fs.Stat("/db/a")
	require.ErrorIs(t, err, errorfs.ErrInjected, "reads fail too")
	require.Equal(t, int64(9), fs.Ops())

	b, err := mem.ReadFile("/db/a")
	require.NoError(t, err)
	require.Equal(t, "ok", string(b), "a failed Write writes nothing")
}

func TestFailedSyncSyncsNothing(t *testing.T) {
	mem := vfs.NewMem()
	fs := errorfs.Wrap(mem, errorfs.OnKind(errorfs.AfterIndex(0, nil), errorfs.OpFileSync))
	f, err := fs.Create("/a")
	require.NoError(t, err)
	_, err = f.Write([]byte("data"))
	require.NoError(t, err)
	require.ErrorIs(t, f.Sync(), errorfs.ErrInjected)
	d, err := fs.OpenDir("/")
	require.NoError(t, err)
	require.ErrorIs(t, d.Sync(), errorfs.ErrInjected, "directory syncs fail too")

	fs.SetInjector(nil)
	require.NoError(t, d.Sync())
	b, err := mem.CrashClone(vfs.CrashCloneOptions{}).ReadFile("/a")
	require.NoError(t, err)
	require.Empty(t, b)
}

func TestFailedCloseCloses(t *testing.T) {
	fs := errorfs.Wrap(vfs.NewMem(), errorfs.OnKind(errorfs.AfterIndex(0, nil), errorfs.OpFileClose))
	f, err := fs.Create("/a")
	require.NoError(t, err)
	require.ErrorIs(t, f.Close(), errorfs.ErrInjected)
	fs.SetInjector(nil)
	require.ErrorIs(t, f.Close(), os.ErrClosed)
}

func TestFilters(t *testing.T) {
	always := errorfs.AfterIndex(0, nil)
	tests := []struct {
		name string
		inj  errorfs.Injector
		fail []errorfs.OpKind
	}{
		{"WriteOpsOnly", errorfs.WriteOpsOnly(always), []errorfs.OpKind{
			errorfs.OpMkdirAll, errorfs.OpCreate, errorfs.OpFileWrite, errorfs.OpFileSync,
			errorfs.OpRename, errorfs.OpLink, errorfs.OpRemove, errorfs.OpLock,
		}},
		{"OnKind", errorfs.OnKind(always, errorfs.OpList, errorfs.OpStat),
			[]errorfs.OpKind{errorfs.OpList, errorfs.OpStat}},
		{"PathContains", errorfs.PathContains(always, "LOCK"),
			[]errorfs.OpKind{errorfs.OpLock}},
		{"Once", errorfs.Once(errorfs.OnKind(always, errorfs.OpOpen, errorfs.OpRemove)),
			[]errorfs.OpKind{errorfs.OpOpen}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var failed []errorfs.OpKind
			for i, s := range steps {
				path := "/db/a.log"
				if s.kind == errorfs.OpLock {
					path = "/db/LOCK"
				}
				err := tt.inj.MaybeError(errorfs.Op{Kind: s.kind, Path: path, Index: int64(i)})
				if err != nil {
					require.ErrorIs(t, err, errorfs.ErrInjected)
					failed = append(failed, s.kind)
				}
			}
			require.Equal(t, tt.fail, failed)
		})
	}
}

func TestOpKind(t *testing.T) {
	require.Equal(t, "write", errorfs.OpFileWrite.String())
	require.Equal(t, "OpKind(99)", errorfs.OpKind(99).String())
	require.True(t, errorfs.OpFileSync.IsWrite())
	require.False(t, errorfs.OpFileReadAt.IsWrite())
}

func TestConcurrentUse(t *testing.T) {
	mem := vfs.NewMem()
	require.NoError(t, mem.WriteFile("/a", []byte("0123456789")))
	fs := errorfs.Wrap(mem, nil)
	f, err := fs.Open("/a")
	require.NoError(t, err)
	defer f.Close()

	var wg sync.WaitGroup
	var injected sync.Map
	for g := range 4 {
		wg.Go(func() {
			buf := make([]byte, 4)
			for range 200 {
				_, err := f.ReadAt(buf, 3)
				if errors.Is(err, errorfs.ErrInjected) {
					injected.Store(g, true)
				} else if err != nil && err != io.EOF {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for i := range 50 {
			if i%2 == 0 {
				fs.SetInjector(errorfs.AfterIndex(0, nil))
			} else {
				fs.SetInjector(nil)
			}
		}
	})
	wg.Wait()
	require.Equal(t, int64(801), fs.Ops())
}

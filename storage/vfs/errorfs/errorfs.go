// Package errorfs wraps a vfs.FS so that tests can make any of its
// operations fail, to check that the engine reports I/O errors and that a
// failed write never costs an acknowledged one.
//
// Every operation on the FS and on the files it opens gets the next index
// (0, 1, 2, …) and is first shown to an Injector; if the Injector returns
// an error the operation fails with it and does nothing. The usual test
// runs a workload once to count its operations, then once per index with
// OnIndex, reopening each time on a clean FS:
//
//	for i := int64(0); ; i++ {
//		fs := errorfs.Wrap(vfs.NewMem(), errorfs.OnIndex(i, errorfs.ErrInjected))
//		err := workload(fs)
//		if err == nil && fs.Ops() <= i {
//			break // op i was never reached: every op has been failed once
//		}
//		// check that the workload reported err and that what it
//		// acknowledged is still there
//	}
//
// Injected errors are *fs.PathError values (*os.LinkError for Rename) that
// wrap the Injector's error. ErrInjected and ErrNoSpace wrap syscall.EIO
// and syscall.ENOSPC, as a real disk's errors would.
package errorfs

import (
	"io"
	"io/fs"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"

	"github.com/minidbgo/minidbgo/storage/vfs"
)

// ErrInjected is the usual injected error. It wraps syscall.EIO, and every
// error made by this package, ErrNoSpace included, wraps it, so that
// errors.Is(err, ErrInjected) tells injected failures from real ones.
var ErrInjected error = &injectedError{errno: syscall.EIO}

// ErrNoSpace is an injected error that wraps syscall.ENOSPC, for
// simulating a full disk. errors.Is(ErrNoSpace, ErrInjected) holds.
var ErrNoSpace error = &injectedError{errno: syscall.ENOSPC}

// injectedError is an errno raised by an Injector.
type injectedError struct {
	errno syscall.Errno
}

func (e *injectedError) Error() string {
	return "errorfs: injected error (" + e.errno.Error() + ")"
}

func (e *injectedError) Unwrap() error { return e.errno }

func (e *injectedError) Is(target error) bool { return target == ErrInjected }

// OpKind names an operation.
type OpKind int

// The operations an Injector is shown. OpFile* are methods of a vfs.File,
// including the File that OpenDir returns.
const (
	OpCreate OpKind = iota
	OpOpen
	OpOpenDir
	OpRemove
	OpRename
	OpMkdirAll
	OpList
	OpStat
	OpLock
	OpFileRead
	OpFileReadAt
	OpFileWrite
	OpFileSync
	OpFileClose
	OpFileStat
	OpLink
)

var opNames = [...]string{
	OpCreate:     "create",
	OpOpen:       "open",
	OpOpenDir:    "opendir",
	OpRemove:     "remove",
	OpRename:     "rename",
	OpMkdirAll:   "mkdirall",
	OpList:       "list",
	OpStat:       "stat",
	OpLock:       "lock",
	OpFileRead:   "read",
	OpFileReadAt: "readat",
	OpFileWrite:  "write",
	OpFileSync:   "sync",
	OpFileClose:  "close",
	OpFileStat:   "fstat",
	OpLink:       "link",
}

// String returns the operation's lower-case name, as used in the Op field
// of injected *fs.PathError values.
func (k OpKind) String() string {
	if k >= 0 && int(k) < len(opNames) {
		return opNames[k]
	}
	return "OpKind(" + strconv.Itoa(int(k)) + ")"
}

// IsWrite reports whether k changes the filesystem's state: Create, Remove,
// Rename, Link, MkdirAll, Lock (which writes the lock file), and File.Write and
// File.Sync.
func (k OpKind) IsWrite() bool {
	switch k {
	case OpCreate, OpRemove, OpRename, OpLink, OpMkdirAll, OpLock, OpFileWrite, OpFileSync:
		return true
	}
	return false
}

// Op is an operation about to run.
type Op struct {
	Kind OpKind
	// Path is the operation's path: for Rename the old name, for a File
	// method the name the file was opened with.
	Path string
	// Index counts the operations the FS saw before this one.
	Index int64
}

// FS is a vfs.FS that asks an Injector before every operation. It is safe
// for concurrent use if the wrapped FS and the Injector are.
type FS struct {
	fs  vfs.FS
	inj atomic.Pointer[injectorBox]
	ops atomic.Int64
}

// injectorBox lets an atomic.Pointer hold an interface value.
type injectorBox struct{ inj Injector }

var _ vfs.FS = (*FS)(nil)

// Wrap returns an FS that runs fs's operations after asking inj. A nil inj
// injects nothing.
func Wrap(fs vfs.FS, inj Injector) *FS {
	e := &FS{fs: fs}
	e.SetInjector(inj)
	return e
}

// SetInjector replaces the Injector consulted from the next operation on;
// nil injects nothing. It may be called while operations are running.
func (e *FS) SetInjector(inj Injector) {
	if inj == nil {
		e.inj.Store(nil)
		return
	}
	e.inj.Store(&injectorBox{inj: inj})
}

// Ops returns how many operations the FS has seen, failed or not; the next
// one gets this index.
func (e *FS) Ops() int64 { return e.ops.Load() }

// maybeError numbers the operation and asks the Injector about it,
// returning the Injector's error unwrapped.
func (e *FS) maybeError(kind OpKind, path string) error {
	op := Op{Kind: kind, Path: path, Index: e.ops.Add(1) - 1}
	box := e.inj.Load()
	if box == nil {
		return nil
	}
	return box.inj.MaybeError(op)
}

// check is maybeError with the error wrapped in an *fs.PathError.
func (e *FS) check(kind OpKind, path string) error {
	if err := e.maybeError(kind, path); err != nil {
		return &fs.PathError{Op: kind.String(), Path: path, Err: err}
	}
	return nil
}

// Create implements vfs.FS.
func (e *FS) Create(name string) (vfs.File, error) {
	if err := e.check(OpCreate, name); err != nil {
		return nil, err
	}
	f, err := e.fs.Create(name)
	return e.wrapFile(name, f, err)
}

// Open implements vfs.FS.
func (e *FS) Open(name string) (vfs.File, error) {
	if err := e.check(OpOpen, name); err != nil {
		return nil, err
	}
	f, err := e.fs.Open(name)
	return e.wrapFile(name, f, err)
}

// OpenDir implements vfs.FS.
func (e *FS) OpenDir(name string) (vfs.File, error) {
	if err := e.check(OpOpenDir, name); err != nil {
		return nil, err
	}
	f, err := e.fs.OpenDir(name)
	return e.wrapFile(name, f, err)
}

// wrapFile wraps the result of opening name.
func (e *FS) wrapFile(name string, f vfs.File, err error) (vfs.File, error) {
	if err != nil {
		return nil, err
	}
	return &file{fs: e, f: f, name: name}, nil
}

// Remove implements vfs.FS.
func (e *FS) Remove(name string) error {
	if err := e.check(OpRemove, name); err != nil {
		return err
	}
	return e.fs.Remove(name)
}

// Rename implements vfs.FS. An injected error is an *os.LinkError.
func (e *FS) Rename(oldname, newname string) error {
	if err := e.maybeError(OpRename, oldname); err != nil {
		return &os.LinkError{Op: OpRename.String(), Old: oldname, New: newname, Err: err}
	}
	return e.fs.Rename(oldname, newname)
}

// Link implements vfs.FS. An injected error is an *os.LinkError.
func (e *FS) Link(oldname, newname string) error {
	if err := e.maybeError(OpLink, oldname); err != nil {
		return &os.LinkError{Op: OpLink.String(), Old: oldname, New: newname, Err: err}
	}
	return e.fs.Link(oldname, newname)
}

// MkdirAll implements vfs.FS.
func (e *FS) MkdirAll(dir string, perm os.FileMode) error {
	if err := e.check(OpMkdirAll, dir); err != nil {
		return err
	}
	return e.fs.MkdirAll(dir, perm)
}

// List implements vfs.FS.
func (e *FS) List(dir string) ([]string, error) {
	if err := e.check(OpList, dir); err != nil {
		return nil, err
	}
	return e.fs.List(dir)
}

// Stat implements vfs.FS.
func (e *FS) Stat(name string) (os.FileInfo, error) {
	if err := e.check(OpStat, name); err != nil {
		return nil, err
	}
	return e.fs.Stat(name)
}

// Lock implements vfs.FS. Releasing the lock is not an operation and
// cannot fail by injection.
func (e *FS) Lock(name string) (io.Closer, error) {
	if err := e.check(OpLock, name); err != nil {
		return nil, err
	}
	return e.fs.Lock(name)
}

// file is a vfs.File of an FS.
type file struct {
	fs   *FS
	f    vfs.File
	name string
}

// Read fails without reading anything on an injected error.
func (f *file) Read(p []byte) (int, error) {
	if err := f.fs.check(OpFileRead, f.name); err != nil {
		return 0, err
	}
	return f.f.Read(p)
}

// ReadAt fails without reading anything on an injected error.
func (f *file) ReadAt(p []byte, off int64) (int, error) {
	if err := f.fs.check(OpFileReadAt, f.name); err != nil {
		return 0, err
	}
	return f.f.ReadAt(p, off)
}

// Write writes nothing on an injected error: no torn writes.
func (f *file) Write(p []byte) (int, error) {
	if err := f.fs.check(OpFileWrite, f.name); err != nil {
		return 0, err
	}
	return f.f.Write(p)
}

// Sync syncs nothing on an injected error, so that what was written since
// the last sync stays at risk.
func (f *file) Sync() error {
	if err := f.fs.check(OpFileSync, f.name); err != nil {
		return err
	}
	return f.f.Sync()
}

// Stat implements vfs.File.
func (f *file) Stat() (os.FileInfo, error) {
	if err := f.fs.check(OpFileStat, f.name); err != nil {
		return nil, err
	}
	return f.f.Stat()
}

// Close closes the underlying file even on an injected error, as close(2)
// releases the descriptor even when it reports one.
func (f *file) Close() error {
	err := f.fs.check(OpFileClose, f.name)
	if cerr := f.f.Close(); err == nil {
		err = cerr
	}
	return err
}

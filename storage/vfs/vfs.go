// Package vfs is the filesystem seam of the storage engine. Every file the
// engine touches — WAL, SSTables, MANIFEST, CURRENT, the LOCK file — and every
// directory sync goes through an FS, so that tests can substitute an
// in-memory filesystem that simulates power loss (MemFS.CrashClone) or one
// that injects I/O errors (package errorfs).
//
// Three implementations exist:
//
//   - Default, the operating system's filesystem;
//   - NewMem, an in-memory filesystem that tracks what has been synced;
//   - errorfs.Wrap, which injects errors into another FS.
package vfs

import (
	"errors"
	"io"
	"os"
)

// File is an open file. A File returned by FS.Create is write-only in
// practice (the engine only appends to it); one returned by FS.Open is
// read-only. Sync makes everything written so far durable.
//
// ReadAt may be called concurrently; the other methods may not.
type File interface {
	io.Reader
	io.ReaderAt
	io.Writer
	io.Closer
	// Sync makes the file's contents durable (fdatasync).
	Sync() error
	// Stat returns the file's metadata; only Size is relied upon.
	Stat() (os.FileInfo, error)
}

// FS is a filesystem. Paths are slash-separated on every platform the engine
// supports and are joined with path/filepath.
//
// Durability rules follow POSIX: data written to a file survives a crash
// only after File.Sync; a file's creation, removal or rename survives a crash
// only after the parent directory has been synced (OpenDir + Sync).
type FS interface {
	// Create creates the named file, truncating it if it exists.
	Create(name string) (File, error)
	// Open opens the named file for reading.
	Open(name string) (File, error)
	// OpenDir opens a directory so that it can be synced.
	OpenDir(name string) (File, error)
	// Remove removes the named file or empty directory.
	Remove(name string) error
	// Rename atomically renames oldname to newname, replacing newname.
	Rename(oldname, newname string) error
	// Link creates newname as a hard link to the file oldname, as
	// link(2): it fails if newname exists, and across filesystems (the
	// caller may copy instead). Like a creation, the new entry survives
	// a crash only after its directory has been synced.
	Link(oldname, newname string) error
	// MkdirAll creates a directory and any missing parents.
	MkdirAll(dir string, perm os.FileMode) error
	// List returns the names (not paths) of the entries of dir, sorted.
	List(dir string) ([]string, error)
	// Stat returns the metadata of the named file.
	Stat(name string) (os.FileInfo, error)
	// Lock takes an exclusive lock on the named file, creating it if needed,
	// and records the calling process's pid in it. If another holder has the
	// lock, Lock fails with an error that wraps ErrLocked and names the
	// holder's pid when known. Closing the returned Closer releases the lock.
	Lock(name string) (io.Closer, error)
}

// SameFile reports whether a and b, from Stat calls on one FS, describe
// the same file or directory: the same device and inode for the OS (as
// os.SameFile), the same node for a MemFS. A file removed and created
// again under the same name is not the same file.
func SameFile(a, b os.FileInfo) bool {
	if a == nil || b == nil {
		return false
	}
	if ma, ok := a.Sys().(*memNode); ok {
		mb, ok := b.Sys().(*memNode)
		return ok && ma == mb
	}
	return os.SameFile(a, b)
}

// ErrLocked is wrapped by the error FS.Lock returns when another holder has
// the lock.
var ErrLocked = errors.New("vfs: locked")

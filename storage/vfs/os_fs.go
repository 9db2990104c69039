package vfs

import (
	"io"
	"io/fs"
	"os"
	"syscall"
)

// Default is the operating system's filesystem.
//
// Its files' Sync is fdatasync(2) on Linux and File.Sync elsewhere; the
// File that OpenDir returns fsyncs the directory. Lock uses flock(2) where
// the platform has it, so the lock excludes other processes and is released
// by the kernel if the process dies.
var Default FS = osFS{}

// osFS implements FS with package os.
type osFS struct{}

// osFile is an *os.File whose Sync is fdatasync where available.
type osFile struct {
	*os.File
}

func (f osFile) Sync() error { return fdatasync(f.File) }

func (osFS) Create(name string) (File, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

func (osFS) Open(name string) (File, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

// OpenDir returns the *os.File itself: its Sync is fsync, which is what a
// directory needs.
func (osFS) OpenDir(name string) (File, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.IsDir() {
		f.Close()
		return nil, &fs.PathError{Op: "opendir", Path: name, Err: syscall.ENOTDIR}
	}
	return f, nil
}

func (osFS) Remove(name string) error { return os.Remove(name) }

func (osFS) Rename(oldname, newname string) error { return os.Rename(oldname, newname) }

func (osFS) Link(oldname, newname string) error { return os.Link(oldname, newname) }

func (osFS) MkdirAll(dir string, perm os.FileMode) error { return os.MkdirAll(dir, perm) }

func (osFS) List(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir) // sorted by name
	if err != nil {
		return nil, err
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	return names, nil
}

func (osFS) Stat(name string) (os.FileInfo, error) { return os.Stat(name) }

func (osFS) Lock(name string) (io.Closer, error) { return lockFile(name) }

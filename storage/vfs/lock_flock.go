//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package vfs

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"sync"
	"syscall"
)

// lockFile takes flock(LOCK_EX|LOCK_NB) on name. flock locks belong to the
// open file description, so a second Lock of the same file fails even
// within one process.
func lockFile(name string) (io.Closer, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := flock(f, syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, lockedError(name, readPID(f))
		}
		return nil, &fs.PathError{Op: "lock", Path: name, Err: err}
	}
	if err := writePID(f); err != nil {
		f.Close() // releases the lock
		return nil, err
	}
	return &fileLock{f: f}, nil
}

// fileLock is a held flock; Close releases it.
type fileLock struct {
	once sync.Once
	f    *os.File
}

func (l *fileLock) Close() error {
	err := os.ErrClosed
	l.once.Do(func() {
		err = flock(l.f, syscall.LOCK_UN)
		if cerr := l.f.Close(); err == nil {
			err = cerr
		}
	})
	if err != nil {
		return &fs.PathError{Op: "unlock", Path: l.f.Name(), Err: err}
	}
	return nil
}

func flock(f *os.File, how int) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) {
		for {
			ferr = syscall.Flock(int(fd), how)
			if ferr != syscall.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	return ferr
}

// readPID returns the pid recorded in a lock file, or 0.
func readPID(f *os.File) int {
	var buf [32]byte
	n, _ := f.ReadAt(buf[:], 0)
	return parsePID(buf[:n])
}

// writePID replaces the contents of the locked file f with this process's
// pid and syncs it.
func writePID(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	if _, err := f.WriteAt(pidRecord(os.Getpid()), 0); err != nil {
		return err
	}
	return f.Sync()
}

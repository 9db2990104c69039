package errorfs_test

import (
	"errors"
	"fmt"
	"io"

	"github.com/minidbgo/minidbgo/storage/vfs"
	"github.com/minidbgo/minidbgo/storage/vfs/errorfs"
)

// save writes CURRENT the crash-safe way; it stands for an engine's
// workload.
func save(fs vfs.FS, contents string) error {
	f, err := fs.Create("/CURRENT.tmp")
	if err != nil {
		return err
	}
	if _, err := io.WriteString(f, contents); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := fs.Rename("/CURRENT.tmp", "/CURRENT"); err != nil {
		return err
	}
	d, err := fs.OpenDir("/")
	if err != nil {
		return err
	}
	if err := d.Sync(); err != nil {
		d.Close()
		return err
	}
	return d.Close()
}

// Fail each operation of a workload in turn, until the workload gets
// through untouched.
func Example() {
	for i := int64(0); ; i++ {
		fs := errorfs.Wrap(vfs.NewMem(), errorfs.OnIndex(i, errorfs.ErrInjected))
		err := save(fs, "MANIFEST-000001\n")
		if err == nil && fs.Ops() <= i {
			fmt.Printf("%d ops, each failed once\n", i)
			return
		}
		if !errors.Is(err, errorfs.ErrInjected) {
			fmt.Printf("op %d: injected error lost: %v\n", i, err)
		}
	}
	// Output: 8 ops, each failed once
}

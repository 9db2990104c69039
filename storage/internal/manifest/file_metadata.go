package manifest

import (
	"bytes"
	"fmt"
	"strconv"
	"sync/atomic"

	"github.com/minidbgo/minidbgo/storage/internal/base"
)

// NumLevels is the number of levels in the LSM tree, level 0 included.
const NumLevels = 7

// FileMetadata describes one SSTable. It is shared by every Version that
// includes the file, so it must not be copied or modified once it is part of
// a Version. (No "compacting" flag is needed: the DB runs one compaction
// at a time.)
type FileMetadata struct {
	FileNum     uint64
	Size        uint64
	Smallest    []byte // internal key
	Largest     []byte // internal key
	SmallestSeq base.SeqNum
	LargestSeq  base.SeqNum
	refs        atomic.Int32 // number of referenced Versions that include this file
}

// SmallestUserKey returns the user key of Smallest.
func (f *FileMetadata) SmallestUserKey() []byte { return base.UserKey(f.Smallest) }

// LargestUserKey returns the user key of Largest.
func (f *FileMetadata) LargestUserKey() []byte { return base.UserKey(f.Largest) }

// String renders the file as filenum:[smallest-largest], for example
// 000007:[a#3,SET-c#9,DEL].
func (f *FileMetadata) String() string {
	return fmt.Sprintf("%06d:[%s-%s]", f.FileNum, formatKey(f.Smallest), formatKey(f.Largest))
}

// overlapsUserKeys reports whether f's user-key range intersects g's.
func (f *FileMetadata) overlapsUserKeys(g *FileMetadata) bool {
	return bytes.Compare(f.LargestUserKey(), g.SmallestUserKey()) >= 0 &&
		bytes.Compare(g.LargestUserKey(), f.SmallestUserKey()) >= 0
}

// sameFile reports whether f and g describe the same table contents.
func sameFile(f, g *FileMetadata) bool {
	return f.FileNum == g.FileNum && f.Size == g.Size &&
		bytes.Equal(f.Smallest, g.Smallest) && bytes.Equal(f.Largest, g.Largest) &&
		f.SmallestSeq == g.SmallestSeq && f.LargestSeq == g.LargestSeq
}

// checkFile verifies invariant L1 for one file.
func checkFile(level int, f *FileMetadata) error {
	if f == nil {
		return fmt.Errorf("manifest: L%d: nil file: %w", level, base.ErrCorruption)
	}
	if !base.Valid(f.Smallest) || !base.Valid(f.Largest) {
		return fmt.Errorf("manifest: L%d: file %06d: invalid internal key bounds: %w",
			level, f.FileNum, base.ErrCorruption)
	}
	if base.Compare(f.Smallest, f.Largest) > 0 {
		return fmt.Errorf("manifest: L%d: file %s: smallest key after largest: %w",
			level, f, base.ErrCorruption)
	}
	if f.SmallestSeq > f.LargestSeq {
		return fmt.Errorf("manifest: L%d: file %06d: smallest seq %d > largest seq %d: %w",
			level, f.FileNum, f.SmallestSeq, f.LargestSeq, base.ErrCorruption)
	}
	return nil
}

// formatKey renders an internal key as ukey#seq,KIND. A user key that is
// empty or has bytes outside printable ASCII is quoted.
func formatKey(ikey []byte) string {
	if !base.Valid(ikey) {
		return fmt.Sprintf("invalid(%x)", ikey)
	}
	return fmt.Sprintf("%s#%d,%s", formatUserKey(base.UserKey(ikey)), base.Seq(ikey), base.KindOf(ikey))
}

func formatUserKey(ukey []byte) string {
	if len(ukey) == 0 {
		return `""`
	}
	for _, c := range ukey {
		if c <= ' ' || c >= 0x7f || c == '"' {
			return strconv.Quote(string(ukey))
		}
	}
	return string(ukey)
}

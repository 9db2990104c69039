package manifest

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/minidbgo/minidbgo/storage/internal/base"
)

// Version is an immutable snapshot of the live files. Levels[0] is ordered by
// LargestSeq ascending (oldest first; files may overlap); Levels[1:] are
// sorted by Smallest and never overlap. See the package comment for the full
// list of invariants.
//
// A Version may be read concurrently. Its Levels and their slices must never
// be modified; build a new Version with Apply instead. A Version must not be
// copied.
type Version struct {
	Levels [NumLevels][]*FileMetadata

	refs     atomic.Int32
	released atomic.Bool // refs went from 1 to 0; the files may be gone
}

// fileLoc is where Apply currently has a file.
type fileLoc struct {
	level int
	meta  *FileMetadata
}

// Apply returns a new Version: v with the edits applied in order. v may be an
// empty &Version{} (or nil) and is not modified. Within each edit, deletions
// apply before additions. A NewFile that reuses the number of a file deleted
// earlier in the same Apply call is a move: the new Version keeps the
// existing *FileMetadata, so its reference count carries over, and Meta must
// describe the same table (size, bounds, sequence numbers).
//
// Apply rejects the deletion of a file not present at that level, duplicate
// file numbers, and any result that breaks the invariants L1-L6. Its errors
// match base.ErrCorruption: an edit that makes an invalid Version is a
// corrupt manifest. Apply ignores the edits' counters (LogNum, NextFileNum,
// LastSeq), which the caller tracks.
func (v *Version) Apply(edits ...*VersionEdit) (*Version, error) {
	if v == nil {
		v = &Version{}
	}
	if invariantsEnabled {
		if err := v.CheckInvariants(); err != nil {
			panic(fmt.Sprintf("manifest: Apply on a broken Version: %v", err))
		}
	}
	live := make(map[uint64]fileLoc)
	for level, files := range v.Levels {
		for _, f := range files {
			live[f.FileNum] = fileLoc{level, f}
		}
	}
	removed := make(map[uint64]*FileMetadata) // deleted by these edits, by number
	var touched [NumLevels]bool
	for i, e := range edits {
		for _, d := range e.DeletedFiles {
			loc, ok := live[d.FileNum]
			if d.Level < 0 || d.Level >= NumLevels || !ok || loc.level != d.Level {
				return nil, fmt.Errorf("manifest: edit %d deletes file %06d from L%d, where it is not present: %w",
					i, d.FileNum, d.Level, base.ErrCorruption)
			}
			delete(live, d.FileNum)
			removed[d.FileNum] = loc.meta
			touched[d.Level] = true
		}
		for _, n := range e.NewFiles {
			if n.Level < 0 || n.Level >= NumLevels {
				return nil, fmt.Errorf("manifest: edit %d adds a file to level %d, out of range: %w",
					i, n.Level, base.ErrCorruption)
			}
			m := n.Meta
			if err := checkFile(n.Level, m); err != nil {
				return nil, fmt.Errorf("manifest: edit %d: %w", i, err)
			}
			if loc, ok := live[m.FileNum]; ok {
				return nil, fmt.Errorf("manifest: edit %d adds file %06d to L%d, but it is already in L%d: %w",
					i, m.FileNum, n.Level, loc.level, base.ErrCorruption)
			}
			if old, ok := removed[m.FileNum]; ok && old != m {
				if !sameFile(old, m) {
					return nil, fmt.Errorf("manifest: edit %d moves file %06d to L%d but changes it: %w",
						i, m.FileNum, n.Level, base.ErrCorruption)
				}
				m = old
			}
			live[m.FileNum] = fileLoc{n.Level, m}
			touched[n.Level] = true
		}
	}

	nv := &Version{}
	for level := range nv.Levels {
		if !touched[level] {
			nv.Levels[level] = v.Levels[level] // immutable, so shareable
		}
	}
	for _, loc := range live {
		if touched[loc.level] {
			nv.Levels[loc.level] = append(nv.Levels[loc.level], loc.meta)
		}
	}
	for level, files := range nv.Levels {
		if !touched[level] {
			continue
		}
		if level == 0 {
			slices.SortFunc(files, compareL0)
		} else {
			slices.SortFunc(files, compareSorted)
		}
		// Each file was checked when added or when its Version was built;
		// what may have broken is the ordering between files.
		if err := checkLevelOrder(level, files); err != nil {
			return nil, err
		}
	}
	return nv, nil
}

// compareL0 orders level 0: LargestSeq, then SmallestSeq, then FileNum.
func compareL0(a, b *FileMetadata) int {
	if c := cmp.Compare(a.LargestSeq, b.LargestSeq); c != 0 {
		return c
	}
	if c := cmp.Compare(a.SmallestSeq, b.SmallestSeq); c != 0 {
		return c
	}
	return cmp.Compare(a.FileNum, b.FileNum)
}

// compareSorted orders levels >= 1: Smallest, then FileNum.
func compareSorted(a, b *FileMetadata) int {
	if c := base.Compare(a.Smallest, b.Smallest); c != 0 {
		return c
	}
	return cmp.Compare(a.FileNum, b.FileNum)
}

// checkLevelOrder verifies L3 and L4 for level 0, or L5 and L6 for a level
// n >= 1, assuming every file satisfies L1.
func checkLevelOrder(level int, files []*FileMetadata) error {
	if level == 0 {
		for i := 1; i < len(files); i++ {
			if compareL0(files[i-1], files[i]) >= 0 {
				return fmt.Errorf("manifest: L0: files %06d and %06d are out of order (seqs %d-%d then %d-%d): %w",
					files[i-1].FileNum, files[i].FileNum, files[i-1].SmallestSeq, files[i-1].LargestSeq,
					files[i].SmallestSeq, files[i].LargestSeq, base.ErrCorruption)
			}
		}
		for j, g := range files {
			for _, f := range files[:j] {
				if f.LargestSeq >= g.SmallestSeq && f.overlapsUserKeys(g) {
					return fmt.Errorf("manifest: L0: files %s and %s overlap in both keys and seqs (%d-%d, %d-%d): %w",
						f, g, f.SmallestSeq, f.LargestSeq, g.SmallestSeq, g.LargestSeq, base.ErrCorruption)
				}
			}
		}
		return nil
	}
	for i := 1; i < len(files); i++ {
		prev, f := files[i-1], files[i]
		if base.Compare(prev.Smallest, f.Smallest) >= 0 {
			return fmt.Errorf("manifest: L%d: files %s and %s are out of order: %w",
				level, prev, f, base.ErrCorruption)
		}
		if bytes.Compare(prev.LargestUserKey(), f.SmallestUserKey()) >= 0 {
			return fmt.Errorf("manifest: L%d: files %s and %s overlap: %w",
				level, prev, f, base.ErrCorruption)
		}
	}
	return nil
}

// CheckInvariants verifies the invariants L1-L7 of the package comment. Its
// errors match base.ErrCorruption.
func (v *Version) CheckInvariants() error {
	seen := make(map[uint64]int)
	for level, files := range v.Levels {
		for _, f := range files {
			if err := checkFile(level, f); err != nil {
				return err
			}
			if other, ok := seen[f.FileNum]; ok {
				return fmt.Errorf("manifest: file %06d is in both L%d and L%d: %w",
					f.FileNum, other, level, base.ErrCorruption)
			}
			seen[f.FileNum] = level
			if r := f.refs.Load(); r < 0 || (v.refs.Load() > 0 && r == 0) {
				return fmt.Errorf("manifest: L%d: file %06d has %d references: %w",
					level, f.FileNum, r, base.ErrCorruption)
			}
		}
		if err := checkLevelOrder(level, files); err != nil {
			return err
		}
	}
	if r := v.refs.Load(); r < 0 {
		return fmt.Errorf("manifest: version has %d references: %w", r, base.ErrCorruption)
	}
	return nil
}

// Ref adds a reference to v. The first reference takes a reference on each
// of v's files. Call Ref only on a Version you already hold a reference on,
// or on a new Version (or the current one, under the lock that guards it).
// Ref panics if v was already released.
func (v *Version) Ref() {
	if v.refs.Add(1) != 1 {
		return
	}
	if v.released.Load() {
		panic("manifest: Ref of a released Version")
	}
	for _, files := range v.Levels {
		for _, f := range files {
			f.refs.Add(1)
		}
	}
}

// Unref drops a reference to v. When the last one goes, v is released: it
// drops its references on its files and calls obsolete(f), if obsolete is
// not nil, for each file no other referenced Version includes. obsolete runs
// on the caller's goroutine, once per file. Unref panics if v has no
// references.
func (v *Version) Unref(obsolete func(*FileMetadata)) {
	switch n := v.refs.Add(-1); {
	case n < 0:
		panic("manifest: Unref of a Version with no references")
	case n > 0:
		return
	}
	v.released.Store(true)
	for _, files := range v.Levels {
		for _, f := range files {
			switch n := f.refs.Add(-1); {
			case n < 0:
				panic(fmt.Sprintf("manifest: file %06d has %d references", f.FileNum, n))
			case n == 0 && obsolete != nil:
				obsolete(f)
			}
		}
	}
}

// Overlaps returns the files of level whose user-key range intersects
// [smallest, largest] (user keys, inclusive; a nil bound is unbounded), in
// the level's order. Because level 0 files overlap each other, for level 0
// the range grows to cover every file found and the search repeats until it
// is stable, so the result is closed under overlap: every level 0 file that
// overlaps a returned file is returned too.
func (v *Version) Overlaps(level int, smallest, largest []byte) []*FileMetadata {
	files := v.Levels[level]
	if smallest != nil && largest != nil && bytes.Compare(smallest, largest) > 0 {
		return nil
	}
	if level > 0 {
		i := 0
		if smallest != nil {
			i = FindFile(files, smallest)
		}
		j := i
		for j < len(files) && (largest == nil || bytes.Compare(files[j].SmallestUserKey(), largest) <= 0) {
			j++
		}
		if i == j {
			return nil
		}
		return slices.Clone(files[i:j])
	}

	var out []*FileMetadata
	for {
		out = out[:0]
		grew := false
		for _, f := range files {
			if smallest != nil && bytes.Compare(f.LargestUserKey(), smallest) < 0 ||
				largest != nil && bytes.Compare(f.SmallestUserKey(), largest) > 0 {
				continue
			}
			out = append(out, f)
			if smallest != nil && bytes.Compare(f.SmallestUserKey(), smallest) < 0 {
				smallest, grew = f.SmallestUserKey(), true
			}
			if largest != nil && bytes.Compare(f.LargestUserKey(), largest) > 0 {
				largest, grew = f.LargestUserKey(), true
			}
		}
		if !grew {
			break
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// FindFile returns the index of the first file in files, a sorted level
// (>= 1), whose largest user key is >= ukey, or len(files) if there is none.
func FindFile(files []*FileMetadata, ukey []byte) int {
	return sort.Search(len(files), func(i int) bool {
		return bytes.Compare(files[i].LargestUserKey(), ukey) >= 0
	})
}

// LevelSize returns the total size in bytes of the files of level.
func (v *Version) LevelSize(level int) uint64 {
	var n uint64
	for _, f := range v.Levels[level] {
		n += f.Size
	}
	return n
}

// NumFiles returns the number of files in level.
func (v *Version) NumFiles(level int) int { return len(v.Levels[level]) }

// TotalSize returns the total size in bytes of the files of every level.
func (v *Version) TotalSize() uint64 {
	var n uint64
	for level := range v.Levels {
		n += v.LevelSize(level)
	}
	return n
}

// String renders v one file per line under a header per non-empty level:
//
//	L0:
//	  000009:[a#12,SET-m#14,DEL] 2048
//	L1:
//	  000005:[a#3,SET-c#4,SET] 1024
//
// A Version with no files renders as "(empty)\n". User keys that are empty or
// not printable ASCII are quoted.
func (v *Version) String() string {
	var sb strings.Builder
	for level, files := range v.Levels {
		if len(files) == 0 {
			continue
		}
		fmt.Fprintf(&sb, "L%d:\n", level)
		for _, f := range files {
			fmt.Fprintf(&sb, "  %s %d\n", f, f.Size)
		}
	}
	if sb.Len() == 0 {
		return "(empty)\n"
	}
	return sb.String()
}

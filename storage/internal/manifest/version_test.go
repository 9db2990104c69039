package manifest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/minidbgo/minidbgo/storage/internal/base"
)

// ikey builds an internal key for a SET of ukey at seq.
func ikey(ukey string, seq base.SeqNum) []byte {
	return base.MakeInternalKey([]byte(ukey), seq, base.KindSet)
}

// file returns a file spanning user keys [lo, hi] with sequence numbers
// [loSeq, hiSeq]. Smallest carries hiSeq so that lo == hi stays valid.
func file(num uint64, lo, hi string, loSeq, hiSeq base.SeqNum) *FileMetadata {
	return &FileMetadata{
		FileNum:     num,
		Size:        num * 100,
		Smallest:    ikey(lo, hiSeq),
		Largest:     ikey(hi, loSeq),
		SmallestSeq: loSeq,
		LargestSeq:  hiSeq,
	}
}

func add(level int, files ...*FileMetadata) *VersionEdit {
	e := &VersionEdit{}
	for _, f := range files {
		e.NewFiles = append(e.NewFiles, NewFile{Level: level, Meta: f})
	}
	return e
}

func del(level int, nums ...uint64) *VersionEdit {
	e := &VersionEdit{}
	for _, n := range nums {
		e.DeletedFiles = append(e.DeletedFiles, DeletedFile{Level: level, FileNum: n})
	}
	return e
}

func fileNums(files []*FileMetadata) []uint64 {
	var nums []uint64
	for _, f := range files {
		nums = append(nums, f.FileNum)
	}
	return nums
}

func mustApply(t *testing.T, v *Version, edits ...*VersionEdit) *Version {
	t.Helper()
	nv, err := v.Apply(edits...)
	require.NoError(t, err)
	require.NoError(t, nv.CheckInvariants())
	return nv
}

func TestApplyAddDelete(t *testing.T) {
	v0 := &Version{}
	require.Equal(t, "(empty)\n", v0.String())

	// Two flushes, then a compaction of both into L1, then a trivial move.
	v1 := mustApply(t, v0, add(0, file(1, "a", "m", 1, 10)))
	v2 := mustApply(t, v1, add(0, file(2, "c", "z", 11, 20)))
	require.Equal(t, "L0:\n"+
		"  000001:[a#10,SET-m#1,SET] 100\n"+
		"  000002:[c#20,SET-z#11,SET] 200\n", v2.String())

	compact := &VersionEdit{
		LogNum: 4, NextFileNum: 6, LastSeq: 20,
		DeletedFiles: []DeletedFile{{0, 1}, {0, 2}},
		NewFiles: []NewFile{
			{1, file(4, "n", "z", 11, 20)},
			{1, file(3, "a", "m", 1, 12)},
		},
	}
	v3 := mustApply(t, v2, compact)
	require.Equal(t, "L1:\n"+
		"  000003:[a#12,SET-m#1,SET] 300\n"+
		"  000004:[n#20,SET-z#11,SET] 400\n", v3.String())
	require.Equal(t, uint64(700), v3.LevelSize(1))
	require.Equal(t, 2, v3.NumFiles(1))
	require.Equal(t, 0, v3.NumFiles(0))

	move := &VersionEdit{DeletedFiles: []DeletedFile{{1, 4}}, NewFiles: []NewFile{{2, v3.Levels[1][1]}}}
	v4 := mustApply(t, v3, move, add(0, file(5, "b", "b", 21, 21)))
	require.Equal(t, "L0:\n"+
		"  000005:[b#21,SET-b#21,SET] 500\n"+
		"L1:\n"+
		"  000003:[a#12,SET-m#1,SET] 300\n"+
		"L2:\n"+
		"  000004:[n#20,SET-z#11,SET] 400\n", v4.String())
	require.Equal(t, uint64(1200), v4.TotalSize())
	require.Same(t, v3.Levels[1][1], v4.Levels[2][0])

	// The inputs are untouched.
	require.Equal(t, "(empty)\n", v0.String())
	require.Equal(t, []uint64{1}, fileNums(v1.Levels[0]))
	require.Equal(t, []uint64{3, 4}, fileNums(v3.Levels[1]))

	// Applying all edits at once gives the same result; so does a nil base.
	all, err := (*Version)(nil).Apply(add(0, file(1, "a", "m", 1, 10)), add(0, file(2, "c", "z", 11, 20)),
		compact, del(1, 4), add(2, file(4, "n", "z", 11, 20)), add(0, file(5, "b", "b", 21, 21)))
	require.NoError(t, err)
	require.Equal(t, v4.String(), all.String())

	// Deleting everything.
	v5 := mustApply(t, v4, del(0, 5), del(1, 3), del(2, 4))
	require.Equal(t, "(empty)\n", v5.String())
	require.Zero(t, v5.TotalSize())
}

func TestApplyRejects(t *testing.T) {
	base0, err := (&Version{}).Apply(
		add(0, file(1, "a", "z", 1, 5)),
		add(1, file(2, "c", "e", 1, 2), file(3, "g", "i", 1, 2)),
	)
	require.NoError(t, err)
	before := base0.String()

	bad := func(mut func(f *FileMetadata)) *FileMetadata {
		f := file(9, "x", "y", 1, 2)
		mut(f)
		return f
	}
	for _, tc := range []struct {
		name  string
		edits []*VersionEdit
		want  string
	}{
		{"L1 overlap", []*VersionEdit{add(1, file(9, "d", "f", 1, 2))}, "overlap"},
		{"L1 shared boundary key", []*VersionEdit{add(1, file(9, "e", "f", 1, 1))}, "overlap"},
		{"L1 overlap within edit", []*VersionEdit{add(3, file(9, "a", "c", 1, 2), file(10, "c", "d", 3, 4))}, "overlap"},
		{"L1 containment", []*VersionEdit{add(1, file(9, "a", "z", 1, 2))}, "overlap"},
		{"delete missing", []*VersionEdit{del(1, 7)}, "not present"},
		{"delete at wrong level", []*VersionEdit{del(2, 2)}, "not present"},
		{"delete twice", []*VersionEdit{del(1, 2, 2)}, "not present"},
		{"delete level out of range", []*VersionEdit{del(-1, 2)}, "not present"},
		{"duplicate file num existing", []*VersionEdit{add(3, file(2, "x", "y", 1, 2))}, "already in L1"},
		{"duplicate file num in edit", []*VersionEdit{add(3, file(9, "a", "b", 1, 2)), add(4, file(9, "x", "y", 1, 2))}, "already in L3"},
		{"smallest after largest", []*VersionEdit{add(3, file(9, "y", "x", 1, 2))}, "smallest key after largest"},
		{"smallest after largest same user key", []*VersionEdit{add(3, bad(func(f *FileMetadata) {
			f.Smallest, f.Largest = ikey("x", 1), ikey("x", 2)
		}))}, "smallest key after largest"},
		{"invalid key", []*VersionEdit{add(3, bad(func(f *FileMetadata) { f.Largest = []byte("abc") }))}, "invalid internal key"},
		{"seqs reversed", []*VersionEdit{add(3, bad(func(f *FileMetadata) { f.SmallestSeq = 3 }))}, "smallest seq 3 > largest seq 2"},
		{"nil meta", []*VersionEdit{{NewFiles: []NewFile{{Level: 1}}}}, "nil file"},
		{"level out of range", []*VersionEdit{add(NumLevels, file(9, "x", "y", 1, 2))}, "out of range"},
		{"L0 overlap in keys and seqs", []*VersionEdit{add(0, file(9, "b", "c", 4, 8))}, "overlap in both keys and seqs"},
		{"move that changes the file", []*VersionEdit{del(1, 3), add(2, file(3, "g", "j", 1, 2))}, "changes it"},
		{"error in a later edit", []*VersionEdit{add(2, file(9, "a", "b", 1, 2)), del(5, 1)}, "edit 1 deletes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nv, err := base0.Apply(tc.edits...)
			require.ErrorIs(t, err, base.ErrCorruption)
			require.ErrorContains(t, err, tc.want)
			require.Nil(t, nv)
			require.Equal(t, before, base0.String())
		})
	}
}

func TestApplyL0Ordering(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	// Flushes: disjoint seq ranges, overlapping keys, added in random order
	// and in random groups.
	var files []*FileMetadata
	for i := range 20 {
		lo := base.SeqNum(10*i + 1)
		files = append(files, file(uint64(100-i), "a", "z", lo, lo+9))
	}
	rng.Shuffle(len(files), func(i, j int) { files[i], files[j] = files[j], files[i] })
	v := &Version{}
	for len(files) > 0 {
		n := 1 + rng.IntN(min(3, len(files)))
		v = mustApply(t, v, add(0, files[:n]...))
		files = files[n:]
	}
	require.Len(t, v.Levels[0], 20)
	require.True(t, slices.IsSortedFunc(v.Levels[0], func(a, b *FileMetadata) int {
		return int(a.LargestSeq) - int(b.LargestSeq)
	}))
	require.Equal(t, uint64(100), v.Levels[0][0].FileNum)

	// Files with disjoint keys may share seqs (e.g. a flush split into
	// several files); ties break by SmallestSeq, then FileNum.
	w := mustApply(t, &Version{}, add(0,
		file(7, "m", "n", 1, 5), file(3, "a", "b", 1, 5), file(5, "c", "d", 2, 5), file(1, "x", "y", 6, 6)))
	require.Equal(t, []uint64{3, 7, 5, 1}, fileNums(w.Levels[0]))
}

func TestApplyMoveKeepsMetadata(t *testing.T) {
	v1 := mustApply(t, &Version{}, add(1, file(1, "a", "b", 1, 2), file(2, "c", "d", 3, 4)))
	v1.Ref()
	orig := v1.Levels[1][0]

	// A move described by a fresh copy, as replaying a MANIFEST produces.
	v2 := mustApply(t, v1, del(1, 1), add(2, file(1, "a", "b", 1, 2)))
	require.Same(t, orig, v2.Levels[2][0])
	v2.Ref()

	var obsolete []uint64
	record := func(f *FileMetadata) { obsolete = append(obsolete, f.FileNum) }
	v1.Unref(record)
	require.Empty(t, obsolete, "a moved file is still live")
	v2.Unref(record)
	require.ElementsMatch(t, []uint64{1, 2}, obsolete)

	// Moving across edits of one Apply works too.
	v3 := mustApply(t, &Version{}, add(1, file(1, "a", "b", 1, 2)))
	v4 := mustApply(t, v3, del(1, 1), add(5, file(1, "a", "b", 1, 2)))
	require.Same(t, v3.Levels[1][0], v4.Levels[5][0])
}

func TestOverlaps(t *testing.T) {
	v := mustApply(t, &Version{},
		add(0,
			file(1, "a", "c", 1, 1),
			file(2, "b", "e", 2, 2),
			file(3, "d", "g", 3, 3),
			file(4, "i", "k", 4, 4),
			file(5, "m", "m", 5, 5),
		),
		add(1,
			file(10, "b", "d", 1, 1),
			file(11, "f", "h", 1, 1),
			file(12, "k", "k", 1, 1),
			file(13, "p", "t", 1, 1),
		),
	)
	ov := func(level int, lo, hi string) []uint64 {
		var s, l []byte
		if lo != "*" {
			s = []byte(lo)
		}
		if hi != "*" {
			l = []byte(hi)
		}
		return fileNums(v.Overlaps(level, s, l))
	}
	for _, tc := range []struct {
		level  int
		lo, hi string
		want   []uint64
	}{
		// Level 1: plain intersection, inclusive.
		{1, "a", "a", nil},
		{1, "a", "b", []uint64{10}},
		{1, "d", "f", []uint64{10, 11}},
		{1, "e", "e", nil},
		{1, "h", "k", []uint64{11, 12}},
		{1, "i", "j", nil},
		{1, "k", "k", []uint64{12}},
		{1, "z", "z", nil},
		{1, "*", "c", []uint64{10}},
		{1, "g", "*", []uint64{11, 12, 13}},
		{1, "*", "*", []uint64{10, 11, 12, 13}},
		{1, "z", "a", nil},
		{2, "*", "*", nil},
		// Level 0: [a,a] reaches file 1, whose range [a,c] reaches file 2,
		// whose [b,e] reaches file 3.
		{0, "a", "a", []uint64{1, 2, 3}},
		{0, "g", "g", []uint64{1, 2, 3}},
		{0, "h", "h", nil},
		{0, "h", "i", []uint64{4}},
		{0, "l", "m", []uint64{5}},
		{0, "*", "b", []uint64{1, 2, 3}},
		{0, "j", "*", []uint64{4, 5}},
		{0, "*", "*", []uint64{1, 2, 3, 4, 5}},
		{0, "k", "c", nil},
	} {
		t.Run(fmt.Sprintf("L%d[%s,%s]", tc.level, tc.lo, tc.hi), func(t *testing.T) {
			require.Equal(t, tc.want, ov(tc.level, tc.lo, tc.hi))
		})
	}

	// The result is a copy that the caller may modify.
	got := v.Overlaps(1, nil, nil)
	got[0] = nil
	require.NotNil(t, v.Levels[1][0])
}

func TestOverlapsMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	letter := func() string { return string(rune('a' + rng.IntN(26))) }
	for range 200 {
		// Random L0 with disjoint seqs; check the L0 result is the closure.
		e := &VersionEdit{}
		for i := range 8 {
			lo, hi := letter(), letter()
			if lo > hi {
				lo, hi = hi, lo
			}
			e.NewFiles = append(e.NewFiles, NewFile{0, file(uint64(i+1), lo, hi, base.SeqNum(i+1), base.SeqNum(i+1))})
		}
		v := mustApply(t, &Version{}, e)
		lo, hi := letter(), letter()
		if lo > hi {
			lo, hi = hi, lo
		}
		got := v.Overlaps(0, []byte(lo), []byte(hi))

		// Brute force: grow [lo, hi] until no file changes it.
		in := map[*FileMetadata]bool{}
		for changed := true; changed; {
			changed = false
			for _, f := range v.Levels[0] {
				if !in[f] && string(f.LargestUserKey()) >= lo && string(f.SmallestUserKey()) <= hi {
					in[f] = true
					changed = true
					lo, hi = min(lo, string(f.SmallestUserKey())), max(hi, string(f.LargestUserKey()))
				}
			}
		}
		var want []*FileMetadata
		for _, f := range v.Levels[0] {
			if in[f] {
				want = append(want, f)
			}
		}
		require.Equal(t, fileNums(want), fileNums(got))
	}
}

func TestFindFile(t *testing.T) {
	files := []*FileMetadata{
		file(1, "b", "d", 1, 1),
		file(2, "f", "h", 1, 1),
		file(3, "k", "k", 1, 1),
	}
	for _, tc := range []struct {
		ukey string
		want int
	}{
		{"", 0}, {"a", 0}, {"b", 0}, {"d", 0}, {"da", 1}, {"e", 1}, {"h", 1},
		{"i", 2}, {"k", 2}, {"ka", 3}, {"z", 3},
	} {
		require.Equal(t, tc.want, FindFile(files, []byte(tc.ukey)), "FindFile(%q)", tc.ukey)
	}
	require.Equal(t, 0, FindFile(nil, []byte("a")))
	require.Equal(t, 0, FindFile(files, nil))
}

func TestRefUnref(t *testing.T) {
	counts := map[uint64]int{}
	obsolete := func(f *FileMetadata) { counts[f.FileNum]++ }

	v1 := mustApply(t, &Version{}, add(1, file(1, "a", "b", 1, 1), file(2, "c", "d", 2, 2)))
	require.Zero(t, v1.Levels[1][0].refs.Load(), "a new Version holds no file references")
	v1.Ref() // the DB's current version

	v2 := mustApply(t, v1, del(1, 1), add(0, file(3, "x", "y", 3, 3)))
	v2.Ref() // installed: Ref the new one before Unref-ing the old
	v1.Unref(obsolete)
	require.Equal(t, map[uint64]int{1: 1}, counts)

	v2.Ref() // an iterator pins v2
	v3 := mustApply(t, v2, del(1, 2))
	v3.Ref()
	v2.Unref(obsolete) // the DB moves on; the iterator still pins v2
	require.Equal(t, map[uint64]int{1: 1}, counts)
	require.NoError(t, v2.CheckInvariants())
	v2.Unref(obsolete) // the iterator closes
	require.Equal(t, map[uint64]int{1: 1, 2: 1}, counts)

	v3.Unref(obsolete)
	require.Equal(t, map[uint64]int{1: 1, 2: 1, 3: 1}, counts)

	require.PanicsWithValue(t, "manifest: Unref of a Version with no references", func() { v3.Unref(obsolete) })
	v4 := &Version{}
	require.Panics(t, func() { v4.Unref(nil) })
	v5 := mustApply(t, &Version{}, add(1, file(9, "a", "b", 1, 1)))
	v5.Ref()
	v5.Unref(nil)
	require.PanicsWithValue(t, "manifest: Ref of a released Version", v5.Ref)
}

// TestRefUnrefModel drives random Apply, Ref and Unref calls against a
// model: a file is reported obsolete exactly once, when no referenced Version
// includes it any more.
func TestRefUnrefModel(t *testing.T) {
	for seed := range uint64(20) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 99))
			pins := map[*Version]int{}
			reported := map[uint64]int{}
			obsolete := func(f *FileMetadata) {
				reported[f.FileNum]++
				for v, n := range pins {
					if n > 0 {
						for _, g := range v.Levels[1] {
							require.NotSame(t, f, g, "file %d reported while pinned", f.FileNum)
						}
					}
				}
			}
			unpin := func(v *Version) {
				pins[v]--
				if pins[v] == 0 {
					delete(pins, v)
				}
				v.Unref(obsolete)
			}
			cur := &Version{}
			cur.Ref()
			pins[cur] = 1
			next := uint64(1)
			var everRefd []uint64
			for range 300 {
				switch rng.IntN(3) {
				case 0: // new version: delete some files, add some
					e := &VersionEdit{}
					for _, f := range cur.Levels[1] {
						if rng.IntN(3) == 0 {
							e.DeletedFiles = append(e.DeletedFiles, DeletedFile{1, f.FileNum})
						}
					}
					for range rng.IntN(3) {
						k := fmt.Sprintf("%06d", next)
						e.NewFiles = append(e.NewFiles, NewFile{1, file(next, k, k, 1, 1)})
						everRefd = append(everRefd, next)
						next++
					}
					nv := mustApply(t, cur, e)
					nv.Ref()
					pins[nv]++
					unpin(cur)
					cur = nv
				case 1: // an iterator pins the current version
					cur.Ref()
					pins[cur]++
				case 2: // some iterator closes
					for v := range pins {
						if v != cur || pins[v] > 1 {
							unpin(v)
							break
						}
					}
				}
				for v := range pins {
					require.NoError(t, v.CheckInvariants())
				}
				for num, n := range reported {
					require.Equal(t, 1, n, "file %d reported %d times", num, n)
				}
			}
			for len(pins) > 0 {
				for v := range pins {
					unpin(v)
					break
				}
			}
			for _, num := range everRefd {
				require.Equal(t, 1, reported[num], "file %d", num)
			}
		})
	}
}

func TestRefUnrefConcurrent(t *testing.T) {
	v := mustApply(t, &Version{}, add(1, file(1, "a", "b", 1, 1), file(2, "c", "d", 1, 1)))
	v.Ref()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				v.Ref()
				v.Unref(func(*FileMetadata) { t.Error("file reported while the version is held") })
			}
		})
	}
	wg.Wait()
	var mu sync.Mutex
	var got []uint64
	v.Unref(func(f *FileMetadata) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, f.FileNum)
	})
	require.ElementsMatch(t, []uint64{1, 2}, got)
}

func TestCheckInvariants(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    *Version
		want string
	}{
		{"L1 unsorted", &Version{Levels: [NumLevels][]*FileMetadata{1: {file(1, "c", "d", 1, 1), file(2, "a", "b", 1, 1)}}}, "out of order"},
		{"L1 overlap", &Version{Levels: [NumLevels][]*FileMetadata{1: {file(1, "a", "c", 1, 1), file(2, "c", "d", 1, 1)}}}, "overlap"},
		{"L0 unsorted", &Version{Levels: [NumLevels][]*FileMetadata{0: {file(1, "a", "c", 5, 6), file(2, "x", "y", 1, 2)}}}, "out of order"},
		{"L0 seq overlap", &Version{Levels: [NumLevels][]*FileMetadata{0: {file(1, "a", "c", 1, 6), file(2, "b", "y", 5, 7)}}}, "overlap in both"},
		{"duplicate", &Version{Levels: [NumLevels][]*FileMetadata{1: {file(1, "a", "c", 1, 1)}, 3: {file(1, "a", "c", 1, 1)}}}, "in both L1 and L3"},
		{"bad file", &Version{Levels: [NumLevels][]*FileMetadata{2: {file(1, "d", "c", 1, 1)}}}, "smallest key after largest"},
		{"nil file", &Version{Levels: [NumLevels][]*FileMetadata{2: {nil}}}, "nil file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.v.CheckInvariants()
			require.ErrorIs(t, err, base.ErrCorruption)
			require.ErrorContains(t, err, tc.want)
			if invariantsEnabled {
				require.Panics(t, func() { _, _ = tc.v.Apply() })
			}
		})
	}
	// A referenced Version whose file lost its references.
	v := mustApply(t, &Version{}, add(1, file(1, "a", "b", 1, 1)))
	v.Ref()
	v.Levels[1][0].refs.Add(-1)
	require.ErrorContains(t, v.CheckInvariants(), "has 0 references")
}

func TestString(t *testing.T) {
	v := mustApply(t, &Version{},
		add(0, &FileMetadata{FileNum: 12, Size: 4096, Smallest: base.MakeInternalKey(nil, 30, base.KindDelete),
			Largest: ikey("zz", 30), SmallestSeq: 30, LargestSeq: 30}),
		add(3, &FileMetadata{FileNum: 1234567, Size: 1, Smallest: ikey("a b", 7), Largest: ikey("\xff\x00", 3),
			SmallestSeq: 3, LargestSeq: 7}),
	)
	require.Equal(t, "L0:\n"+
		"  000012:[\"\"#30,DEL-zz#30,SET] 4096\n"+
		"L3:\n"+
		"  1234567:[\"a b\"#7,SET-\"\\xff\\x00\"#3,SET] 1\n", v.String())
}

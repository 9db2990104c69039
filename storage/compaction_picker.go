package storage

import (
	"bytes"
	"slices"

	"github.com/minidbgo/minidbgo/storage/internal/base"
	"github.com/minidbgo/minidbgo/storage/internal/manifest"
)

// compaction describes one merge of input tables into outputLevel.
type compaction struct {
	// inputs holds, per level, the tables merged; levels appear in
	// increasing order and the last is outputLevel (possibly with no
	// tables).
	inputs      []compactionLevel
	outputLevel int
	// bottommost is set when no level below outputLevel overlaps the
	// inputs: tombstones that no snapshot needs can then be dropped.
	bottommost bool
	// trivialMove is set when a single table can move down a level
	// without being rewritten.
	trivialMove bool
	manual      bool
	version     *manifest.Version // pinned while the compaction runs
	smallest    []byte            // user-key range of the inputs
	largest     []byte
}

type compactionLevel struct {
	level int
	files []*manifest.FileMetadata
}

// maxBytesForLevel is the target size of a level (L1 and deeper).
func (d *DB) maxBytesForLevel(level int) uint64 {
	n := uint64(d.opts.LBaseMaxBytes)
	for l := 1; l < level; l++ {
		n *= uint64(d.opts.LevelMultiplier)
	}
	return n
}

// pickCompactionLocked chooses the most urgent automatic compaction, or
// nil. L0 is scored by table count, deeper levels by size against target;
// the best score >= 1 wins. A compaction that would read a damaged table
// (damage.go) is never chosen: the next most urgent one is. REQUIRES: d.mu.
func (d *DB) pickCompactionLocked() *compaction {
	v := d.mu.version
	type candidate struct {
		level int
		score float64
	}
	var cands []candidate
	if n := len(v.Levels[0]); n >= d.opts.L0CompactionThreshold {
		cands = append(cands, candidate{0, float64(n) / float64(d.opts.L0CompactionThreshold)})
	}
	for l := 1; l < manifest.NumLevels-1; l++ {
		if score := float64(v.LevelSize(l)) / float64(d.maxBytesForLevel(l)); score >= 1 {
			cands = append(cands, candidate{l, score})
		}
	}
	// Highest score first; on a tie the deeper level, as before.
	slices.SortStableFunc(cands, func(a, b candidate) int {
		if a.score != b.score {
			if a.score > b.score {
				return -1
			}
			return 1
		}
		return b.level - a.level
	})
	for _, cand := range cands {
		if cand.level == 0 {
			files := append([]*manifest.FileMetadata(nil), v.Levels[0]...)
			if c := d.newCompactionLocked(v, 0, files); c != nil {
				return c
			}
			continue
		}
		// Round-robin through the level by key, as LevelDB does,
		// passing over tables whose compaction would read a damaged one.
		files := v.Levels[cand.level]
		i := 0
		if ptr := d.mu.compactPtr[cand.level]; ptr != nil {
			for i < len(files) && bytes.Compare(files[i].LargestUserKey(), ptr) <= 0 {
				i++
			}
			if i == len(files) {
				i = 0
			}
		}
		for j := range files {
			f := files[(i+j)%len(files)]
			if c := d.newCompactionLocked(v, cand.level, []*manifest.FileMetadata{f}); c != nil {
				return c
			}
		}
	}
	return nil
}

// newCompactionLocked builds the compaction of files, tables of level, into
// the next level, or returns nil if it would read a damaged table.
// REQUIRES: d.mu.
func (d *DB) newCompactionLocked(v *manifest.Version, level int, files []*manifest.FileMetadata) *compaction {
	c := &compaction{outputLevel: level + 1}
	c.inputs = append(c.inputs, compactionLevel{level: level, files: files})
	c.setRange()
	// Pull in overlapping tables of the output level.
	out := v.Overlaps(c.outputLevel, c.smallest, c.largest)
	c.inputs = append(c.inputs, compactionLevel{level: c.outputLevel, files: out})
	if d.compactionDamage(c) != nil {
		return nil
	}
	c.setRange()
	if len(c.inputs[0].files) == 1 && len(out) == 0 && c.inputs[0].level > 0 {
		c.trivialMove = true
	}
	if len(out) == 0 && c.inputs[0].level == 0 && disjoint(c.inputs[0].files) {
		// Tables flushed from key-ordered writes: move them down as they are.
		c.trivialMove = true
	}
	c.bottommost = d.isBottommost(v, c)
	return c
}

// pickManualCompactionLocked merges every table into one level: the first
// level at or below the deepest non-empty one whose target size holds all
// the data. REQUIRES: d.mu.
func (d *DB) pickManualCompactionLocked() *compaction {
	v := d.mu.version
	var total uint64
	deepest := 0
	for l := range manifest.NumLevels {
		if len(v.Levels[l]) > 0 {
			deepest = l
			total += v.LevelSize(l)
		}
	}
	if total == 0 {
		return nil
	}
	out := max(deepest, 1)
	for out < manifest.NumLevels-1 && d.maxBytesForLevel(out) < total {
		out++
	}
	c := &compaction{outputLevel: out, manual: true, bottommost: true}
	for l := 0; l <= out; l++ {
		if len(v.Levels[l]) > 0 || l == out {
			c.inputs = append(c.inputs, compactionLevel{level: l, files: append([]*manifest.FileMetadata(nil), v.Levels[l]...)})
		}
	}
	c.setRange()
	return c
}

func (c *compaction) setRange() {
	c.smallest, c.largest = nil, nil
	for _, in := range c.inputs {
		for _, f := range in.files {
			if c.smallest == nil || bytes.Compare(f.SmallestUserKey(), c.smallest) < 0 {
				c.smallest = f.SmallestUserKey()
			}
			if c.largest == nil || bytes.Compare(f.LargestUserKey(), c.largest) > 0 {
				c.largest = f.LargestUserKey()
			}
		}
	}
}

func (c *compaction) numInputFiles() int {
	n := 0
	for _, in := range c.inputs {
		n += len(in.files)
	}
	return n
}

// isBottommost reports whether no level below the output overlaps c.
func (d *DB) isBottommost(v *manifest.Version, c *compaction) bool {
	for l := c.outputLevel + 1; l < manifest.NumLevels; l++ {
		if len(v.Overlaps(l, c.smallest, c.largest)) > 0 {
			return false
		}
	}
	return true
}

// smallestSnapshotLocked returns the oldest sequence number a reader may
// still read at. REQUIRES: d.mu.
func (d *DB) smallestSnapshotLocked() base.SeqNum {
	if s, ok := d.mu.snapshots.oldest(); ok {
		return s
	}
	return base.SeqNum(d.visibleSeq.Load())
}

// disjoint reports whether no two of the tables overlap by user key.
func disjoint(files []*manifest.FileMetadata) bool {
	sorted := append([]*manifest.FileMetadata(nil), files...)
	slices.SortFunc(sorted, func(a, b *manifest.FileMetadata) int {
		return bytes.Compare(a.SmallestUserKey(), b.SmallestUserKey())
	})
	for i := 1; i < len(sorted); i++ {
		if bytes.Compare(sorted[i-1].LargestUserKey(), sorted[i].SmallestUserKey()) >= 0 {
			return false
		}
	}
	return true
}

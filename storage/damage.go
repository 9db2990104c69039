package storage

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"sync"

	"github.com/minidbgo/minidbgo/storage/internal/base"
	"github.com/minidbgo/minidbgo/storage/internal/manifest"
)

// Damaged tables.
//
// Open checks the footer, index, filter and properties blocks of every
// live table (verifyTables) and refuses a damaged one with its
// *CorruptionError. Data blocks are checksummed whenever they are read
// (sstable.Reader.readBlock), so damage there is found by the first read or
// compaction that reaches the block. That table is then recorded as
// damaged (noteCorruption) and the engine is degraded until it is
// reopened:
//
//   - a read that reaches the damaged block returns its *CorruptionError;
//     every other read works as before;
//   - automatic compaction never picks a damaged table again (its merge
//     would fail the same way), but still compacts what does not involve
//     one; a manual Compact that would involve one fails with ErrDegraded;
//   - writes are accepted while flushes can proceed. Once L0 holds
//     L0StopWritesThreshold tables and only a compaction involving a
//     damaged table could drain it, the stall would never end: writes and
//     flushes fail at once with ErrDegraded (naming the table) instead of
//     waiting.
//
// DB.Damage and Metrics.Degraded report the state; an ERROR log line names
// the table and what the operator should run.

// damageState records the tables found damaged since Open.
type damageState struct {
	mu     sync.Mutex // a leaf lock: may be taken under d.mu, never the reverse
	tables map[uint64]*CorruptionError
	order  []uint64 // file numbers, in the order found
}

// tableNumOf returns the file number of the table a corruption error
// names ("sst/000012.sst").
func tableNumOf(file string) (uint64, bool) {
	k, n := parseFileName(filepath.Base(file))
	return n, k == kindSST
}

// noteCorruption records the table that err, an error from a read or a
// compaction, reports damaged. It reports whether err names a table, known
// before or not. A newly damaged table is logged at ERROR and wakes the
// writers and flushes that wait, so that they see the stall is permanent.
// It must be called without d.mu.
func (d *DB) noteCorruption(err error) bool {
	var ce *CorruptionError
	if !errors.As(err, &ce) {
		return false
	}
	d.m.corruptionErrors.Add(1)
	num, ok := tableNumOf(ce.File)
	if !ok {
		return false
	}
	d.damage.mu.Lock()
	if _, known := d.damage.tables[num]; known {
		d.damage.mu.Unlock()
		return true
	}
	if d.damage.tables == nil {
		d.damage.tables = make(map[uint64]*CorruptionError)
	}
	c := *ce
	d.damage.tables[num] = &c
	d.damage.order = append(d.damage.order, num)
	d.damage.mu.Unlock()

	d.opts.Logger.Error("storage: damaged table; the database is degraded: reads of the damaged block fail, compaction skips the table and writes stop once L0 is full",
		"file", ce.File, "offset", ce.Offset, "err", ce.Err, "action", damageAdvice(d.dir))
	d.mu.Lock()
	if d.mu.changed != nil {
		d.signalChangedLocked()
	}
	d.mu.Unlock()
	return true
}

// damageAdvice tells the operator what to do about a damaged table.
func damageAdvice(dir string) string {
	return fmt.Sprintf("stop the server and run `minidbgo check --dir %s` to list every damaged file, then restore from a dump or backup (docs/operations.md, \"Damaged data\"); until then undamaged keys stay readable", dir)
}

// damagedIn returns the damage of the first damaged table among files, or
// nil.
func (d *DB) damagedIn(files []*manifest.FileMetadata) *CorruptionError {
	d.damage.mu.Lock()
	defer d.damage.mu.Unlock()
	if len(d.damage.tables) == 0 {
		return nil
	}
	for _, f := range files {
		if ce := d.damage.tables[f.FileNum]; ce != nil {
			return ce
		}
	}
	return nil
}

// compactionDamage returns the damage of the first damaged input of c, or
// nil.
func (d *DB) compactionDamage(c *compaction) *CorruptionError {
	for _, in := range c.inputs {
		if ce := d.damagedIn(in.files); ce != nil {
			return ce
		}
	}
	return nil
}

// degradedError builds the ErrDegraded error for ce.
func degradedError(what string, ce *CorruptionError) error {
	c := *ce
	return fmt.Errorf("%w: %s: %w", ErrDegraded, what, &c)
}

// Damage returns the tables found damaged since Open, in the order found,
// each as the first *CorruptionError met in it (file and offset). It is
// empty while the database is healthy.
func (d *DB) Damage() []CorruptionError {
	d.damage.mu.Lock()
	defer d.damage.mu.Unlock()
	out := make([]CorruptionError, 0, len(d.damage.order))
	for _, n := range d.damage.order {
		out = append(out, *d.damage.tables[n])
	}
	return out
}

// stallDamageLocked returns an ErrDegraded error when L0 is full and the
// only compaction that could drain it involves a damaged table: a flush,
// and a writer waiting for one, would then wait for ever. REQUIRES: d.mu.
func (d *DB) stallDamageLocked() error {
	if d.opts.DisableAutomaticCompactions {
		return nil
	}
	v := d.mu.version
	l0 := v.Levels[0]
	if len(l0) < d.opts.L0StopWritesThreshold {
		return nil
	}
	ce := d.damagedIn(l0)
	if ce == nil {
		var smallest, largest []byte
		for _, f := range l0 {
			if smallest == nil || bytes.Compare(f.SmallestUserKey(), smallest) < 0 {
				smallest = f.SmallestUserKey()
			}
			if largest == nil || bytes.Compare(f.LargestUserKey(), largest) > 0 {
				largest = f.LargestUserKey()
			}
		}
		ce = d.damagedIn(v.Overlaps(1, smallest, largest))
	}
	if ce == nil {
		return nil
	}
	return degradedError(fmt.Sprintf("writes stopped: %d L0 tables wait for a compaction that a damaged table blocks", len(l0)), ce)
}

// verifyTables opens every live table, which reads and checksums its
// footer, index, filter and properties blocks, and checks the key range
// against the MANIFEST. Data blocks are left to be checked when read. The
// readers stay in the table cache (up to MaxOpenTables), so the first reads
// do not pay for them again.
func (d *DB) verifyTables() error {
	v := d.mu.version
	for l := range manifest.NumLevels {
		for _, f := range v.Levels[l] {
			h, err := d.tc.get(f.FileNum, f.Size)
			if err != nil {
				return err
			}
			p := h.r.Properties()
			h.release()
			if p.NumEntries == 0 {
				continue
			}
			if base.Compare(p.Smallest, f.Smallest) != 0 || base.Compare(p.Largest, f.Largest) != 0 {
				return base.Corruptf(sstName(f.FileNum), -1, "key range [%q-%q] of the table differs from the MANIFEST's %s",
					base.UserKey(p.Smallest), base.UserKey(p.Largest), f)
			}
		}
	}
	return nil
}

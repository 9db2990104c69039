package storage

import (
	"bytes"

	"github.com/minidbgo/minidbgo/storage/internal/base"
	"github.com/minidbgo/minidbgo/storage/internal/manifest"
)

// Get returns a copy of the value of key, or ErrNotFound.
func (d *DB) Get(key []byte) ([]byte, error) {
	if d.closed.Load() {
		return nil, ErrClosed
	}
	return d.get(key, base.SeqNum(d.visibleSeq.Load()))
}

// get reads the newest version of key with sequence number <= seq, looking
// in the memtable, the frozen memtables newest first, the L0 tables newest
// first, then one table per deeper level.
func (d *DB) get(key []byte, seq base.SeqNum) ([]byte, error) {
	d.m.gets.Add(1)
	rs := d.loadReadState()
	defer rs.unref()
	if v, kind, ok := rs.mem.Get(key, seq); ok {
		return result(v, kind)
	}
	for i := len(rs.imm) - 1; i >= 0; i-- {
		if v, kind, ok := rs.imm[i].Get(key, seq); ok {
			return result(v, kind)
		}
	}
	l0 := rs.v.Levels[0]
	for i := len(l0) - 1; i >= 0; i-- {
		f := l0[i]
		if bytes.Compare(key, f.SmallestUserKey()) < 0 || bytes.Compare(key, f.LargestUserKey()) > 0 {
			continue
		}
		if v, kind, ok, err := d.tableGet(f, key, seq); err != nil || ok {
			if err != nil {
				return nil, err
			}
			return tableResult(v, kind)
		}
	}
	for l := 1; l < len(rs.v.Levels); l++ {
		files := rs.v.Levels[l]
		i := manifest.FindFile(files, key)
		if i >= len(files) || bytes.Compare(key, files[i].SmallestUserKey()) < 0 {
			continue
		}
		if v, kind, ok, err := d.tableGet(files[i], key, seq); err != nil || ok {
			if err != nil {
				return nil, err
			}
			return tableResult(v, kind)
		}
	}
	return nil, ErrNotFound
}

func result(v []byte, kind base.Kind) ([]byte, error) {
	if kind == base.KindDelete {
		return nil, ErrNotFound
	}
	return bytes.Clone(v), nil
}

// tableResult is result for a value from a table, which is a copy already.
func tableResult(v []byte, kind base.Kind) ([]byte, error) {
	if kind == base.KindDelete {
		return nil, ErrNotFound
	}
	return v, nil
}

// tableGet looks key up in one table; the value it returns is a copy.
func (d *DB) tableGet(f *manifest.FileMetadata, key []byte, seq base.SeqNum) ([]byte, base.Kind, bool, error) {
	h, err := d.tc.get(f.FileNum, f.Size)
	if err != nil {
		d.noteCorruption(err)
		return nil, 0, false, err
	}
	defer h.release()
	if !h.r.MayContain(key) {
		d.m.bloomSkips.Add(1)
		return nil, 0, false, nil
	}
	d.m.tableReads.Add(1)
	v, kind, ok, err := h.r.Get(key, seq)
	if err != nil || !ok {
		if err != nil {
			d.noteCorruption(err)
		}
		return nil, 0, false, err
	}
	return v, kind, true, nil
}

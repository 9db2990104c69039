package storage

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/minidbgo/minidbgo/storage/internal/base"
)

// A batch is encoded once, when it is built, in the form the WAL stores, so
// committing it copies no entries:
//
//	+-------------+-----------+---------- ... ----------+
//	| seq u64 LE  | count u32 | entries                  |
//	+-------------+-----------+---------- ... ----------+
//
//	entry := kind u8 | uvarint len(key) | key | [uvarint len(value) | value]
//	       | kind=2 (SETSEQ) u8 | uvarint ref | uvarint len(prefix) | prefix
//	         | uvarint len(value) | value
//
// The value part is present for SET entries only. seq is the sequence number
// of the first entry; entry i has seq+i. It is filled in at commit time.
//
// A SETSEQ entry (Batch.PutSeqKey, PutSeqKeyOf) is a SET whose key is
// completed at commit time: its key is prefix followed by the sequence
// number of the batch's entry ref (seq+ref), 8 bytes big-endian. Decoding
// the entry, whether to apply a committed batch to the memtable or to replay
// the WAL, computes the same key from the header's seq, so the WAL need not
// be rewritten once seq is known, and a key written this way sorts in commit
// order: a reader that saw the key of seq N never later finds one below N.
// SETSEQ exists only in batches (and so in the WAL): the memtable and the
// SSTables hold the completed key as an ordinary SET.
const batchHeaderLen = 12

// batchKindSetSeq is the kind byte of a SETSEQ entry. It is a batch
// encoding only, never the kind of an internal key.
const batchKindSetSeq = 2

// Batch is a set of writes applied atomically by DB.Apply: after a crash
// either every entry is present or none is. A Batch is not safe for
// concurrent use; it may be reused after Reset once Apply has returned.
type Batch struct {
	data  []byte
	count uint32
	dels  uint32 // DEL entries, for metrics
	db    *DB
}

// NewBatch returns an empty batch for this DB.
func (d *DB) NewBatch() *Batch { return &Batch{db: d} }

func (b *Batch) init() {
	if len(b.data) < batchHeaderLen {
		b.data = make([]byte, batchHeaderLen, 256)
	}
}

// Put adds a write of key to value. The batch copies both.
func (b *Batch) Put(key, value []byte) {
	b.init()
	b.data = append(b.data, byte(base.KindSet))
	b.data = binary.AppendUvarint(b.data, uint64(len(key)))
	b.data = append(b.data, key...)
	b.data = binary.AppendUvarint(b.data, uint64(len(value)))
	b.data = append(b.data, value...)
	b.count++
}

// PutSeqKey adds a write of value under a key completed at commit time:
// prefix followed by the entry's own sequence number, 8 bytes big-endian.
// Keys written so ascend in commit order across every batch of the DB. It
// returns the entry's index in the batch, for PutSeqKeyOf and SeqOf. The
// batch copies prefix and value.
func (b *Batch) PutSeqKey(prefix, value []byte) int {
	ref := int(b.count)
	b.PutSeqKeyOf(ref, prefix, value)
	return ref
}

// PutSeqKeyOf adds a write of value under prefix followed by the sequence
// number of the batch's entry ref (0 <= ref <= Len(); ref == Len() is this
// entry itself), 8 bytes big-endian: a second key, such as a secondary
// index, carrying the sequence number PutSeqKey gave another entry. It
// panics on a ref out of range. The batch copies prefix and value.
func (b *Batch) PutSeqKeyOf(ref int, prefix, value []byte) {
	if ref < 0 || ref > int(b.count) {
		panic(fmt.Sprintf("storage: PutSeqKeyOf: ref %d outside the batch's %d entries", ref, b.count))
	}
	b.init()
	b.data = append(b.data, batchKindSetSeq)
	b.data = binary.AppendUvarint(b.data, uint64(ref))
	b.data = binary.AppendUvarint(b.data, uint64(len(prefix)))
	b.data = append(b.data, prefix...)
	b.data = binary.AppendUvarint(b.data, uint64(len(value)))
	b.data = append(b.data, value...)
	b.count++
}

// SeqOf returns the sequence number of the batch's entry ref, as
// committed: valid after Apply returned nil and until Reset. It is what a
// PutSeqKey entry's key ends with.
func (b *Batch) SeqOf(ref int) uint64 {
	if len(b.data) < batchHeaderLen {
		return 0
	}
	return binary.LittleEndian.Uint64(b.data[0:8]) + uint64(ref)
}

// Delete adds a deletion of key. The batch copies it.
func (b *Batch) Delete(key []byte) {
	b.init()
	b.data = append(b.data, byte(base.KindDelete))
	b.data = binary.AppendUvarint(b.data, uint64(len(key)))
	b.data = append(b.data, key...)
	b.count++
	b.dels++
}

// Len returns the number of entries in the batch.
func (b *Batch) Len() int { return int(b.count) }

// Size returns the encoded size of the batch in bytes.
func (b *Batch) Size() int { return len(b.data) }

// Reset empties the batch, keeping its buffer.
func (b *Batch) Reset() {
	if len(b.data) >= batchHeaderLen {
		b.data = b.data[:batchHeaderLen]
		clear(b.data)
	}
	b.count = 0
	b.dels = 0
}

func (b *Batch) setSeq(seq base.SeqNum) {
	binary.LittleEndian.PutUint64(b.data[0:8], uint64(seq))
	binary.LittleEndian.PutUint32(b.data[8:12], b.count)
}

var errBatchCorrupt = errors.New("malformed batch")

// batchReader decodes an encoded batch, as stored in the WAL.
type batchReader struct {
	data  []byte
	seq   base.SeqNum
	count uint32
	read  uint32
	key   []byte // a SETSEQ entry's completed key; reused
	// seqKey reports whether the entry next last returned was a SETSEQ.
	seqKey bool
}

func newBatchReader(data []byte) (batchReader, error) {
	if len(data) < batchHeaderLen {
		return batchReader{}, fmt.Errorf("%w: %d-byte header", errBatchCorrupt, len(data))
	}
	return batchReader{
		data:  data[batchHeaderLen:],
		seq:   base.SeqNum(binary.LittleEndian.Uint64(data[0:8])),
		count: binary.LittleEndian.Uint32(data[8:12]),
	}, nil
}

// next returns the next entry; ok is false at the end. An error reports an
// entry that does not decode or a count that does not match the entries.
// A SETSEQ entry is returned as a SET of its completed key, which stays
// valid only until the next call.
func (r *batchReader) next() (kind base.Kind, key, value []byte, ok bool, err error) {
	if len(r.data) == 0 {
		if r.read != r.count {
			return 0, nil, nil, false, fmt.Errorf("%w: header says %d entries, found %d", errBatchCorrupt, r.count, r.read)
		}
		return 0, nil, nil, false, nil
	}
	raw := r.data[0]
	if raw > batchKindSetSeq {
		return 0, nil, nil, false, fmt.Errorf("%w: entry %d has unknown kind %d", errBatchCorrupt, r.read, raw)
	}
	p := r.data[1:]
	var ref uint64
	if raw == batchKindSetSeq {
		var w int
		ref, w = binary.Uvarint(p)
		if w <= 0 || ref >= uint64(r.count) {
			return 0, nil, nil, false, fmt.Errorf("%w: entry %d has a bad sequence reference", errBatchCorrupt, r.read)
		}
		p = p[w:]
	}
	kind = base.Kind(min(raw, byte(base.KindSet)))
	r.seqKey = raw == batchKindSetSeq
	key, p, err = readLenPrefixed(p)
	if err != nil {
		return 0, nil, nil, false, fmt.Errorf("%w: entry %d key: %v", errBatchCorrupt, r.read, err)
	}
	if raw == batchKindSetSeq {
		r.key = append(append(r.key[:0], key...), 0, 0, 0, 0, 0, 0, 0, 0)
		binary.BigEndian.PutUint64(r.key[len(key):], uint64(r.seq)+ref)
		key = r.key
	}
	if kind == base.KindSet {
		value, p, err = readLenPrefixed(p)
		if err != nil {
			return 0, nil, nil, false, fmt.Errorf("%w: entry %d value: %v", errBatchCorrupt, r.read, err)
		}
	}
	r.data = p
	r.read++
	if r.read > r.count {
		return 0, nil, nil, false, fmt.Errorf("%w: more entries than the header's %d", errBatchCorrupt, r.count)
	}
	return kind, key, value, true, nil
}

// validate decodes every entry without consuming r, so that a batch can be
// checked before any of it is applied.
func (r batchReader) validate() error {
	for {
		_, _, _, ok, err := r.next()
		if err != nil || !ok {
			return err
		}
	}
}

func readLenPrefixed(p []byte) (v, rest []byte, err error) {
	n, w := binary.Uvarint(p)
	if w <= 0 {
		return nil, nil, errors.New("bad length")
	}
	p = p[w:]
	if n > uint64(len(p)) {
		return nil, nil, fmt.Errorf("length %d exceeds the %d bytes left", n, len(p))
	}
	return p[:n:n], p[n:], nil
}

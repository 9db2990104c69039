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
//
// The value part is present for SET entries only. seq is the sequence number
// of the first entry; entry i has seq+i. It is filled in at commit time.
const batchHeaderLen = 12

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
func (r *batchReader) next() (kind base.Kind, key, value []byte, ok bool, err error) {
	if len(r.data) == 0 {
		if r.read != r.count {
			return 0, nil, nil, false, fmt.Errorf("%w: header says %d entries, found %d", errBatchCorrupt, r.count, r.read)
		}
		return 0, nil, nil, false, nil
	}
	kind = base.Kind(r.data[0])
	if kind > base.KindSet {
		return 0, nil, nil, false, fmt.Errorf("%w: entry %d has unknown kind %d", errBatchCorrupt, r.read, kind)
	}
	p := r.data[1:]
	key, p, err = readLenPrefixed(p)
	if err != nil {
		return 0, nil, nil, false, fmt.Errorf("%w: entry %d key: %v", errBatchCorrupt, r.read, err)
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

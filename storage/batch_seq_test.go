package storage

import (
	"encoding/binary"
	"fmt"
	"sync"
	"testing"

	"github.com/minidbgo/minidbgo/storage/vfs"
	"github.com/stretchr/testify/require"
)

// seqKeys returns the keys under prefix, with the sequence numbers they
// end in and their values.
func seqKeys(t *testing.T, it *Iterator, prefix string) (seqs []uint64, values []string) {
	t.Helper()
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		require.Len(t, k, len(prefix)+8, "key %q", k)
		require.Equal(t, prefix, string(k[:len(prefix)]))
		seqs = append(seqs, binary.BigEndian.Uint64(k[len(prefix):]))
		values = append(values, string(it.Value()))
	}
	require.NoError(t, it.Close())
	return seqs, values
}

// TestPutSeqKey checks that a SETSEQ entry's key ends in its own sequence
// number (or that of the entry it refers to), that SeqOf tells it, and
// that WAL replay after a crash gives the same keys as the commit did.
func TestPutSeqKey(t *testing.T) {
	fs := vfs.NewMem()
	db, err := Open("/db", &Options{FS: fs})
	require.NoError(t, err)
	var want []uint64
	for i := range 20 {
		b := db.NewBatch()
		b.Put([]byte(fmt.Sprintf("doc%02d", i)), []byte("body"))
		ref := b.PutSeqKey([]byte("f"), []byte(fmt.Sprintf("rec%02d", i)))
		require.Equal(t, 1, ref)
		b.PutSeqKeyOf(ref, []byte("c"), []byte(fmt.Sprintf("col%02d", i)))
		require.NoError(t, db.Apply(b))
		seq := b.SeqOf(ref)
		require.Positive(t, seq)
		v, err := db.Get(binary.BigEndian.AppendUint64([]byte("f"), seq))
		require.NoError(t, err)
		require.Equal(t, fmt.Sprintf("rec%02d", i), string(v))
		want = append(want, seq)
	}
	check := func(db *DB, when string) {
		for _, p := range []string{"f", "c"} {
			seqs, values := seqKeys(t, db.NewIter(&IterOptions{Prefix: []byte(p)}), p)
			require.Equal(t, want, seqs, "%s: prefix %s", when, p)
			for i, v := range values {
				require.Equal(t, map[string]string{"f": "rec", "c": "col"}[p]+fmt.Sprintf("%02d", i), v)
			}
		}
	}
	check(db, "committed")
	snap := db.NewSnapshot()
	require.Equal(t, want[len(want)-1]+1, snap.Seq(), "the snapshot's seq is the last batch's last entry's")
	require.NoError(t, snap.Close())

	// Replay: the keys are completed again from the WAL's header seq.
	crashed := fs.CrashClone(vfs.CrashCloneOptions{})
	require.NoError(t, db.Close())
	db, err = Open("/db", &Options{FS: crashed})
	require.NoError(t, err)
	require.Positive(t, db.Recovery().Records, "the batches came from the WAL")
	check(db, "replayed")
	require.NoError(t, db.Flush())
	check(db, "flushed")
	require.NoError(t, db.Close())
}

// TestPutSeqKeyCommitOrder: with concurrent writers (group commit), a
// reader never finds a key below one it has already seen, and each
// writer's keys ascend in the order Apply returned.
func TestPutSeqKeyCommitOrder(t *testing.T) {
	db, err := Open("/db", &Options{FS: vfs.NewMem(), MemTableRecords: 500})
	require.NoError(t, err)
	defer db.Close()
	const writers, per = 4, 300
	var wg sync.WaitGroup
	own := make([][]uint64, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				b := db.NewBatch()
				b.Put([]byte(fmt.Sprintf("w%d-%d", w, i)), nil)
				ref := b.PutSeqKey([]byte("f"), []byte{byte(w)})
				if err := db.Apply(b); err != nil {
					t.Error(err)
					return
				}
				own[w] = append(own[w], b.SeqOf(ref))
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	// Each pass reads the whole prefix: the keys at or below the largest
	// one the previous pass saw must be exactly those it saw.
	var seen uint64
	var seenCount int
	for finished := false; !finished; {
		select {
		case <-done:
			finished = true
		default:
		}
		seqs, _ := seqKeys(t, db.NewIter(&IterOptions{Prefix: []byte("f")}), "f")
		n := 0
		for i, s := range seqs {
			if i > 0 {
				require.Greater(t, s, seqs[i-1])
			}
			if s <= seen {
				n++
			}
		}
		require.Equal(t, seenCount, n, "a key at or below %d appeared after a read that saw %d", seen, seen)
		if len(seqs) > 0 {
			seen, seenCount = seqs[len(seqs)-1], len(seqs)
		}
	}
	seqs, values := seqKeys(t, db.NewIter(&IterOptions{Prefix: []byte("f")}), "f")
	require.Len(t, seqs, writers*per)
	byWriter := make([][]uint64, writers)
	for i, v := range values {
		byWriter[v[0]] = append(byWriter[v[0]], seqs[i])
	}
	for w := range writers {
		require.Equal(t, own[w], byWriter[w], "writer %d: keys in its acknowledgement order", w)
	}
}

// TestBatchReaderRejectsBadSeqRef: a SETSEQ entry referring outside its
// batch does not decode.
func TestBatchReaderRejectsBadSeqRef(t *testing.T) {
	b := &Batch{}
	b.PutSeqKey([]byte("f"), []byte("v"))
	b.setSeq(7)
	r, err := newBatchReader(b.data)
	require.NoError(t, err)
	kind, key, value, ok, err := r.next()
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "SET", kind.String())
	require.Equal(t, binary.BigEndian.AppendUint64([]byte("f"), 7), key)
	require.Equal(t, "v", string(value))

	bad := append([]byte(nil), b.data...)
	bad[batchHeaderLen+1] = 1 // ref 1 in a one-entry batch
	r, err = newBatchReader(bad)
	require.NoError(t, err)
	require.ErrorIs(t, r.validate(), errBatchCorrupt)
	require.Panics(t, func() { b.PutSeqKeyOf(5, []byte("f"), nil) })
}

// TestSeqKeysNotCountedForFlush: the record-count flush trigger
// (MemTableRecords) counts a batch's plain entries but not its SETSEQ
// entries, so a change-feed entry per write does not make memtables flush
// twice as often; two plain entries per batch still do.
func TestSeqKeysNotCountedForFlush(t *testing.T) {
	for _, seq := range []bool{true, false} {
		db, err := Open("/db", &Options{FS: vfs.NewMem(), MemTableRecords: 100, DirCheckInterval: -1})
		require.NoError(t, err)
		for i := range 80 {
			b := db.NewBatch()
			b.Put([]byte(fmt.Sprintf("k%03d", i)), []byte("v"))
			if seq {
				b.PutSeqKey([]byte("f"), []byte("c"))
			} else {
				b.Put([]byte(fmt.Sprintf("x%03d", i)), []byte("v"))
			}
			require.NoError(t, db.Apply(b))
		}
		m := db.Metrics()
		if seq {
			require.Equal(t, 160, m.MemTableRecords, "seq keys: the memtable was rotated")
			require.Zero(t, m.ImmutableMemTables+int(m.Flushes))
		} else {
			require.Less(t, m.MemTableRecords, 160, "plain keys: the memtable was not rotated")
		}
		require.NoError(t, db.Close())
	}
}

package memtable

import (
	"math/rand/v2"
	"sync/atomic"

	"github.com/minidbgo/minidbgo/storage/internal/base"
)

// MemTable is a sorted in-memory table of internal keys, ordered by
// base.Compare.
//
// Add must be serialized by the caller: there is one writer at a time. Get,
// NewIter, Len, ApproximateBytes and Empty, and the iterators themselves, may
// run concurrently with Add and with each other; they take no locks. Key and
// value slices handed out by a MemTable stay valid, and unchanged, for its
// lifetime.
type MemTable struct {
	arena  arena
	height atomic.Int32 // levels in use, 1..maxHeight
	count  atomic.Int64
	// uncounted is how many of count were added with AddUncounted.
	uncounted atomic.Int64
	size      atomic.Int64

	w writerState
}

// writerState is touched only by Add, which the caller serializes.
type writerState struct {
	rng *rand.Rand
	// last is the node inserted last, and splice[level] the last node
	// before last's successor at each level.
	last   *node
	splice [maxHeight]*node
}

// New returns an empty MemTable.
func New() *MemTable {
	m := &MemTable{w: writerState{rng: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))}}
	m.arena.init()
	ref, _ := m.arena.allocNode(maxHeight) // the head
	if ref != 0 {
		panic("memtable: head node is not at ref 0")
	}
	m.height.Store(1)
	return m
}

// Len returns the number of entries.
func (m *MemTable) Len() int { return int(m.count.Load()) }

// Records returns the number of entries that count towards the DB's
// record-count flush trigger: Len less those added with AddUncounted.
func (m *MemTable) Records() int { return int(m.count.Load() - m.uncounted.Load()) }

// ApproximateBytes returns the bytes of the keys and values added so far,
// trailers included, plus the size of their skiplist nodes. The DB compares
// it with its memtable size to decide when to flush.
func (m *MemTable) ApproximateBytes() int64 { return m.size.Load() }

// Empty reports whether nothing has been added.
func (m *MemTable) Empty() bool { return m.count.Load() == 0 }

// Add inserts the entry (ukey, seq, kind) -> value, copying ukey and value.
// Adding an internal key that is already present adds a second copy.
//
// Only one goroutine may call Add at a time.
func (m *MemTable) Add(seq base.SeqNum, kind base.Kind, ukey, value []byte) {
	m.insert(base.MakeTrailer(seq, kind), ukey, value)
}

// AddUncounted is Add for an entry that Records leaves out (it still
// counts in Len and ApproximateBytes).
func (m *MemTable) AddUncounted(seq base.SeqNum, kind base.Kind, ukey, value []byte) {
	m.insert(base.MakeTrailer(seq, kind), ukey, value)
	m.uncounted.Add(1)
}

// Get returns the newest entry for ukey with a sequence number <= seq. The
// value of a KindDelete entry is empty.
func (m *MemTable) Get(ukey []byte, seq base.SeqNum) (value []byte, kind base.Kind, found bool) {
	k := makeSearchKey(ukey, base.MakeTrailer(min(seq, base.MaxSeqNum), base.KindMax))
	ref := m.seekGE(&k)
	if ref == 0 {
		return nil, 0, false
	}
	n := m.arena.node(ref)
	if m.compareUserKey(n, &k) != 0 {
		return nil, 0, false
	}
	_, value = m.entry(n)
	return value, base.Kind(n[wTrailer].Load() & 0xff), true
}

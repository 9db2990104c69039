package storage

import (
	"container/list"
	"fmt"
	"sync"

	"github.com/minidbgo/minidbgo/storage/internal/cache"
	"github.com/minidbgo/minidbgo/storage/internal/sstable"
	"github.com/minidbgo/minidbgo/storage/vfs"
)

// tableCache keeps at most max SSTable readers open. A reader in use by an
// iterator or a Get is pinned by a reference and closed only once it has
// been evicted and released.
type tableCache struct {
	fs     vfs.FS
	dir    string
	blocks *cache.Cache
	max    int

	mu      sync.Mutex // protects the fields below
	tables  map[uint64]*tableHandle
	lru     *list.List // of *tableHandle, most recent at the front
	opens   uint64
	evicted uint64
}

// tableHandle is a reference-counted open reader.
type tableHandle struct {
	tc      *tableCache
	fileNum uint64
	r       *sstable.Reader
	refs    int // guarded by tc.mu
	elem    *list.Element
	cached  bool
}

func newTableCache(fs vfs.FS, dir string, blocks *cache.Cache, max int) *tableCache {
	return &tableCache{fs: fs, dir: dir, blocks: blocks, max: max,
		tables: make(map[uint64]*tableHandle), lru: list.New()}
}

// get returns the reader of a table, opening it if needed. The caller must
// call release on the handle.
func (tc *tableCache) get(fileNum, size uint64) (*tableHandle, error) {
	tc.mu.Lock()
	if h, ok := tc.tables[fileNum]; ok {
		h.refs++
		tc.lru.MoveToFront(h.elem)
		tc.mu.Unlock()
		return h, nil
	}
	tc.mu.Unlock()

	// Open outside the lock; two opens of one table may race, and the loser
	// closes its reader.
	r, err := tc.open(fileNum, size)
	if err != nil {
		return nil, err
	}
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if h, ok := tc.tables[fileNum]; ok {
		h.refs++
		tc.lru.MoveToFront(h.elem)
		_ = r.Close()
		return h, nil
	}
	h := &tableHandle{tc: tc, fileNum: fileNum, r: r, refs: 2, cached: true}
	h.elem = tc.lru.PushFront(h)
	tc.tables[fileNum] = h
	tc.opens++
	for tc.lru.Len() > tc.max {
		tc.evictLocked(tc.lru.Back().Value.(*tableHandle))
	}
	return h, nil
}

func (tc *tableCache) open(fileNum, size uint64) (*sstable.Reader, error) {
	path := sstPath(tc.dir, fileNum)
	f, err := tc.fs.Open(path)
	if err != nil {
		return nil, fmt.Errorf("storage: open table %s: %w", sstName(fileNum), err)
	}
	r, err := sstable.Open(f, int64(size), sstable.ReaderOptions{Cache: tc.blocks, FileNum: fileNum, FileName: sstName(fileNum)})
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return r, nil
}

// evictLocked drops the cache's reference. REQUIRES: tc.mu.
func (tc *tableCache) evictLocked(h *tableHandle) {
	if !h.cached {
		return
	}
	h.cached = false
	tc.lru.Remove(h.elem)
	delete(tc.tables, h.fileNum)
	tc.evicted++
	h.refs--
	if h.refs == 0 {
		_ = h.r.Close()
	}
}

// evict closes a table's reader (once unused) and drops its blocks; used
// when the file is deleted.
func (tc *tableCache) evict(fileNum uint64) {
	tc.mu.Lock()
	if h, ok := tc.tables[fileNum]; ok {
		tc.evictLocked(h)
	}
	tc.mu.Unlock()
	tc.blocks.EvictFile(fileNum)
}

func (h *tableHandle) release() {
	tc := h.tc
	tc.mu.Lock()
	h.refs--
	if h.refs == 0 {
		_ = h.r.Close()
	}
	tc.mu.Unlock()
}

// open returns the number of open readers.
func (tc *tableCache) openCount() int {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	return tc.lru.Len()
}

// close closes every cached reader that is not in use.
func (tc *tableCache) close() {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	for tc.lru.Len() > 0 {
		tc.evictLocked(tc.lru.Back().Value.(*tableHandle))
	}
}

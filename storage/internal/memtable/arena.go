package memtable

import (
	"sync/atomic"
)

// Node arena geometry. A nodeRef is chunk<<nodeChunkShift | word offset.
const (
	nodeChunkShift = 13
	nodeChunkWords = 1 << nodeChunkShift // 64 KiB per chunk
	nodeChunkMask  = nodeChunkWords - 1

	// Words of a node before its tower; see the package comment.
	wKey0    = 0 // user key bytes 0-7, big-endian, zero-padded
	wKey1    = 1 // user key bytes 8-15, likewise
	wTrailer = 2 // base trailer: seq<<8 | kind
	wData    = 3 // data chunk<<32 | byte offset of the internal key
	wLens    = 4 // internal key length<<32 | value length
	wTower   = 5 // one link per level: next nodeRef<<32 | next's wKey0>>32

	// inlineKeyLen is how much of a user key the node holds.
	inlineKeyLen = 16

	maxNodeWords = wTower + maxHeight

	// nodeClasses is the number of height classes. Nodes of height h are
	// allocated from class min(h, nodeClasses), so that the nodes a search
	// touches on the upper levels sit close together.
	nodeClasses = 4
)

// Data arena geometry.
const (
	dataChunkSize = 256 << 10
	// Entries larger than this get a chunk of their own, so that a full
	// chunk wastes at most bigEntry bytes at its tail.
	bigEntry = dataChunkSize / 8
)

// nodeRef locates a node in the node arena. The head node is ref 0; nothing
// links to it, so 0 doubles as nil.
type nodeRef uint32

// nodeChunk is one slab of the node arena. It holds no Go pointers, so the
// garbage collector never scans it.
type nodeChunk [nodeChunkWords]atomic.Uint64

// node is a view of a node's words. Only the first wTower+height words belong
// to the node; the rest belong to its neighbours in the chunk.
type node = [maxNodeWords]atomic.Uint64

// arena holds the nodes and the key/value bytes of a memtable. Readers may
// call its read methods concurrently with the single writer's alloc methods.
// Bytes and words, once allocated, are never moved or reused.
type arena struct {
	// Chunk tables. The writer appends to a table in place when it has
	// room and republishes the longer slice; readers index only below the
	// length they loaded. A table is published before any link to a node
	// or byte in its new chunk, so a reader that loads the table after the
	// link always finds the chunk.
	nodeChunks atomic.Pointer[[]*nodeChunk]
	dataChunks atomic.Pointer[[][]byte]

	// Writer-only state.
	classes [nodeClasses]nodeCursor
	dataCur int // index of the chunk small entries go to; -1: none
	dataOff int // next free byte in that chunk
}

// nodeCursor is where a height class allocates its next node.
type nodeCursor struct {
	chunk nodeRef // chunk index
	off   int     // next free word; nodeChunkWords when the class has no chunk
}

func (a *arena) init() {
	a.nodeChunks.Store(&[]*nodeChunk{})
	a.dataChunks.Store(&[][]byte{})
	for i := range a.classes {
		a.classes[i].off = nodeChunkWords
	}
	a.dataCur = -1
}

// node returns the node at ref. It is safe for readers.
func (a *arena) node(ref nodeRef) *node {
	chunks := *a.nodeChunks.Load()
	c := chunks[ref>>nodeChunkShift]
	off := ref & nodeChunkMask
	return (*node)(c[off : off+maxNodeWords])
}

// allocNode returns a zeroed node with room for height tower levels.
// Writer only.
func (a *arena) allocNode(height int) (nodeRef, *node) {
	cur := &a.classes[min(height, nodeClasses)-1]
	// Every node keeps maxNodeWords of its chunk in reach so that node()
	// can view it as a fixed-size array.
	if cur.off+maxNodeWords > nodeChunkWords {
		chunks := *a.nodeChunks.Load()
		if len(chunks) >= 1<<(32-nodeChunkShift) {
			panic("memtable: node arena exhausted")
		}
		chunks = append(chunks, new(nodeChunk))
		a.nodeChunks.Store(&chunks)
		cur.chunk, cur.off = nodeRef(len(chunks)-1), 0
	}
	ref := cur.chunk<<nodeChunkShift | nodeRef(cur.off)
	cur.off += wTower + height
	return ref, a.node(ref)
}

// allocData returns n bytes of arena and their location. Writer only.
func (a *arena) allocData(n int) (loc uint64, b []byte) {
	if n > bigEntry {
		idx := a.addDataChunk(make([]byte, n))
		return uint64(idx) << 32, (*a.dataChunks.Load())[idx]
	}
	if a.dataCur < 0 || a.dataOff+n > dataChunkSize {
		a.dataCur, a.dataOff = a.addDataChunk(make([]byte, dataChunkSize)), 0
	}
	off := a.dataOff
	a.dataOff += n
	c := (*a.dataChunks.Load())[a.dataCur]
	return uint64(a.dataCur)<<32 | uint64(off), c[off : off+n : off+n]
}

// addDataChunk publishes c as a new data chunk and returns its index.
func (a *arena) addDataChunk(c []byte) int {
	chunks := append(*a.dataChunks.Load(), c)
	a.dataChunks.Store(&chunks)
	return len(chunks) - 1
}

// bytes returns the n bytes at loc. It is safe for readers.
func (a *arena) bytes(loc uint64, n uint32) []byte {
	c := (*a.dataChunks.Load())[loc>>32]
	off := uint32(loc)
	return c[off : off+n : off+n]
}

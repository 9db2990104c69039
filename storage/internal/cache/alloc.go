package cache

import (
	"runtime"
	"sync"
	"unsafe"
)

// Block memory is allocated outside the Go heap: in slabs of anonymous
// memory mapped with mmap (see mmap_unix.go), carved into size classes
// that are multiples of classGrain bytes. A block larger than maxSlabSize
// (one holding a very large value) is put on the Go heap. Freed slots go on
// their class's free list and are reused; slabs are unmapped when the
// Cache is closed and every Value has been released, or when the
// allocator becomes unreachable.
const (
	classGrain  = 256
	maxSlabSize = 64 << 10
	numClasses  = maxSlabSize / classGrain
	slabSize    = 256 << 10
)

// classOf returns the size class of an n-byte block (n in 1..maxSlabSize)
// and the size of its slots.
func classOf(n int) (class int, size int) {
	class = (n - 1) / classGrain
	return class, (class + 1) * classGrain
}

// allocator hands out block memory. It is safe for concurrent use.
type allocator struct {
	mu     sync.Mutex // protects the fields below
	free   [numClasses][][]byte
	tail   [numClasses][]byte // the uncarved rest of each class's last slab
	live   int                // slots handed out and not yet released
	closed bool
	maps   *mappings
}

// mappings is every region the allocator mapped. It is separate from the
// allocator so that a cleanup attached to the allocator can unmap them.
type mappings struct {
	mu      sync.Mutex
	regions map[uintptr][]byte // by base address
	bytes   int64
}

func newAllocator() *allocator {
	a := &allocator{maps: &mappings{regions: make(map[uintptr][]byte)}}
	runtime.AddCleanup(a, (*mappings).unmapAll, a.maps)
	return a
}

func (m *mappings) add(b []byte) {
	m.mu.Lock()
	m.regions[uintptr(unsafe.Pointer(unsafe.SliceData(b)))] = b
	m.bytes += int64(len(b))
	m.mu.Unlock()
}

func (m *mappings) mapped() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.bytes
}

func (m *mappings) unmapAll() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, b := range m.regions {
		unmap(b)
		delete(m.regions, k)
	}
	m.bytes = 0
}

// alloc returns a Value of n bytes holding one reference, backed by
// mapped memory, or by the Go heap when mapping fails or the allocator is
// closed.
func (a *allocator) alloc(n int) *Value {
	if n <= 0 {
		return held(&Value{buf: []byte{}, class: heapClass})
	}
	if n > maxSlabSize {
		// Rare (a block holding one very large value): mapping and
		// unmapping a region per block costs more than the heap.
		return heapValue(n)
	}
	class, size := classOf(n)
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return heapValue(n)
	}
	var slot []byte
	if free := a.free[class]; len(free) > 0 {
		slot = free[len(free)-1]
		free[len(free)-1] = nil
		a.free[class] = free[:len(free)-1]
	} else {
		if len(a.tail[class]) < size {
			b := mapRegion(slabSize)
			if b == nil {
				return heapValue(n)
			}
			a.maps.add(b)
			a.tail[class] = b
		}
		slot = a.tail[class][:size:size]
		a.tail[class] = a.tail[class][size:]
	}
	a.live++
	return held(&Value{buf: slot[:n:n], a: a, class: int32(class), slot: size})
}

// release takes back the memory of v, whose last reference is gone.
func (a *allocator) release(v *Value) {
	b := unsafe.Slice(unsafe.SliceData(v.buf), v.slot)
	v.buf = nil
	if poisonFreed {
		copy(b, poison)
	}
	a.mu.Lock()
	a.free[v.class] = append(a.free[v.class], b)
	a.live--
	done := a.closed && a.live == 0
	if done {
		a.dropLocked()
	}
	a.mu.Unlock()
	if done {
		a.maps.unmapAll()
	}
}

// close stops mapping memory; the mappings go once every Value has been
// released.
func (a *allocator) close() {
	a.mu.Lock()
	a.closed = true
	done := a.live == 0
	if done {
		a.dropLocked()
	}
	a.mu.Unlock()
	if done {
		a.maps.unmapAll()
	}
}

// dropLocked forgets the free lists, which point into the mappings about
// to be unmapped. REQUIRES: a.mu.
func (a *allocator) dropLocked() {
	a.free = [numClasses][][]byte{}
	a.tail = [numClasses][]byte{}
}

func heapValue(n int) *Value {
	return held(&Value{buf: make([]byte, n), class: heapClass})
}

// held gives v its first reference.
func held(v *Value) *Value {
	v.refs.Store(1)
	return v
}

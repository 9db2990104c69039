package docstore

import (
	"container/heap"
	"github.com/minidbgo/minidbgo/docstore/internal/jsondoc"

	"github.com/minidbgo/minidbgo/docstore/internal/query"
)

// sortPager serves a sort no index provides. It reads every match once,
// keeping the first skip+limit+1 in sort order in a bounded heap, then
// returns them in order. The heap is bounded in bytes too (maxBytes, at
// the documents' estimated in-memory size): a sort that needs more fails
// with sort_too_large rather than holding whatever skip+limit documents
// add up to.
type sortPager struct {
	m           *matcher
	sort        *query.Sort
	skip, limit int
	started     bool
	sorted      []*match // the results, ascending
	pos         int
	resumeAt    *match // the token's position: only later matches count

	maxBytes int64        // bytes the sort may hold
	bytes    int64        // estimated bytes the sort holds
	mem      MemoryBudget // where reserved comes from, or nil
	reserved int64        // bytes reserved from mem
}

func (c *sortPager) resume(st *cursorState) ([]byte, error) {
	v, err := jsondoc.Parse(st.SortAt, jsondoc.Limits{MaxDepth: 1 << 10})
	if err != nil || v.Kind() != jsondoc.KindObject || st.ID == "" {
		return nil, errBadCursor()
	}
	c.resumeAt = &match{id: st.ID, doc: v}
	return nil, nil // the scan starts over
}

func (c *sortPager) more() (bool, error) { return c.pos < len(c.sorted), nil }

func (c *sortPager) mark(st *cursorState, last *match) {
	st.SortAt = sortFieldsOf(last.doc, c.sort)
	st.ID = last.id
}

func (c *sortPager) close() {
	c.sorted = nil
	if c.mem != nil && c.reserved > 0 {
		c.mem.Release(c.reserved)
		c.reserved = 0
	}
}

func (c *sortPager) next() (*match, error) {
	if !c.started {
		c.started = true
		k := c.skip + c.limit + 1
		h := &matchHeap{s: c.sort}
		for {
			m, err := c.m.next()
			if err != nil {
				return nil, err
			}
			if m == nil {
				break
			}
			if c.resumeAt != nil && h.cmp(m, c.resumeAt) <= 0 {
				continue
			}
			if h.Len() < k {
				if err := c.holdSorted(matchCost(m)); err != nil {
					return nil, err
				}
				heap.Push(h, m)
			} else if h.cmp(m, h.ms[0]) < 0 {
				if err := c.holdSorted(matchCost(m) - matchCost(h.ms[0])); err != nil {
					return nil, err
				}
				h.ms[0] = m
				heap.Fix(h, 0)
			}
		}
		c.sorted = make([]*match, h.Len())
		for i := len(c.sorted) - 1; i >= 0; i-- {
			c.sorted[i] = heap.Pop(h).(*match)
		}
		c.pos = min(c.skip, len(c.sorted))
	}
	if c.pos >= len(c.sorted) {
		return nil, nil
	}
	m := c.sorted[c.pos]
	c.pos++
	return m, nil
}

// holdSorted accounts for delta more bytes held by the sort (negative:
// fewer), reserving from mem as the total grows.
func (c *sortPager) holdSorted(delta int64) error {
	c.bytes += delta
	if c.bytes > c.maxBytes {
		return errf(CodeSortTooLarge,
			"the sort is not served by an index and needs more than its memory limit of %d bytes to hold skip %d + limit %d documents; create an index on the sort fields, page with the cursor instead of skip, or narrow the filter",
			c.maxBytes, c.skip, c.limit)
	}
	if c.mem != nil && c.bytes > c.reserved {
		step := max(int64(sortReserveStep), c.bytes-c.reserved)
		if err := c.mem.Reserve(step); err != nil {
			return err
		}
		c.reserved += step
	}
	return nil
}

// matchCost estimates the memory a match holds: its JSON, keys and
// parsed tree (about one Value per JSON token, bounded here by a
// per-byte factor).
func matchCost(m *match) int64 {
	return int64(len(m.json))*sortCostPerByte + int64(len(m.key)+len(m.id)) + sortCostPerMatch
}

// The constants of matchCost: a parsed document takes a few times its
// JSON's size (Value nodes and member slices), and every match a fixed
// overhead (the match, its heap slot, its slice headers).
const (
	sortCostPerByte  = 4
	sortCostPerMatch = 160
)

// matchHeap is a max-heap by (sort, _id): the root is the first to evict.
type matchHeap struct {
	s  *query.Sort
	ms []*match
}

func (h *matchHeap) cmp(a, b *match) int {
	if r := h.s.Compare(a.doc, b.doc); r != 0 {
		return r
	}
	switch {
	case a.id < b.id:
		return -1
	case a.id > b.id:
		return 1
	}
	return 0
}

func (h *matchHeap) Len() int           { return len(h.ms) }
func (h *matchHeap) Less(i, j int) bool { return h.cmp(h.ms[i], h.ms[j]) > 0 }
func (h *matchHeap) Swap(i, j int)      { h.ms[i], h.ms[j] = h.ms[j], h.ms[i] }
func (h *matchHeap) Push(x any)         { h.ms = append(h.ms, x.(*match)) }
func (h *matchHeap) Pop() any {
	n := len(h.ms) - 1
	x := h.ms[n]
	h.ms = h.ms[:n]
	return x
}

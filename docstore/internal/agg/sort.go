package agg

import (
	"container/heap"
	"slices"

	"github.com/minidbgo/minidbgo/docstore/internal/jsondoc"
	"github.com/minidbgo/minidbgo/docstore/internal/query"
)

// sorter is $sort: documents are buffered up to the memory limit, sorted
// (stably) and, when more follow, spilled as a run; the runs are merged.
// With a limit (a $sort followed by $limit) the buffer is cut back to
// the first limit documents whenever it reaches twice that, so it holds
// at most 2×limit documents: a bounded top-k.
type sorter struct {
	in    Iter
	env   *Env
	s     *query.Sort
	limit int64
	at    string

	started bool
	buf     []jsondoc.Value
	bufSize int64
	pos     int
	runs    []*run
	h       *mergeHeap
	emitted int64
	err     error
	res     reservation
}

func newSorter(in Iter, env *Env, s *query.Sort, limit int64, at string) *sorter {
	return &sorter{in: in, env: env, s: s, limit: limit, at: at, res: reservation{mem: env.Memory}}
}

func (s *sorter) sortBuf() {
	slices.SortStableFunc(s.buf, s.s.Compare)
	if s.limit > 0 && int64(len(s.buf)) > s.limit {
		clear(s.buf[s.limit:])
		s.buf = s.buf[:s.limit]
		s.bufSize = 0
		for _, d := range s.buf {
			s.bufSize += valueSize(d)
		}
	}
}

func (s *sorter) fill() error {
	for {
		if err := s.env.Ctx.Err(); err != nil {
			return err
		}
		d, ok, err := s.in.Next()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		s.buf = append(s.buf, d)
		s.bufSize += valueSize(d)
		if s.limit > 0 && int64(len(s.buf)) >= 2*s.limit {
			s.sortBuf()
		}
		if over, rerr := s.env.overLimit(&s.res, s.bufSize); over {
			if rerr != nil && (s.env.SpillDir == "" || s.res.held < reserveStep) {
				// No room in the shared budget, not even for a run
				// worth writing: the request fails (and may retry).
				return rerr
			}
			if s.env.SpillDir == "" {
				return tooLarge(s.at, s.env.MaxMemory)
			}
			s.sortBuf()
			r, err := newRun(s.env.SpillDir)
			if err != nil {
				return err
			}
			s.runs = append(s.runs, r)
			for _, d := range s.buf {
				if err := r.write(jsondoc.AppendJSON(nil, d)); err != nil {
					return err
				}
			}
			clear(s.buf)
			s.buf, s.bufSize = s.buf[:0], 0
		}
	}
	s.sortBuf()
	if len(s.runs) == 0 {
		return nil
	}
	// Merge the runs and the buffer (the last, newest run).
	s.h = &mergeHeap{s: s.s}
	for i, r := range s.runs {
		if err := r.rewind(); err != nil {
			return err
		}
		if err := s.h.pushFrom(i, r); err != nil {
			return err
		}
	}
	s.h.buf, s.h.bufIdx = s.buf, len(s.runs)
	if len(s.buf) > 0 {
		heap.Push(s.h, mergeItem{doc: s.buf[0], src: len(s.runs)})
		s.h.bufPos = 1
	}
	return nil
}

func (s *sorter) Next() (jsondoc.Value, bool, error) {
	if s.err != nil {
		return jsondoc.Value{}, false, s.err
	}
	if !s.started {
		s.started = true
		if err := s.fill(); err != nil {
			s.err = err
			return jsondoc.Value{}, false, err
		}
	}
	if s.limit > 0 && s.emitted >= s.limit {
		return jsondoc.Value{}, false, nil
	}
	s.emitted++
	if s.h == nil {
		if s.pos >= len(s.buf) {
			s.buf = nil
			s.res.release()
			return jsondoc.Value{}, false, nil
		}
		s.pos++
		return s.buf[s.pos-1], true, nil
	}
	if s.h.Len() == 0 {
		return jsondoc.Value{}, false, nil
	}
	top := heap.Pop(s.h).(mergeItem)
	var err error
	if top.src == s.h.bufIdx {
		if s.h.bufPos < len(s.h.buf) {
			heap.Push(s.h, mergeItem{doc: s.h.buf[s.h.bufPos], src: top.src})
			s.h.bufPos++
		}
	} else {
		err = s.h.pushFrom(top.src, s.runs[top.src])
	}
	if err != nil {
		s.err = err
		return jsondoc.Value{}, false, err
	}
	return top.doc, true, nil
}

func (s *sorter) Close() error {
	s.res.release()
	for _, r := range s.runs {
		r.remove()
	}
	s.runs = nil
	return s.in.Close()
}

type mergeItem struct {
	doc jsondoc.Value
	src int
}

// mergeHeap merges sorted runs; equal documents come from the earlier
// run first, so the merge is stable.
type mergeHeap struct {
	s      *query.Sort
	items  []mergeItem
	buf    []jsondoc.Value
	bufIdx int
	bufPos int
}

func (h *mergeHeap) pushFrom(i int, r *run) error {
	b, err := r.read()
	if err != nil || b == nil {
		return err
	}
	d, err := jsondoc.Parse(b, jsondoc.Limits{MaxDepth: 1 << 10})
	if err != nil {
		return err
	}
	heap.Push(h, mergeItem{doc: d, src: i})
	return nil
}

func (h *mergeHeap) Len() int { return len(h.items) }
func (h *mergeHeap) Less(i, j int) bool {
	c := h.s.Compare(h.items[i].doc, h.items[j].doc)
	if c != 0 {
		return c < 0
	}
	return h.items[i].src < h.items[j].src
}
func (h *mergeHeap) Swap(i, j int) { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *mergeHeap) Push(x any)    { h.items = append(h.items, x.(mergeItem)) }
func (h *mergeHeap) Pop() any {
	n := len(h.items)
	x := h.items[n-1]
	h.items = h.items[:n-1]
	return x
}

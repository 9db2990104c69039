package agg

import (
	"bytes"
	"container/heap"
	"slices"
	"strings"

	"github.com/minidbgo/minidbgo/docstore/internal/jsondoc"
	"github.com/minidbgo/minidbgo/docstore/internal/keyenc"
)

// accumulators lists the $group accumulators.
var accumulators = []string{"$sum", "$avg", "$min", "$max", "$first", "$last", "$push", "$addToSet", "$count"}

type accDef struct {
	op  string
	arg expr
}

type groupSpec struct {
	id    expr
	names []string
	accs  []accDef
}

func parseGroup(spec jsondoc.Value, at string) (*groupSpec, error) {
	if spec.Kind() != jsondoc.KindObject {
		return nil, perr(at, "$group needs an object")
	}
	g := &groupSpec{}
	for _, m := range spec.Members() {
		where := at + "." + m.Key
		if m.Key == "_id" {
			x, err := compileExpr(m.Value, where)
			if err != nil {
				return nil, err
			}
			g.id = x
			continue
		}
		if strings.Contains(m.Key, ".") || strings.HasPrefix(m.Key, "$") || m.Key == "" {
			return nil, perr(where, "a $group field name must not be empty, contain '.' or start with '$'")
		}
		if m.Value.Kind() != jsondoc.KindObject || len(m.Value.Members()) != 1 {
			return nil, perr(where, "a $group field must be an accumulator object such as {\"$sum\": 1}")
		}
		am := m.Value.Members()[0]
		if !slices.Contains(accumulators, am.Key) {
			return nil, perr(where, "unsupported accumulator %s (supported: %s)", am.Key, strings.Join(accumulators, " "))
		}
		var x expr
		if am.Key == "$count" {
			if am.Value.Kind() != jsondoc.KindObject || len(am.Value.Members()) != 0 {
				return nil, perr(where+".$count", "$count takes no argument: {\"$count\": {}}")
			}
		} else {
			if am.Value.Kind() == jsondoc.KindArray {
				return nil, perr(where+"."+am.Key, "the %s accumulator is a unary operator", am.Key)
			}
			var err error
			if x, err = compileExpr(am.Value, where+"."+am.Key); err != nil {
				return nil, err
			}
		}
		g.names = append(g.names, m.Key)
		g.accs = append(g.accs, accDef{op: am.Key, arg: x})
	}
	if g.id == nil {
		return nil, perr(at, "$group needs an _id (null to group everything)")
	}
	return g, nil
}

// acc is an accumulator's partial state.
type acc struct {
	n     num   // $sum, $avg
	count int64 // $avg, $count
	v     jsondoc.Value
	seen  bool
	list  []jsondoc.Value
	set   map[string]struct{}
}

func (a *acc) add(op string, v jsondoc.Value) {
	switch op {
	case "$sum", "$avg":
		if x, ok := numOf(v); ok {
			a.n = addNum(a.n, x)
			a.count++
		}
	case "$count":
		a.n = addNum(a.n, num{isInt: true, i: 1, f: 1})
	case "$min", "$max":
		if isNullish(v) {
			return
		}
		if !a.seen {
			a.v, a.seen = v, true
			return
		}
		if c := jsondoc.Compare(v, a.v); (op == "$min" && c < 0) || (op == "$max" && c > 0) {
			a.v = v
		}
	case "$first":
		if !a.seen {
			a.v, a.seen = v, true
		}
	case "$last":
		a.v, a.seen = v, true
	case "$push":
		if !v.IsMissing() {
			a.list = append(a.list, v)
		}
	case "$addToSet":
		if v.IsMissing() {
			return
		}
		k := string(keyenc.AppendValue(nil, v))
		if a.set == nil {
			a.set = map[string]struct{}{}
		}
		if _, ok := a.set[k]; !ok {
			a.set[k] = struct{}{}
			a.list = append(a.list, v)
		}
	}
}

// merge folds b (from later input) into a.
func (a *acc) merge(op string, b *acc) {
	switch op {
	case "$sum", "$avg", "$count":
		a.n = addNum(a.n, b.n)
		a.count += b.count
	case "$min", "$max":
		if b.seen {
			a.add(op, b.v)
		}
	case "$first":
		if !a.seen {
			a.v, a.seen = b.v, b.seen
		}
	case "$last":
		if b.seen {
			a.v, a.seen = b.v, true
		}
	case "$push":
		a.list = append(a.list, b.list...)
	case "$addToSet":
		for _, v := range b.list {
			a.add(op, v)
		}
	}
}

func (a *acc) result(op string) jsondoc.Value {
	switch op {
	case "$sum", "$count":
		v, err := a.n.value()
		if err != nil {
			return jsondoc.Null()
		}
		return v
	case "$avg":
		if a.count == 0 {
			return jsondoc.Null()
		}
		v, err := jsondoc.Float(a.n.f / float64(a.count))
		if err != nil {
			return jsondoc.Null()
		}
		return v
	case "$min", "$max", "$first", "$last":
		if a.v.IsMissing() {
			return jsondoc.Null()
		}
		return a.v
	}
	if a.list == nil {
		return jsondoc.Array([]jsondoc.Value{})
	}
	return jsondoc.Array(a.list)
}

// state encodes a partial state for a spill run, by accumulator: $sum
// and $count their number (a float sum as [f], even when integral), $avg
// [sum, count], $min $max $first $last [] or [value], $push and
// $addToSet the array of values.
func (a *acc) state(op string) jsondoc.Value {
	sum := func() jsondoc.Value {
		if a.n.isInt {
			return jsondoc.Int(a.n.i)
		}
		v, err := jsondoc.Float(a.n.f)
		if err != nil {
			v = jsondoc.Null()
		}
		return jsondoc.Array([]jsondoc.Value{v})
	}
	switch op {
	case "$sum", "$count":
		return sum()
	case "$avg":
		return jsondoc.Array([]jsondoc.Value{sum(), jsondoc.Int(a.count)})
	case "$min", "$max", "$first", "$last":
		if !a.seen {
			return jsondoc.Array(nil)
		}
		v := a.v
		if v.IsMissing() {
			v = jsondoc.Null()
		}
		return jsondoc.Array([]jsondoc.Value{v})
	}
	return jsondoc.Array(a.list)
}

func accFromState(op string, s jsondoc.Value) acc {
	sum := func(v jsondoc.Value) num {
		if v.Kind() == jsondoc.KindArray && len(v.Elems()) == 1 {
			f, _ := v.Elems()[0].Float64()
			return num{f: f}
		}
		n, _ := numOf(v)
		return n
	}
	var a acc
	switch op {
	case "$sum", "$count":
		a.n = sum(s)
	case "$avg":
		if e := s.Elems(); len(e) == 2 {
			a.n = sum(e[0])
			a.count, _ = e[1].Int64()
		}
	case "$min", "$max", "$first", "$last":
		if e := s.Elems(); len(e) == 1 {
			a.v, a.seen = e[0], true
		}
	case "$addToSet":
		for _, v := range s.Elems() {
			a.add(op, v)
		}
	default:
		a.list = s.Elems()
	}
	return a
}

// groupOverhead and accOverhead are a group's and an accumulator's
// bytes besides their values: the map slot, the group and acc structs.
const (
	groupOverhead = 192
	accOverhead   = 128
)

// size is the bytes an accumulator's values hold, beyond accOverhead.
func (a *acc) size() int64 {
	n := int64(0)
	if a.seen {
		n += valueSize(a.v)
	}
	for _, v := range a.list {
		n += valueSize(v)
	}
	if a.set != nil {
		n += int64(len(a.set)) * 64
	}
	return n
}

type group struct {
	key  string
	id   jsondoc.Value
	accs []acc
}

// grouper is $group: groups are kept in a hash map up to the memory
// limit, then spilled in key order as a run; the runs are merged, folding
// the partial states of one key (in run order, so $first, $last and
// $push keep the input order). Without spilling, groups come out in the
// order their keys were first seen; after a spill, in key order.
type grouper struct {
	in   Iter
	env  *Env
	g    *groupSpec
	at   string
	keyb []byte

	started bool
	groups  map[string]*group
	order   []*group
	size    int64
	pos     int
	runs    []*run
	h       *groupHeap
	err     error
	res     reservation
}

func newGrouper(in Iter, env *Env, g *groupSpec, at string) *grouper {
	return &grouper{in: in, env: env, g: g, at: at, groups: map[string]*group{}, res: reservation{mem: env.Memory}}
}

func (g *grouper) fill() error {
	for n := 0; ; n++ {
		if n%256 == 0 {
			if err := g.env.Ctx.Err(); err != nil {
				return err
			}
		}
		d, ok, err := g.in.Next()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		id, err := g.g.id.eval(d)
		if err != nil {
			return inStage(err, g.at)
		}
		if id.IsMissing() {
			id = jsondoc.Null()
		}
		g.keyb = keyenc.AppendValue(g.keyb[:0], id)
		gr := g.groups[string(g.keyb)]
		if gr == nil {
			gr = &group{key: string(g.keyb), id: id, accs: make([]acc, len(g.g.accs))}
			for i := range gr.accs {
				gr.accs[i].n = num{isInt: true}
			}
			g.groups[gr.key] = gr
			g.order = append(g.order, gr)
			g.size += groupOverhead + 2*int64(len(gr.key)) + valueSize(id) + int64(len(gr.accs))*accOverhead
		}
		for i, a := range g.g.accs {
			var v jsondoc.Value
			if a.arg != nil {
				if v, err = a.arg.eval(d); err != nil {
					return inStage(err, g.at)
				}
			}
			before := gr.accs[i].size()
			gr.accs[i].add(a.op, v)
			g.size += gr.accs[i].size() - before
		}
		if over, rerr := g.env.overLimit(&g.res, g.size); over {
			if rerr != nil && (g.env.SpillDir == "" || g.res.held < reserveStep) {
				// No room in the shared budget, not even for a run
				// worth writing: the request fails (and may retry).
				return rerr
			}
			if g.env.SpillDir == "" {
				return tooLarge(g.at, g.env.MaxMemory)
			}
			if err := g.spill(); err != nil {
				return err
			}
		}
	}
	if len(g.runs) == 0 {
		return nil
	}
	if len(g.order) > 0 {
		if err := g.spill(); err != nil {
			return err
		}
	}
	g.groups, g.order = nil, nil
	// The groups are in the runs now: what the merge holds is small, so
	// the reservation goes back for the stages after this one.
	g.res.release()
	g.h = &groupHeap{}
	for i, r := range g.runs {
		if err := r.rewind(); err != nil {
			return err
		}
		if err := g.h.pushFrom(i, r); err != nil {
			return err
		}
	}
	return nil
}

func (g *grouper) spill() error {
	r, err := newRun(g.env.SpillDir)
	if err != nil {
		return err
	}
	g.runs = append(g.runs, r)
	slices.SortFunc(g.order, func(a, b *group) int { return strings.Compare(a.key, b.key) })
	var buf []byte
	for _, gr := range g.order {
		if err := r.write([]byte(gr.key)); err != nil {
			return err
		}
		st := make([]jsondoc.Value, 0, 1+len(gr.accs))
		st = append(st, gr.id)
		for i, a := range g.g.accs {
			st = append(st, gr.accs[i].state(a.op))
		}
		buf = jsondoc.AppendJSON(buf[:0], jsondoc.Array(st))
		if err := r.write(buf); err != nil {
			return err
		}
	}
	clear(g.groups)
	clear(g.order)
	g.order, g.size = g.order[:0], 0
	return nil
}

func (g *grouper) output(gr *group) jsondoc.Value {
	ms := make([]jsondoc.Member, 0, 1+len(gr.accs))
	ms = append(ms, jsondoc.Member{Key: "_id", Value: gr.id})
	for i, a := range g.g.accs {
		ms = append(ms, jsondoc.Member{Key: g.g.names[i], Value: gr.accs[i].result(a.op)})
	}
	return jsondoc.Object(ms)
}

func (g *grouper) Next() (jsondoc.Value, bool, error) {
	if g.err != nil {
		return jsondoc.Value{}, false, g.err
	}
	if !g.started {
		g.started = true
		if err := g.fill(); err != nil {
			g.err = err
			return jsondoc.Value{}, false, err
		}
	}
	if g.h == nil {
		if g.pos >= len(g.order) {
			g.order = nil
			g.res.release()
			return jsondoc.Value{}, false, nil
		}
		g.pos++
		gr := g.order[g.pos-1]
		g.order[g.pos-1] = nil
		return g.output(gr), true, nil
	}
	if g.h.Len() == 0 {
		return jsondoc.Value{}, false, nil
	}
	// Fold every run's state for the smallest key, in run order.
	first := heap.Pop(g.h).(groupItem)
	items := []groupItem{first}
	for g.h.Len() > 0 && g.h.items[0].key == first.key {
		items = append(items, heap.Pop(g.h).(groupItem))
	}
	slices.SortFunc(items, func(a, b groupItem) int { return a.src - b.src })
	var gr *group
	for _, it := range items {
		part, err := g.decode(it)
		if err != nil {
			g.err = err
			return jsondoc.Value{}, false, err
		}
		if gr == nil {
			gr = part
		} else {
			for i, a := range g.g.accs {
				gr.accs[i].merge(a.op, &part.accs[i])
			}
		}
		if err := g.h.pushFrom(it.src, g.runs[it.src]); err != nil {
			g.err = err
			return jsondoc.Value{}, false, err
		}
	}
	return g.output(gr), true, nil
}

func (g *grouper) decode(it groupItem) (*group, error) {
	v, err := jsondoc.Parse(it.state, jsondoc.Limits{MaxDepth: 1 << 10})
	if err != nil {
		return nil, err
	}
	e := v.Elems()
	gr := &group{key: it.key, id: e[0], accs: make([]acc, len(g.g.accs))}
	for i, a := range g.g.accs {
		gr.accs[i] = accFromState(a.op, e[1+i])
	}
	return gr, nil
}

func (g *grouper) Close() error {
	g.res.release()
	for _, r := range g.runs {
		r.remove()
	}
	g.runs = nil
	return g.in.Close()
}

type groupItem struct {
	key   string
	state []byte
	src   int
}

type groupHeap struct{ items []groupItem }

func (h *groupHeap) pushFrom(i int, r *run) error {
	k, err := r.read()
	if err != nil || k == nil {
		return err
	}
	st, err := r.read()
	if err != nil {
		return err
	}
	heap.Push(h, groupItem{key: string(k), state: st, src: i})
	return nil
}

func (h *groupHeap) Len() int { return len(h.items) }
func (h *groupHeap) Less(i, j int) bool {
	if c := bytes.Compare([]byte(h.items[i].key), []byte(h.items[j].key)); c != 0 {
		return c < 0
	}
	return h.items[i].src < h.items[j].src
}
func (h *groupHeap) Swap(i, j int) { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *groupHeap) Push(x any)    { h.items = append(h.items, x.(groupItem)) }
func (h *groupHeap) Pop() any {
	n := len(h.items)
	x := h.items[n-1]
	h.items = h.items[:n-1]
	return x
}

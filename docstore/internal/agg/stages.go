package agg

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/minidbgo/minidbgo/docstore/internal/jsondoc"
	"github.com/minidbgo/minidbgo/docstore/internal/query"
)

// Iter is a stream of documents.
type Iter interface {
	// Next returns the next document; ok is false at the end or on an
	// error.
	Next() (doc jsondoc.Value, ok bool, err error)
	// Close releases what the stream holds (and its input's).
	Close() error
}

// Env is what running a pipeline needs from its caller.
type Env struct {
	Ctx context.Context
	// MaxMemory bounds the bytes each blocking stage holds.
	MaxMemory int64
	// SpillDir is where blocking stages spill sorted runs; "" disables
	// spilling (a stage over MaxMemory fails with too_large).
	SpillDir string
	// Lookup returns the documents of collection from whose field
	// matches value by equality (null matching null and missing, an
	// array value matching any of its elements). It may use an index.
	Lookup func(from, field string, value jsondoc.Value, each func(jsondoc.Value) error) error
	// Memory, when set, is memory shared with other requests (a server's
	// in-flight budget): blocking stages reserve what they hold from it
	// as they grow (in steps of reserveStep) and release it when closed.
	// When a reservation fails, a stage spills early, or fails with the
	// reservation's error when it cannot spill.
	Memory Memory
}

// Memory is memory shared by concurrent requests.
type Memory interface {
	Reserve(n int64) error
	Release(n int64)
}

// reserveStep is the least a stage reserves from Env.Memory at a time.
const reserveStep = 256 << 10

// reservation is what one stage holds of Env.Memory.
type reservation struct {
	mem  Memory
	held int64
}

// need makes the reservation at least n bytes.
func (r *reservation) need(n int64) error {
	if r.mem == nil || n <= r.held {
		return nil
	}
	step := max(n-r.held, reserveStep)
	if err := r.mem.Reserve(step); err != nil {
		return err
	}
	r.held += step
	return nil
}

func (r *reservation) release() {
	if r.mem != nil && r.held > 0 {
		r.mem.Release(r.held)
		r.held = 0
	}
}

// overLimit reports whether a stage holding size bytes must spill (or
// fail): over MaxMemory, or refused by Env.Memory. err is the refusal.
func (env *Env) overLimit(r *reservation, size int64) (over bool, err error) {
	if size > env.MaxMemory {
		return true, nil
	}
	if err := r.need(size); err != nil {
		return true, err
	}
	return false, nil
}

// Stage is one compiled stage.
type Stage struct {
	Name string        // "$match", …
	Spec jsondoc.Value // as given
	at   string
	open func(in Iter, env *Env) Iter

	filter   *query.Filter // $match
	sort     *query.Sort   // $sort
	limit    int64         // $limit
	blocking bool
	// deps, when set, returns the top-level fields the stage reads (see
	// Pipeline.Fields); stages that pass other fields through have none.
	deps func() ([]string, bool)
}

// At names the stage for messages: "stage 2 ($group)".
func (s *Stage) At() string { return s.at }

// Filter returns a $match stage's filter (nil for other stages).
func (s *Stage) Filter() *query.Filter { return s.filter }

// Sort returns a $sort stage's sort (nil for other stages).
func (s *Stage) Sort() *query.Sort { return s.sort }

// Blocking reports whether the stage reads all its input before its
// first output.
func (s *Stage) Blocking() bool { return s.blocking }

// Pipeline is a parsed pipeline.
type Pipeline struct {
	Stages []*Stage
}

// Stages lists the supported stage names.
var StageNames = []string{"$match", "$project", "$addFields", "$set", "$unset", "$sort", "$skip", "$limit",
	"$count", "$unwind", "$group", "$sortByCount", "$replaceRoot", "$replaceWith", "$lookup", "$facet"}

// Parse compiles a pipeline: a JSON array of one-field stage objects.
func Parse(v jsondoc.Value) (*Pipeline, error) {
	return parse(v, 0)
}

func parse(v jsondoc.Value, depth int) (*Pipeline, error) {
	if v.Kind() != jsondoc.KindArray {
		return nil, perr("pipeline", "a pipeline must be an array of stages, got %s", jsondoc.TypeName(v))
	}
	p := &Pipeline{}
	for i, sv := range v.Elems() {
		st, err := parseStage(sv, i, depth)
		if err != nil {
			return nil, err
		}
		p.Stages = append(p.Stages, st)
	}
	return p, nil
}

func parseStage(v jsondoc.Value, i, depth int) (*Stage, error) {
	at := "stage " + strconv.Itoa(i)
	if v.Kind() != jsondoc.KindObject || len(v.Members()) != 1 {
		return nil, perr(at, "a stage must be an object with exactly one field, such as {\"$match\": {...}}")
	}
	m := v.Members()[0]
	name, spec := m.Key, m.Value
	at += " (" + name + ")"
	st := &Stage{Name: name, Spec: spec, at: at}
	switch name {
	case "$match":
		if spec.Kind() != jsondoc.KindObject {
			return nil, perr(at, "$match needs a filter object, got %s", jsondoc.TypeName(spec))
		}
		f, err := query.ParseFilter(spec)
		if err != nil {
			return nil, perr(at, "%v", err)
		}
		st.filter = f
		st.open = func(in Iter, env *Env) Iter {
			return &mapIter{in: in, fn: func(d jsondoc.Value) (jsondoc.Value, bool, error) { return d, f.Match(d), nil }}
		}
	case "$project":
		p, err := parseProject(spec, at)
		if err != nil {
			return nil, err
		}
		st.deps = func() ([]string, bool) { return projectDeps(p) }
		st.open = func(in Iter, env *Env) Iter {
			return &mapIter{in: in, at: at, fn: func(d jsondoc.Value) (jsondoc.Value, bool, error) {
				r, err := p.apply(d)
				return r, true, err
			}}
		}
	case "$unset":
		var paths []jsondoc.Value
		switch spec.Kind() {
		case jsondoc.KindString:
			paths = []jsondoc.Value{spec}
		case jsondoc.KindArray:
			paths = spec.Elems()
		}
		if len(paths) == 0 {
			return nil, perr(at, "$unset needs a field path or a non-empty array of them")
		}
		root := &projNode{}
		for _, pv := range paths {
			if pv.Kind() != jsondoc.KindString {
				return nil, perr(at, "$unset takes field paths as strings, got %s", jsondoc.TypeName(pv))
			}
			if err := root.add(strings.Split(pv.Str(), "."), &projItem{exclude: true}, at); err != nil {
				return nil, err
			}
		}
		st.open = func(in Iter, env *Env) Iter {
			return &mapIter{in: in, fn: func(d jsondoc.Value) (jsondoc.Value, bool, error) { return excludeApply(root, d), true, nil }}
		}
	case "$addFields", "$set":
		fields, err := parseAddFields(spec, at, name)
		if err != nil {
			return nil, err
		}
		st.open = func(in Iter, env *Env) Iter {
			return &mapIter{in: in, at: at, fn: func(d jsondoc.Value) (jsondoc.Value, bool, error) {
				r, err := applyAddFields(fields, d)
				return r, true, err
			}}
		}
	case "$replaceRoot", "$replaceWith":
		ev := spec
		if name == "$replaceRoot" {
			nr, ok := spec.Field("newRoot")
			if spec.Kind() != jsondoc.KindObject || len(spec.Members()) != 1 || !ok {
				return nil, perr(at, "$replaceRoot needs {\"newRoot\": <expression>}")
			}
			ev = nr
		}
		x, err := compileExpr(ev, at)
		if err != nil {
			return nil, err
		}
		st.open = func(in Iter, env *Env) Iter {
			return &mapIter{in: in, at: at, fn: func(d jsondoc.Value) (jsondoc.Value, bool, error) {
				r, err := x.eval(d)
				if err != nil {
					return r, false, err
				}
				if r.Kind() != jsondoc.KindObject {
					return r, false, eerr("%s: the new root must be an object, got %s", name, jsondoc.TypeName(r))
				}
				return r, true, nil
			}}
		}
	case "$skip", "$limit":
		n, ok := spec.Int64()
		if !ok || !jsondoc.IsInteger(spec) || n < 0 || (name == "$limit" && n == 0) {
			if name == "$limit" {
				return nil, perr(at, "$limit needs a positive integer, got %s", spec)
			}
			return nil, perr(at, "$skip needs a non-negative integer, got %s", spec)
		}
		if name == "$skip" {
			st.open = func(in Iter, env *Env) Iter { return &skipIter{in: in, n: n} }
		} else {
			st.limit = n
			st.open = func(in Iter, env *Env) Iter { return &limitIter{in: in, n: n} }
		}
	case "$sort":
		s, err := query.ParseSort(spec)
		if err != nil || len(s.Fields()) == 0 {
			if err == nil {
				err = fmt.Errorf("$sort needs at least one field")
			}
			return nil, perr(at, "%v", err)
		}
		st.sort, st.blocking = s, true
		st.open = func(in Iter, env *Env) Iter { return newSorter(in, env, s, 0, at) }
	case "$count":
		f := spec.Str()
		if spec.Kind() != jsondoc.KindString || f == "" || strings.HasPrefix(f, "$") || strings.Contains(f, ".") {
			return nil, perr(at, "$count needs a non-empty field name without '$' or '.', got %s", spec)
		}
		st.blocking = true
		st.deps = func() ([]string, bool) { return []string{}, true }
		st.open = func(in Iter, env *Env) Iter { return &countIter{in: in, field: f} }
	case "$unwind":
		u, err := parseUnwind(spec, at)
		if err != nil {
			return nil, err
		}
		st.open = func(in Iter, env *Env) Iter { return &unwindIter{in: in, u: u} }
	case "$group":
		g, err := parseGroup(spec, at)
		if err != nil {
			return nil, err
		}
		st.blocking = true
		st.deps = func() ([]string, bool) { return groupDeps(g) }
		st.open = func(in Iter, env *Env) Iter { return newGrouper(in, env, g, at) }
	case "$sortByCount":
		x, err := compileExpr(spec, at)
		if err != nil {
			return nil, err
		}
		if _, isPath := x.(fieldPath); !isPath {
			if _, isOp := x.(*opExpr); !isOp {
				return nil, perr(at, "$sortByCount needs a field path or an operator expression")
			}
		}
		g := &groupSpec{id: x, names: []string{"count"}, accs: []accDef{{op: "$sum", arg: literal{jsondoc.Int(1)}}}}
		s, _ := query.ParseSort(jsondoc.Object([]jsondoc.Member{{Key: "count", Value: jsondoc.Int(-1)}}))
		st.blocking = true
		st.deps = func() ([]string, bool) { return groupDeps(g) }
		st.open = func(in Iter, env *Env) Iter {
			return newSorter(newGrouper(in, env, g, at), env, s, 0, at)
		}
	case "$lookup":
		lk, err := parseLookup(spec, at)
		if err != nil {
			return nil, err
		}
		st.open = func(in Iter, env *Env) Iter { return &lookupIter{in: in, env: env, lk: lk, at: at} }
	case "$facet":
		if depth > 0 {
			return nil, perr(at, "$facet cannot be used inside $facet")
		}
		f, err := parseFacet(spec, at)
		if err != nil {
			return nil, err
		}
		st.blocking = true
		st.open = func(in Iter, env *Env) Iter { return newFacetIter(in, env, f, at) }
	default:
		return nil, perr(at, "unsupported stage %s (supported: %s)", name, strings.Join(StageNames, " "))
	}
	return st, nil
}

// Open chains the stages from i on over in.
func (p *Pipeline) Open(in Iter, env *Env, from int) Iter {
	it := in
	for i := from; i < len(p.Stages); i++ {
		st := p.Stages[i]
		if st.sort != nil && i+1 < len(p.Stages) && p.Stages[i+1].limit > 0 {
			// $sort + $limit: keep only the first limit documents.
			it = newSorter(it, env, st.sort, p.Stages[i+1].limit, st.at)
			i++
			continue
		}
		it = st.open(it, env)
	}
	return it
}

// mapIter applies fn to each document; fn's false drops the document.
type mapIter struct {
	in Iter
	at string
	fn func(jsondoc.Value) (jsondoc.Value, bool, error)
}

func (m *mapIter) Next() (jsondoc.Value, bool, error) {
	for {
		d, ok, err := m.in.Next()
		if !ok {
			return d, ok, err
		}
		r, keep, err := m.fn(d)
		if err != nil {
			return r, false, inStage(err, m.at)
		}
		if keep {
			return r, true, nil
		}
	}
}

func (m *mapIter) Close() error { return m.in.Close() }

type skipIter struct {
	in Iter
	n  int64
}

func (s *skipIter) Next() (jsondoc.Value, bool, error) {
	for ; s.n > 0; s.n-- {
		if d, ok, err := s.in.Next(); !ok {
			return d, ok, err
		}
	}
	return s.in.Next()
}

func (s *skipIter) Close() error { return s.in.Close() }

type limitIter struct {
	in Iter
	n  int64
}

func (l *limitIter) Next() (jsondoc.Value, bool, error) {
	if l.n <= 0 {
		return jsondoc.Value{}, false, nil
	}
	l.n--
	return l.in.Next()
}

func (l *limitIter) Close() error { return l.in.Close() }

type countIter struct {
	in    Iter
	field string
	done  bool
}

func (c *countIter) Next() (jsondoc.Value, bool, error) {
	if c.done {
		return jsondoc.Value{}, false, nil
	}
	c.done = true
	var n int64
	for {
		_, ok, err := c.in.Next()
		if err != nil {
			return jsondoc.Value{}, false, err
		}
		if !ok {
			break
		}
		n++
	}
	if n == 0 {
		return jsondoc.Value{}, false, nil // MongoDB: no document for no input
	}
	return jsondoc.Object([]jsondoc.Member{{Key: c.field, Value: jsondoc.Int(n)}}), true, nil
}

func (c *countIter) Close() error { return c.in.Close() }

// sliceIter streams a slice.
type sliceIter struct {
	docs []jsondoc.Value
	i    int
}

func (s *sliceIter) Next() (jsondoc.Value, bool, error) {
	if s.i >= len(s.docs) {
		return jsondoc.Value{}, false, nil
	}
	s.i++
	return s.docs[s.i-1], true, nil
}

func (s *sliceIter) Close() error { return nil }

// SliceIter returns an Iter over docs.
func SliceIter(docs []jsondoc.Value) Iter { return &sliceIter{docs: docs} }

type unwindSpec struct {
	segs     []string
	index    string
	preserve bool
}

func parseUnwind(spec jsondoc.Value, at string) (*unwindSpec, error) {
	u := &unwindSpec{}
	path := spec
	if spec.Kind() == jsondoc.KindObject {
		path = jsondoc.Missing()
		for _, m := range spec.Members() {
			switch m.Key {
			case "path":
				path = m.Value
			case "includeArrayIndex":
				s := m.Value.Str()
				if m.Value.Kind() != jsondoc.KindString || s == "" || strings.HasPrefix(s, "$") {
					return nil, perr(at, "includeArrayIndex must be a field name not starting with '$'")
				}
				u.index = s
			case "preserveNullAndEmptyArrays":
				if m.Value.Kind() != jsondoc.KindBool {
					return nil, perr(at, "preserveNullAndEmptyArrays must be true or false")
				}
				u.preserve = m.Value.BoolValue()
			default:
				return nil, perr(at, "unknown $unwind option %q", m.Key)
			}
		}
	}
	if path.Kind() != jsondoc.KindString || !strings.HasPrefix(path.Str(), "$") || len(path.Str()) < 2 || strings.HasPrefix(path.Str(), "$$") {
		return nil, perr(at, "$unwind needs a field path such as \"$tags\"")
	}
	u.segs = strings.Split(path.Str()[1:], ".")
	for _, s := range u.segs {
		if s == "" {
			return nil, perr(at, "invalid field path %s", path)
		}
	}
	return u, nil
}

type unwindIter struct {
	in   Iter
	u    *unwindSpec
	doc  jsondoc.Value
	arr  []jsondoc.Value
	next int
}

func (w *unwindIter) Next() (jsondoc.Value, bool, error) {
	for {
		if w.next < len(w.arr) {
			i := w.next
			w.next++
			out := setPathAgg(w.doc, w.u.segs, w.arr[i])
			if w.u.index != "" {
				out = setPathAgg(out, strings.Split(w.u.index, "."), jsondoc.Int(int64(i)))
			}
			return out, true, nil
		}
		d, ok, err := w.in.Next()
		if !ok {
			return d, ok, err
		}
		v := lookupPlain(d, w.u.segs)
		switch {
		case v.Kind() == jsondoc.KindArray && len(v.Elems()) > 0:
			w.doc, w.arr, w.next = d, v.Elems(), 0
			continue
		case v.Kind() == jsondoc.KindArray || isNullish(v):
			if !w.u.preserve {
				continue
			}
			out := d
			if v.Kind() == jsondoc.KindArray {
				out = setPathAgg(d, w.u.segs, jsondoc.Missing())
			}
			if w.u.index != "" {
				out = setPathAgg(out, strings.Split(w.u.index, "."), jsondoc.Null())
			}
			return out, true, nil
		default:
			out := d
			if w.u.index != "" {
				out = setPathAgg(out, strings.Split(w.u.index, "."), jsondoc.Null())
			}
			return out, true, nil
		}
	}
}

func (w *unwindIter) Close() error { return w.in.Close() }

// lookupPlain follows a path through objects only.
func lookupPlain(v jsondoc.Value, segs []string) jsondoc.Value {
	for _, s := range segs {
		if v.Kind() != jsondoc.KindObject {
			return jsondoc.Missing()
		}
		v, _ = v.Field(s)
	}
	return v
}

type lookupSpec struct {
	from, local, foreign, as string
}

func parseLookup(spec jsondoc.Value, at string) (*lookupSpec, error) {
	if spec.Kind() != jsondoc.KindObject {
		return nil, perr(at, "$lookup needs an object with from, localField, foreignField and as")
	}
	lk := &lookupSpec{}
	for _, m := range spec.Members() {
		switch m.Key {
		case "from", "localField", "foreignField", "as":
			if m.Value.Kind() != jsondoc.KindString || m.Value.Str() == "" {
				return nil, perr(at, "$lookup option %q must be a non-empty string", m.Key)
			}
		}
		switch m.Key {
		case "from":
			lk.from = m.Value.Str()
		case "localField":
			lk.local = m.Value.Str()
		case "foreignField":
			lk.foreign = m.Value.Str()
		case "as":
			lk.as = m.Value.Str()
		default:
			return nil, perr(at, "unsupported $lookup option %q (only from, localField, foreignField and as: equality lookups)", m.Key)
		}
	}
	if lk.from == "" || lk.local == "" || lk.foreign == "" || lk.as == "" {
		return nil, perr(at, "$lookup needs from, localField, foreignField and as")
	}
	if strings.HasPrefix(lk.as, "$") {
		return nil, perr(at, "$lookup's as must be a field name not starting with '$'")
	}
	return lk, nil
}

type lookupIter struct {
	in  Iter
	env *Env
	lk  *lookupSpec
	at  string
}

func (l *lookupIter) Next() (jsondoc.Value, bool, error) {
	d, ok, err := l.in.Next()
	if !ok {
		return d, ok, err
	}
	local := getPath(d, strings.Split(l.lk.local, "."))
	if local.IsMissing() {
		local = jsondoc.Null()
	}
	if l.env.Lookup == nil {
		return d, false, &Error{Code: CodeInvalidPipeline, Msg: l.at + ": $lookup is not available here"}
	}
	var found []jsondoc.Value
	var size int64
	err = l.env.Lookup(l.lk.from, l.lk.foreign, local, func(f jsondoc.Value) error {
		size += valueSize(f)
		if size > l.env.MaxMemory {
			return &Error{Code: CodeTooLarge, Msg: fmt.Sprintf("%s: the documents joined to one document are over the %d-byte memory limit", l.at, l.env.MaxMemory)}
		}
		found = append(found, f)
		return nil
	})
	if err != nil {
		return d, false, err
	}
	if found == nil {
		found = []jsondoc.Value{}
	}
	return setPathAgg(d, strings.Split(l.lk.as, "."), jsondoc.Array(found)), true, nil
}

func (l *lookupIter) Close() error { return l.in.Close() }

// valueSize estimates v's in-memory bytes.
func valueSize(v jsondoc.Value) int64 {
	n := int64(48)
	switch v.Kind() {
	case jsondoc.KindString:
		n += int64(len(v.Str()))
	case jsondoc.KindNumber:
		n += int64(len(v.NumberLiteral()))
	case jsondoc.KindArray:
		for _, e := range v.Elems() {
			n += valueSize(e)
		}
	case jsondoc.KindObject:
		for _, m := range v.Members() {
			n += int64(len(m.Key)) + 16 + valueSize(m.Value)
		}
	}
	return n
}

// Fields returns the top-level fields of the input documents that the
// stages from index from on read, when that is known: the pipeline then
// starts (after any $match, $skip and $limit) with $group, $sortByCount,
// $count or an inclusion $project that does not read $$ROOT whole. ok is
// false when the stages need whole documents.
func (p *Pipeline) Fields(from int) (fields []string, ok bool) {
	set := map[string]bool{}
	add := func(fs []string) {
		for _, f := range fs {
			set[f] = true
		}
	}
	for i := from; i < len(p.Stages); i++ {
		st := p.Stages[i]
		switch {
		case st.filter != nil:
			add(st.filter.TopLevelFields())
			continue
		case st.Name == "$skip" || st.Name == "$limit":
			continue
		case st.deps != nil:
			fs, ok := st.deps()
			if !ok {
				return nil, false
			}
			add(fs)
			out := make([]string, 0, len(set))
			for f := range set {
				out = append(out, f)
			}
			return out, true
		}
		return nil, false
	}
	return nil, false
}

// exprDeps adds to fs the top-level fields x reads; false when it reads
// the whole document ($$ROOT).
func exprDeps(x expr, fs *[]string) bool {
	switch e := x.(type) {
	case nil, literal:
		return true
	case fieldPath:
		if len(e.segs) == 0 {
			return false
		}
		*fs = append(*fs, e.segs[0])
		return true
	case *objectExpr:
		for _, c := range e.exprs {
			if !exprDeps(c, fs) {
				return false
			}
		}
		return true
	case *arrayExpr:
		for _, c := range e.exprs {
			if !exprDeps(c, fs) {
				return false
			}
		}
		return true
	case *opExpr:
		for _, c := range e.args {
			if !exprDeps(c, fs) {
				return false
			}
		}
		return true
	}
	return false
}

func groupDeps(g *groupSpec) ([]string, bool) {
	var fs []string
	if !exprDeps(g.id, &fs) {
		return nil, false
	}
	for _, a := range g.accs {
		if !exprDeps(a.arg, &fs) {
			return nil, false
		}
	}
	return fs, true
}

func projectDeps(p *projection) ([]string, bool) {
	if p.exclusion {
		return nil, false
	}
	fs := []string{"_id"}
	var walk func(n *projNode, top bool) bool
	walk = func(n *projNode, top bool) bool {
		for i, k := range n.keys {
			it := n.items[i]
			if top {
				fs = append(fs, k)
			}
			if it.expr != nil && !exprDeps(it.expr, &fs) {
				return false
			}
			if it.sub != nil && !walk(it.sub, false) {
				return false
			}
		}
		return true
	}
	if !walk(p.root, true) {
		return nil, false
	}
	return fs, true
}

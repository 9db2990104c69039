package agg

import (
	"fmt"
	"strings"

	"github.com/minidbgo/minidbgo/docstore/internal/jsondoc"
)

type facetSpec struct {
	names []string
	pipes []*Pipeline
}

func parseFacet(spec jsondoc.Value, at string) (*facetSpec, error) {
	if spec.Kind() != jsondoc.KindObject || len(spec.Members()) == 0 {
		return nil, perr(at, "$facet needs a non-empty object of named pipelines")
	}
	f := &facetSpec{}
	for _, m := range spec.Members() {
		if m.Key == "" || strings.HasPrefix(m.Key, "$") || strings.Contains(m.Key, ".") {
			return nil, perr(at, "invalid $facet name %q", m.Key)
		}
		p, err := parse(m.Value, 1)
		if err != nil {
			if e, ok := err.(*Error); ok {
				return nil, &Error{Code: e.Code, Msg: at + "." + m.Key + ": " + e.Msg}
			}
			return nil, err
		}
		f.names = append(f.names, m.Key)
		f.pipes = append(f.pipes, p)
	}
	return f, nil
}

// facetIter is $facet: its input is buffered (in memory up to the limit,
// then in a spill run) and replayed into each sub-pipeline; the one
// output document holds each sub-pipeline's results, which must fit in
// the memory limit.
type facetIter struct {
	in   Iter
	env  *Env
	f    *facetSpec
	at   string
	done bool
	run  *run
	res  reservation
}

func newFacetIter(in Iter, env *Env, f *facetSpec, at string) *facetIter {
	return &facetIter{in: in, env: env, f: f, at: at, res: reservation{mem: env.Memory}}
}

func (fi *facetIter) Next() (jsondoc.Value, bool, error) {
	if fi.done {
		return jsondoc.Value{}, false, nil
	}
	fi.done = true
	var docs []jsondoc.Value
	var size int64
	for {
		d, ok, err := fi.in.Next()
		if err != nil {
			return d, false, err
		}
		if !ok {
			break
		}
		if fi.run != nil {
			if err := fi.run.write(jsondoc.AppendJSON(nil, d)); err != nil {
				return d, false, err
			}
			continue
		}
		docs = append(docs, d)
		size += valueSize(d)
		if over, rerr := fi.env.overLimit(&fi.res, size); over {
			if rerr != nil && (fi.env.SpillDir == "" || fi.res.held < reserveStep) {
				// No room in the shared budget, not even for a run
				// worth writing: the request fails (and may retry).
				return d, false, rerr
			}
			if fi.env.SpillDir == "" {
				return d, false, tooLarge(fi.at, fi.env.MaxMemory)
			}
			r, err := newRun(fi.env.SpillDir)
			if err != nil {
				return d, false, err
			}
			fi.run = r
			for _, x := range docs {
				if err := r.write(jsondoc.AppendJSON(nil, x)); err != nil {
					return d, false, err
				}
			}
			docs = nil
		}
	}
	out := make([]jsondoc.Member, 0, len(fi.f.names))
	var outSize int64
	for i, p := range fi.f.pipes {
		var src Iter
		if fi.run != nil {
			if err := fi.run.rewind(); err != nil {
				return jsondoc.Value{}, false, err
			}
			src = &runIter{r: fi.run}
		} else {
			src = SliceIter(docs)
		}
		it := p.Open(src, fi.env, 0)
		res := []jsondoc.Value{}
		for {
			d, ok, err := it.Next()
			if err != nil {
				_ = it.Close()
				return d, false, err
			}
			if !ok {
				break
			}
			outSize += valueSize(d)
			if outSize > fi.env.MaxMemory {
				_ = it.Close()
				return d, false, &Error{Code: CodeTooLarge, Msg: fmt.Sprintf("%s: the results of the facets are over the %d-byte memory limit", fi.at, fi.env.MaxMemory)}
			}
			res = append(res, d)
		}
		if err := it.Close(); err != nil {
			return jsondoc.Value{}, false, err
		}
		out = append(out, jsondoc.Member{Key: fi.f.names[i], Value: jsondoc.Array(res)})
	}
	return jsondoc.Object(out), true, nil
}

func (fi *facetIter) Close() error {
	fi.res.release()
	if fi.run != nil {
		fi.run.remove()
	}
	return fi.in.Close()
}

// runIter reads the documents of a run; closing it leaves the run.
type runIter struct{ r *run }

func (ri *runIter) Next() (jsondoc.Value, bool, error) {
	b, err := ri.r.read()
	if err != nil || b == nil {
		return jsondoc.Value{}, false, err
	}
	d, err := jsondoc.Parse(b, jsondoc.Limits{MaxDepth: 1 << 10})
	return d, err == nil, err
}

func (ri *runIter) Close() error { return nil }

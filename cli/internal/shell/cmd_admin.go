package shell

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/minidbgo/minidbgo/docstore"
	"github.com/minidbgo/minidbgo/httpd/client/api"
)

func cmdCompact(s *Shell, ctx context.Context, _ string, _ []arg) error {
	if err := s.be.compact(ctx); err != nil {
		return err
	}
	return s.out.value(struct {
		Compacted bool `json:"compacted"`
	}{true})
}

func cmdShowCollections(s *Shell, ctx context.Context, _ string, _ []arg) error {
	cols, err := s.be.collections(ctx)
	if err != nil {
		return err
	}
	for _, c := range cols {
		s.out.line("%s", c.Name)
	}
	return nil
}

// indexRequest turns createIndex's arguments into the REST API's index
// request, checked and named by docstore.ParseIndexSpec (as the server
// checks it), so both backends see the same request. keys is
// {"a": 1, "b": -1}, a list "a,-b", or a full spec with "fields" or
// "keys".
func indexRequest(keys arg, opts []byte) (api.IndexRequest, error) {
	spec := map[string]json.RawMessage{}
	switch {
	case !keys.json:
		var fields []string
		for _, f := range strings.Split(keys.text, ",") {
			if f = strings.TrimSpace(f); f != "" {
				fields = append(fields, f)
			}
		}
		spec["fields"], _ = json.Marshal(fields)
	case keys.text[0] != '{':
		return api.IndexRequest{}, &cmdError{code: "invalid_index", msg: `index keys must be an object like {"price": 1} or a list like price,-name`}
	default:
		var m map[string]json.RawMessage
		if err := json.Unmarshal([]byte(keys.text), &m); err != nil {
			return api.IndexRequest{}, &cmdError{code: "invalid_index", msg: err.Error()}
		}
		_, hasFields := m["fields"]
		_, hasKeys := m["keys"]
		if hasFields || hasKeys {
			spec = m
		} else {
			spec["keys"] = json.RawMessage(keys.text)
		}
	}
	if opts != nil {
		var o map[string]json.RawMessage
		if err := json.Unmarshal(opts, &o); err != nil {
			return api.IndexRequest{}, &cmdError{code: "invalid_options", msg: `index options must be an object like {"unique": true, "name": "by_email"}`}
		}
		for k, v := range o {
			if k != "unique" && k != "name" && k != "expireAfterSeconds" {
				return api.IndexRequest{}, &cmdError{code: "invalid_options", msg: fmt.Sprintf("unknown index option %q (want unique, name, expireAfterSeconds)", k)}
			}
			spec[k] = v
		}
	}
	body, err := marshalOrdered(spec, "name", "fields", "keys", "unique", "expireAfterSeconds")
	if err != nil {
		return api.IndexRequest{}, err
	}
	parsed, err := docstore.ParseIndexSpec(body)
	if err != nil {
		return api.IndexRequest{}, err
	}
	req := api.IndexRequest{Name: parsed.Name, Unique: parsed.Unique, ExpireAfterSeconds: parsed.ExpireAfterSeconds}
	for _, f := range parsed.Fields {
		if f.Desc {
			req.Fields = append(req.Fields, "-"+f.Path)
		} else {
			req.Fields = append(req.Fields, f.Path)
		}
	}
	return req, nil
}

// marshalOrdered encodes m with the given keys first, in order, then the
// rest (which ParseIndexSpec will reject by name).
func marshalOrdered(m map[string]json.RawMessage, order ...string) ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	n := 0
	put := func(k string, v json.RawMessage) {
		if n > 0 {
			b.WriteByte(',')
		}
		kj, _ := json.Marshal(k)
		b.Write(kj)
		b.WriteByte(':')
		b.Write(v)
		n++
	}
	for _, k := range order {
		if v, ok := m[k]; ok {
			put(k, v)
			delete(m, k)
		}
	}
	for k, v := range m {
		put(k, v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func cmdCreateIndex(s *Shell, ctx context.Context, col string, args []arg) error {
	req, err := indexRequest(args[0], optArg(args, 1))
	if err != nil {
		return err
	}
	bar := newProgress(s.progress, s.errw, "createIndex "+req.Name, 0)
	var last int64
	ix, err := s.be.createIndex(ctx, col, req, func(done int64) {
		bar.add(0, done-last)
		last = done
	})
	bar.done()
	if err != nil {
		return err
	}
	return s.out.value(ix)
}

func cmdListIndexes(s *Shell, ctx context.Context, col string, _ []arg) error {
	ixs, err := s.be.listIndexes(ctx, col)
	if err != nil {
		return err
	}
	if ixs == nil {
		ixs = []api.Index{}
	}
	return s.out.value(ixs)
}

func cmdDropIndex(s *Shell, ctx context.Context, col string, args []arg) error {
	name := args[0].text
	if err := s.be.dropIndex(ctx, col, name); err != nil {
		return err
	}
	return s.out.value(api.Dropped{Collection: col, Index: name, Dropped: true})
}

func cmdDropCollection(s *Shell, ctx context.Context, _ string, args []arg) error {
	col := args[0].text
	if err := validName(col); err != nil {
		return err
	}
	if err := s.be.dropCollection(ctx, col); err != nil {
		return err
	}
	if s.current == col {
		s.cursor = nil
	}
	return s.out.value(api.Dropped{Collection: col, Dropped: true})
}

func cmdStats(s *Shell, ctx context.Context, _ string, args []arg) error {
	if len(args) == 1 {
		col := args[0].text
		if err := validName(col); err != nil {
			return err
		}
		c, err := s.be.collection(ctx, col)
		if err != nil {
			return err
		}
		return s.out.value(c)
	}
	st, err := s.be.stats(ctx)
	if err != nil {
		return err
	}
	return s.out.value(st)
}

func cmdMetrics(s *Shell, ctx context.Context, _ string, _ []arg) error {
	m, err := s.be.metrics(ctx)
	if err != nil {
		return err
	}
	return s.out.value(m)
}

package shell

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/minidbgo/minidbgo/docstore"
	"github.com/minidbgo/minidbgo/httpd/client/api"
)

// localBackend runs commands on the embedded database. Every docstore
// call gets the command's context, which Ctrl-C cancels: a scan stops
// within a few hundred keys, a write before it commits.
type localBackend struct {
	db *docstore.DB
	// admin serves /api/metrics and /api/stats in process (an
	// httpd.Server without authentication), so that those commands print
	// exactly what a server prints.
	admin http.Handler
	dir   string
}

var _ backend = (*localBackend)(nil)

func (b *localBackend) describe() string { return "embedded database " + b.dir }

func writeResult(r docstore.WriteResult) api.WriteResult {
	return api.WriteResult{ID: r.ID, Rev: r.Rev, Created: r.Created}
}

func (b *localBackend) insertOne(ctx context.Context, col string, doc []byte) (api.WriteResult, error) {
	r, err := b.db.InsertOne(ctx, col, doc, docstore.WriteOptions{Insert: true})
	return writeResult(r), err
}

func (b *localBackend) insertMany(ctx context.Context, col string, docs []json.RawMessage) (api.InsertManyResult, error) {
	bodies := make([][]byte, len(docs))
	for i, d := range docs {
		bodies[i] = d
	}
	res, err := b.db.InsertNew(ctx, col, bodies)
	if err != nil {
		return api.InsertManyResult{}, err
	}
	out := api.InsertManyResult{Inserted: len(res), Results: make([]api.WriteResult, len(res))}
	for i, r := range res {
		out.Results[i] = writeResult(r)
	}
	return out, nil
}

func (b *localBackend) replace(ctx context.Context, col, id string, doc []byte, ifMatch uint64) (json.RawMessage, error) {
	r, err := b.db.Replace(ctx, col, id, doc, docstore.WriteOptions{IfMatch: ifMatch})
	return r.Doc, err
}

func (b *localBackend) get(ctx context.Context, col, id string) (json.RawMessage, uint64, error) {
	d, err := b.db.Get(ctx, col, id)
	if err != nil {
		return nil, 0, err
	}
	return d.JSON, d.Rev, nil
}

func (b *localBackend) update(ctx context.Context, col, id string, update []byte, ifMatch uint64) (json.RawMessage, error) {
	r, err := b.db.Update(ctx, col, id, update, docstore.WriteOptions{IfMatch: ifMatch})
	return r.Doc, err
}

func (b *localBackend) delete(ctx context.Context, col, id string) error {
	return b.db.Delete(ctx, col, id, docstore.WriteOptions{})
}

// query turns a find request into a docstore.Query the way the server
// does: sort and fields are JSON objects or strings.
func query(req api.FindRequest) (docstore.Query, error) {
	q := docstore.Query{Filter: req.Filter, Skip: req.Skip, Limit: req.Limit, Cursor: req.Cursor}
	if err := rawOrString(req.Sort, &q.Sort, &q.SortString); err != nil {
		return q, err
	}
	if err := rawOrString(req.Fields, &q.Projection, &q.Fields); err != nil {
		return q, err
	}
	return q, nil
}

func rawOrString(v json.RawMessage, raw *[]byte, str *string) error {
	t := bytes.TrimSpace(v)
	if len(t) == 0 || string(t) == "null" {
		return nil
	}
	if t[0] == '"' {
		return json.Unmarshal(t, str)
	}
	*raw = t
	return nil
}

func (b *localBackend) find(ctx context.Context, col string, req api.FindRequest) (api.FindResult, error) {
	q, err := query(req)
	if err != nil {
		return api.FindResult{}, err
	}
	cur, err := b.db.Find(ctx, col, q)
	if err != nil {
		return api.FindResult{}, err
	}
	defer cur.Close()
	res := api.FindResult{Docs: []json.RawMessage{}}
	for cur.Next() {
		res.Docs = append(res.Docs, bytes.Clone(cur.Doc()))
		if len(res.Docs)%64 == 0 && ctx.Err() != nil {
			return res, ctx.Err()
		}
	}
	if err := cur.Err(); err != nil {
		return res, err
	}
	res.Cursor = cur.NextToken()
	return res, nil
}

func (b *localBackend) count(ctx context.Context, col string, filter json.RawMessage) (int64, error) {
	return b.db.Count(ctx, col, filter)
}

func (b *localBackend) distinct(ctx context.Context, col, field string, filter json.RawMessage) ([]json.RawMessage, error) {
	return b.db.Distinct(ctx, col, field, filter)
}

func (b *localBackend) updateMany(ctx context.Context, col string, filter, update json.RawMessage) (api.UpdateResult, error) {
	r, err := b.db.UpdateMany(ctx, col, filter, update)
	return api.UpdateResult{Matched: r.Matched, Modified: r.Modified}, err
}

func (b *localBackend) upsert(ctx context.Context, col string, filter, update json.RawMessage) (api.UpdateResult, error) {
	r, err := b.db.UpsertMany(ctx, col, filter, update)
	return api.UpdateResult{Matched: r.Matched, Modified: r.Modified, UpsertedID: r.UpsertedID}, err
}

func (b *localBackend) deleteMany(ctx context.Context, col string, filter json.RawMessage) (int64, error) {
	r, err := b.db.DeleteMany(ctx, col, filter)
	return r.Deleted, err
}

func (b *localBackend) explain(ctx context.Context, col string, req api.FindRequest) (api.Explanation, error) {
	q, err := query(req)
	if err != nil {
		return api.Explanation{}, err
	}
	e, err := b.db.Explain(ctx, col, q)
	return api.Explanation{
		Plan: e.Plan, Index: e.Index, IndexFields: e.IndexFields, Ranges: e.Ranges,
		SortByIndex: e.SortByIndex, InMemorySort: e.InMemorySort,
		KeysExamined: e.KeysExamined, DocsExamined: e.DocsExamined, NReturned: e.NReturned,
	}, err
}

func (b *localBackend) collections(ctx context.Context) ([]api.Collection, error) {
	cols, err := b.db.Collections()
	out := make([]api.Collection, len(cols))
	for i, c := range cols {
		out[i] = api.Collection{Name: c.Name, DocCount: c.DocCount, ByteSize: c.ByteSize}
	}
	return out, err
}

func (b *localBackend) collection(ctx context.Context, col string) (api.Collection, error) {
	c, err := b.db.Stats(col)
	return api.Collection{Name: c.Name, DocCount: c.DocCount, ByteSize: c.ByteSize}, err
}

func (b *localBackend) dropCollection(ctx context.Context, col string) error {
	return b.db.DropCollection(ctx, col)
}

func indexOf(spec docstore.IndexSpec) api.Index {
	ix := api.Index{Name: spec.Name, Unique: spec.Unique, Multikey: spec.Multikey, Building: spec.Building,
		Fields: make([]api.IndexField, len(spec.Fields)), ExpireAfterSeconds: spec.ExpireAfterSeconds}
	for i, f := range spec.Fields {
		ix.Fields[i] = api.IndexField{Path: f.Path, Desc: f.Desc}
	}
	return ix
}

func (b *localBackend) createIndex(ctx context.Context, col string, req api.IndexRequest, progress func(int64)) (api.Index, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return api.Index{}, err
	}
	spec, err := docstore.ParseIndexSpec(body)
	if err != nil {
		return api.Index{}, err
	}
	if err := b.db.CreateIndex(ctx, col, spec, progress); err != nil {
		return api.Index{}, err
	}
	specs, err := b.db.ListIndexes(col)
	if err != nil {
		return api.Index{}, err
	}
	for _, s := range specs {
		if s.Name == spec.Name {
			return indexOf(s), nil
		}
	}
	return indexOf(spec), nil
}

func (b *localBackend) listIndexes(ctx context.Context, col string) ([]api.Index, error) {
	specs, err := b.db.ListIndexes(col)
	if err != nil {
		return nil, err
	}
	out := make([]api.Index, len(specs))
	for i, s := range specs {
		out[i] = indexOf(s)
	}
	return out, nil
}

func (b *localBackend) dropIndex(ctx context.Context, col, name string) error {
	return b.db.DropIndex(ctx, col, name)
}

func (b *localBackend) dump(ctx context.Context, w io.Writer) error {
	_, err := b.db.Dump(ctx, ctxWriter{ctx, w})
	return err
}

func (b *localBackend) export(ctx context.Context, col string, w io.Writer) error {
	_, err := b.db.Export(ctx, col, ctxWriter{ctx, w})
	return err
}

func (b *localBackend) restore(ctx context.Context, r io.Reader) (api.DumpStats, error) {
	st, err := b.db.Restore(ctx, ctxReader{ctx, r})
	return api.DumpStats{Collections: st.Collections, Documents: st.Documents, Indexes: st.Indexes, Bytes: st.Bytes}, err
}

func (b *localBackend) compact(context.Context) error {
	return b.db.Compact()
}

// adminGet answers GET path from the in-process server.
func (b *localBackend) adminGet(ctx context.Context, path string, out any) error {
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, path, nil)
	rec := httptest.NewRecorder()
	b.admin.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		return fmt.Errorf("%s: %d %s", path, rec.Code, bytes.TrimSpace(rec.Body.Bytes()))
	}
	return json.Unmarshal(rec.Body.Bytes(), out)
}

func (b *localBackend) metrics(ctx context.Context) (api.Metrics, error) {
	var m api.Metrics
	return m, b.adminGet(ctx, "/api/metrics", &m)
}

func (b *localBackend) stats(ctx context.Context) (api.Stats, error) {
	var s api.Stats
	return s, b.adminGet(ctx, "/api/stats", &s)
}

// ctxWriter and ctxReader stop a stream once ctx is done.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

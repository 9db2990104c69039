package shell

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"time"

	"github.com/minidbgo/minidbgo/httpd/client"
	"github.com/minidbgo/minidbgo/httpd/client/api"
)

// remoteBackend runs commands on a server through its REST API.
type remoteBackend struct {
	c *client.Client
}

var _ backend = (*remoteBackend)(nil)

func (b *remoteBackend) describe() string { return "server " + b.c.BaseURL }

func (b *remoteBackend) insertOne(ctx context.Context, col string, doc []byte) (api.WriteResult, error) {
	return b.c.Insert(ctx, col, doc, &client.WriteOptions{InsertOnly: true})
}

func (b *remoteBackend) insertMany(ctx context.Context, col string, docs []json.RawMessage) (api.InsertManyResult, error) {
	return b.c.InsertNew(ctx, col, docs)
}

func (b *remoteBackend) replace(ctx context.Context, col, id string, doc []byte, ifMatch uint64) (json.RawMessage, error) {
	if _, err := b.c.Put(ctx, col, id, doc, &client.WriteOptions{IfMatch: ifMatch}); err != nil {
		return nil, err
	}
	var got json.RawMessage
	_, err := b.c.Get(ctx, col, id, &got)
	return got, err
}

func (b *remoteBackend) get(ctx context.Context, col, id string) (json.RawMessage, uint64, error) {
	var doc json.RawMessage
	rev, err := b.c.Get(ctx, col, id, &doc)
	return doc, rev, err
}

func (b *remoteBackend) update(ctx context.Context, col, id string, update []byte, ifMatch uint64) (json.RawMessage, error) {
	if _, err := b.c.Patch(ctx, col, id, update, &client.WriteOptions{IfMatch: ifMatch}); err != nil {
		return nil, err
	}
	var doc json.RawMessage
	_, err := b.c.Get(ctx, col, id, &doc)
	return doc, err
}

func (b *remoteBackend) delete(ctx context.Context, col, id string) error {
	return b.c.Delete(ctx, col, id, nil)
}

func (b *remoteBackend) find(ctx context.Context, col string, req api.FindRequest) (api.FindResult, error) {
	return b.c.Find(ctx, col, clientQuery(req))
}

// clientQuery is the client's form of a wire request (its fields, JSON text
// already, are sent as they are).
func clientQuery(req api.FindRequest) client.Query {
	return client.Query{Filter: req.Filter, Sort: req.Sort, Fields: req.Fields, Limit: req.Limit, Skip: req.Skip, Cursor: req.Cursor}
}

func (b *remoteBackend) count(ctx context.Context, col string, filter json.RawMessage) (int64, error) {
	return b.c.Count(ctx, col, filter)
}

func (b *remoteBackend) distinct(ctx context.Context, col, field string, filter json.RawMessage) ([]json.RawMessage, error) {
	return b.c.Distinct(ctx, col, field, filter)
}

func (b *remoteBackend) updateMany(ctx context.Context, col string, filter, update json.RawMessage) (api.UpdateResult, error) {
	return b.c.UpdateMany(ctx, col, filter, update)
}

func (b *remoteBackend) upsert(ctx context.Context, col string, filter, update json.RawMessage) (api.UpdateResult, error) {
	return b.c.UpsertMany(ctx, col, filter, update)
}

func (b *remoteBackend) deleteMany(ctx context.Context, col string, filter json.RawMessage) (int64, error) {
	return b.c.DeleteMany(ctx, col, filter)
}

func (b *remoteBackend) explain(ctx context.Context, col string, req api.FindRequest) (api.Explanation, error) {
	return b.c.Explain(ctx, col, clientQuery(req))
}

func (b *remoteBackend) collections(ctx context.Context) ([]api.Collection, error) {
	return b.c.Collections(ctx)
}

func (b *remoteBackend) collection(ctx context.Context, col string) (api.Collection, error) {
	return b.c.Collection(ctx, col)
}

func (b *remoteBackend) dropCollection(ctx context.Context, col string) error {
	return b.c.DropCollection(ctx, col)
}

func (b *remoteBackend) createIndex(ctx context.Context, col string, req api.IndexRequest, _ func(int64)) (api.Index, error) {
	return b.c.CreateIndex(ctx, col, req)
}

func (b *remoteBackend) listIndexes(ctx context.Context, col string) ([]api.Index, error) {
	return b.c.Indexes(ctx, col)
}

func (b *remoteBackend) dropIndex(ctx context.Context, col, name string) error {
	return b.c.DropIndex(ctx, col, name)
}

func (b *remoteBackend) dump(ctx context.Context, w io.Writer) error {
	_, err := b.c.Dump(ctx, w)
	return err
}

func (b *remoteBackend) export(ctx context.Context, col string, w io.Writer) error {
	_, err := b.c.Export(ctx, col, w)
	return err
}

func (b *remoteBackend) restore(ctx context.Context, r io.Reader) (api.DumpStats, error) {
	return b.c.Restore(ctx, r)
}

// compact starts a compaction (POST /api/_compact answers at once) and
// polls the metrics until it is over, so that the command returns when
// the work is done, as it does on the embedded database. If another
// compaction was running, it waits for that one and starts its own.
func (b *remoteBackend) compact(ctx context.Context) error {
	for attempt := 0; ; attempt++ {
		st, err := b.c.Compact(ctx)
		if err != nil {
			return err
		}
		m, err := b.waitCompaction(ctx)
		if err != nil {
			return err
		}
		if st.Status == "started" || attempt > 0 {
			if m.CompactLastError != "" {
				return errors.New("compaction failed: " + m.CompactLastError)
			}
			return nil
		}
	}
}

func (b *remoteBackend) waitCompaction(ctx context.Context) (api.Metrics, error) {
	wait := 10 * time.Millisecond
	for {
		m, err := b.c.Metrics(ctx)
		if err != nil || !m.CompactRunning {
			return m, err
		}
		select {
		case <-ctx.Done():
			return m, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 500*time.Millisecond)
	}
}

func (b *remoteBackend) metrics(ctx context.Context) (api.Metrics, error) {
	return b.c.Metrics(ctx)
}

func (b *remoteBackend) stats(ctx context.Context) (api.Stats, error) {
	return b.c.Stats(ctx)
}

func (b *remoteBackend) changes(ctx context.Context, col string, req changesRequest) (api.Changes, error) {
	opts := client.ChangesOptions{Since: req.since, Limit: req.limit, Longpoll: req.wait}
	if len(req.sel) > 0 {
		opts.Selector = req.sel
	}
	for {
		page, err := b.c.Changes(ctx, col, opts)
		if err != nil || len(page.Results) > 0 || !req.wait {
			return page, err
		}
		opts.Since = page.LastSeq // the longpoll's timeout: wait again
	}
}

func (b *remoteBackend) feedEnd(ctx context.Context) (uint64, error) {
	page, err := b.c.Changes(ctx, "", client.ChangesOptions{SinceNow: true, Limit: 1})
	return page.LastSeq, err
}

package shell

import (
	"context"
	"encoding/json"
	"io"

	"github.com/minidbgo/minidbgo/httpd/client/api"
)

// backend is what the commands run against: the embedded database
// (localBackend) or a server through its REST API (remoteBackend). Both
// return the REST API's wire types, so that every command prints the same
// thing in either mode; the transcript tests replay one set of golden
// files against both.
type backend interface {
	// insertOne and insertMany are insert-only, like MongoDB's: an
	// existing _id fails with duplicate_key, and nothing of the batch is
	// written.
	insertOne(ctx context.Context, col string, doc []byte) (api.WriteResult, error)
	insertMany(ctx context.Context, col string, docs []json.RawMessage) (api.InsertManyResult, error)
	// replace stores doc as the document id at revision ifMatch (0: any)
	// and returns the document as written.
	replace(ctx context.Context, col, id string, doc []byte, ifMatch uint64) (json.RawMessage, error)
	// get returns a document and its revision.
	get(ctx context.Context, col, id string) (json.RawMessage, uint64, error)
	// update applies update to one document at revision ifMatch (0: any)
	// and returns the document as written.
	update(ctx context.Context, col, id string, update []byte, ifMatch uint64) (json.RawMessage, error)
	delete(ctx context.Context, col, id string) error
	// find returns one page of a query and the cursor of the next.
	find(ctx context.Context, col string, req api.FindRequest) (api.FindResult, error)
	count(ctx context.Context, col string, filter json.RawMessage) (int64, error)
	// distinct returns the sorted distinct values of field in the
	// documents matching filter.
	distinct(ctx context.Context, col, field string, filter json.RawMessage) ([]json.RawMessage, error)
	updateMany(ctx context.Context, col string, filter, update json.RawMessage) (api.UpdateResult, error)
	// upsert is updateMany that creates a document from the filter (with
	// $setOnInsert) when none matches.
	upsert(ctx context.Context, col string, filter, update json.RawMessage) (api.UpdateResult, error)
	deleteMany(ctx context.Context, col string, filter json.RawMessage) (int64, error)
	explain(ctx context.Context, col string, req api.FindRequest) (api.Explanation, error)

	collections(ctx context.Context) ([]api.Collection, error)
	// collection returns one collection's counts; a not_found error when
	// it does not exist.
	collection(ctx context.Context, col string) (api.Collection, error)
	dropCollection(ctx context.Context, col string) error

	createIndex(ctx context.Context, col string, req api.IndexRequest, progress func(done int64)) (api.Index, error)
	listIndexes(ctx context.Context, col string) ([]api.Index, error)
	dropIndex(ctx context.Context, col, name string) error

	// dump writes every collection as NDJSON (docstore's dump format).
	dump(ctx context.Context, w io.Writer) error
	// export writes one collection's documents, one per line.
	export(ctx context.Context, col string, w io.Writer) error
	restore(ctx context.Context, r io.Reader) (api.DumpStats, error)
	// compact compacts the whole database and returns when it is done.
	compact(ctx context.Context) error
	metrics(ctx context.Context) (api.Metrics, error)
	stats(ctx context.Context) (api.Stats, error)

	// changes returns a page of col's change feed (cmd_changes.go).
	changes(ctx context.Context, col string, req changesRequest) (api.Changes, error)
	// feedEnd returns the change feed's current end (since=now).
	feedEnd(ctx context.Context) (uint64, error)

	// describe names the backend for the banner.
	describe() string
}

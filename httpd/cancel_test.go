package httpd

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestRequestTimeoutStopsTheScan: a request past REQUEST_TIMEOUT answers
// 504, and its scan stops there: the handler answers only once the
// docstore call returned (with the context's error), long before the scan
// of the whole collection would have ended, and a write stops between
// whole batches.
func TestRequestTimeoutStopsTheScan(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a collection of 100,000 documents")
	}
	const docs = 100_000
	e := newEnv(t, envOptions{cfg: Config{RequestTimeout: 5 * time.Millisecond}})
	ctx := context.Background()
	batch := make([][]byte, 0, 1000)
	for i := range docs {
		batch = append(batch, fmt.Appendf(nil, `{"_id":"d%07d","n":%d,"g":%d}`, i, i, i%10))
		if len(batch) == cap(batch) {
			_, err := e.db.InsertMany(ctx, "c", batch)
			require.NoError(t, err)
			batch = batch[:0]
		}
	}
	// An unindexed count reads every document (about 100 ms without
	// -race, seconds with it).
	errorBody(t, e.do("POST", "/api/c/_count", `{"filter":{"g":{"$gte":0}}}`), http.StatusGatewayTimeout, "timeout")
	errorBody(t, e.do("POST", "/api/c/_find", `{"sort":{"n":-1},"limit":5}`), http.StatusGatewayTimeout, "timeout")
	errorBody(t, e.do("POST", "/api/c/_distinct", `{"field":"g","filter":{"n":{"$gte":0}}}`), http.StatusGatewayTimeout, "timeout")

	errorBody(t, e.do("POST", "/api/c/_update", `{"filter":{"g":{"$gte":0}},"update":{"$set":{"u":1}}}`), http.StatusGatewayTimeout, "timeout")
	n, err := e.db.Count(ctx, "c", []byte(`{"u":1}`))
	require.NoError(t, err)
	require.Less(t, n, int64(docs), "the update ran to its end")
	require.Zero(t, n%256, "a batch of the update was written in part")

	errorBody(t, e.do("POST", "/api/c/_delete", `{"filter":{"g":{"$gte":0}}}`), http.StatusGatewayTimeout, "timeout")
	left, err := e.db.Count(ctx, "c", []byte(`{"g":{"$gte":0}}`))
	require.NoError(t, err)
	require.Positive(t, left, "the delete ran to its end")
	require.Zero(t, (docs-left)%256, "a batch of the delete was written in part")
	e.healthy()
}

package client

import (
	"context"
	"encoding/json"
	"iter"
	"net/http"

	"github.com/minidbgo/minidbgo/httpd/client/api"
)

// AggregateOptions are the paging options of Aggregate.
type AggregateOptions struct {
	Limit  int    // page size; 0: the server's (MAX_PAGE), or the cursor's
	Cursor string // from a previous page; alone it continues its pipeline
}

// Aggregate calls POST /api/{col}/_aggregate and returns one page of the
// pipeline's results. pipeline is a JSON array of stages (string, []byte,
// json.RawMessage) or a value encoded to one (such as []map[string]any);
// it may be nil with opts.Cursor. To page, call it again with a nil
// pipeline and AggregateOptions{Cursor: res.Cursor} until res.Cursor is
// empty, or use AggregateAll.
func (c *Client) Aggregate(ctx context.Context, col string, pipeline any, opts AggregateOptions) (api.FindResult, error) {
	var out api.FindResult
	p, err := rawJSON(pipeline)
	if err != nil {
		return out, err
	}
	req := api.AggregateRequest{Pipeline: p, Limit: opts.Limit, Cursor: opts.Cursor}
	_, err = c.call(ctx, http.MethodPost, colPath(col, "_aggregate"), nil, req, &out, nil)
	return out, err
}

// AggregateAll runs a pipeline and yields every result of every page, as
// Documents does for a query.
func (c *Client) AggregateAll(ctx context.Context, col string, pipeline any, opts AggregateOptions) iter.Seq2[json.RawMessage, error] {
	return allDocs(func(cursor string) (api.FindResult, error) {
		if cursor != "" {
			return c.Aggregate(ctx, col, nil, AggregateOptions{Cursor: cursor})
		}
		return c.Aggregate(ctx, col, pipeline, opts)
	})
}

// ExplainAggregate calls POST /api/{col}/_explain with a pipeline: the
// plan of its scan, its stages and how many the scan performs.
func (c *Client) ExplainAggregate(ctx context.Context, col string, pipeline any) (api.AggExplanation, error) {
	var out api.AggExplanation
	p, err := rawJSON(pipeline)
	if err != nil {
		return out, err
	}
	_, err = c.call(ctx, http.MethodPost, colPath(col, "_explain"), nil, api.AggregateRequest{Pipeline: p}, &out, nil)
	return out, err
}

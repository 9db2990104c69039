package shell

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/minidbgo/minidbgo/docstore"
	"github.com/minidbgo/minidbgo/httpd/client"
	"github.com/minidbgo/minidbgo/httpd/client/api"
)

// aggregator is the backends' aggregation: one page of a pipeline (or
// of the pipeline a cursor continues), and a pipeline's plan.
type aggregator interface {
	aggregate(ctx context.Context, col string, req api.AggregateRequest) (api.FindResult, error)
	explainAggregate(ctx context.Context, col string, pipeline json.RawMessage) (api.AggExplanation, error)
}

var (
	_ aggregator = (*localBackend)(nil)
	_ aggregator = (*remoteBackend)(nil)
)

// aggWords are the stage, accumulator and expression names offered after
// "$" in JSON, besides the query and update operators.
var aggWords = []string{
	"$match", "$project", "$addFields", "$unset", "$sort", "$skip", "$limit", "$count",
	"$unwind", "$group", "$sortByCount", "$replaceRoot", "$replaceWith", "$lookup", "$facet",
	"$sum", "$avg", "$first", "$last", "$literal", "$add", "$subtract", "$multiply", "$divide",
	"$cmp", "$cond", "$ifNull", "$concat", "$toLower", "$toUpper", "$year", "$month", "$dayOfMonth",
}

func init() {
	dbMethods["aggregate"] = "aggregate"
}

// dollarWords are the names offered for a "$ key in the statement text:
// the query and update operators, and in an aggregate (or
// db.<col>.aggregate) the stage, accumulator and expression names too.
func dollarWords(text string) []string {
	t := strings.TrimSpace(text)
	first, _, _ := strings.Cut(t, " ")
	if !strings.EqualFold(first, "aggregate") && !strings.Contains(t, ".aggregate(") {
		return operators
	}
	words := slices.Clone(operators)
	for _, w := range aggWords {
		if !slices.Contains(words, w) {
			words = append(words, w)
		}
	}
	slices.Sort(words)
	return words
}

// aggSpillDir is where the embedded database's aggregations spill (as a
// server's do): DB_PATH/agg-tmp, emptied before each pipeline (the
// embedded shell runs one at a time). "" (no directory): no spilling.
func (b *localBackend) aggSpillDir() string {
	if b.dir == "" {
		return ""
	}
	dir := filepath.Join(b.dir, "agg-tmp")
	if docstore.CleanSpillDir(dir) != nil {
		return ""
	}
	return dir
}

func (b *localBackend) aggregate(ctx context.Context, col string, req api.AggregateRequest) (api.FindResult, error) {
	var out api.FindResult
	cur, err := b.db.Aggregate(ctx, col, req.Pipeline, docstore.AggOptions{Limit: req.Limit, Cursor: req.Cursor, SpillDir: b.aggSpillDir()})
	if err != nil {
		return out, err
	}
	defer cur.Close()
	out.Docs = []json.RawMessage{}
	for cur.Next() {
		out.Docs = append(out.Docs, json.RawMessage(slices.Clone(cur.Doc())))
	}
	if err := cur.Err(); err != nil {
		return out, err
	}
	out.Cursor = cur.NextToken()
	return out, nil
}

func (b *localBackend) explainAggregate(ctx context.Context, col string, pipeline json.RawMessage) (api.AggExplanation, error) {
	e, err := b.db.ExplainAggregate(ctx, col, pipeline, docstore.AggOptions{SpillDir: b.aggSpillDir()})
	if err != nil {
		return api.AggExplanation{}, err
	}
	x := e.Source
	return api.AggExplanation{
		Source: api.Explanation{Plan: x.Plan, Index: x.Index, IndexFields: x.IndexFields, Ranges: x.Ranges,
			SortByIndex: x.SortByIndex, InMemorySort: x.InMemorySort,
			KeysExamined: x.KeysExamined, DocsExamined: x.DocsExamined, NReturned: x.NReturned},
		Stages: e.Stages, PushedDown: e.Pushed,
	}, nil
}

func (b *remoteBackend) aggregate(ctx context.Context, col string, req api.AggregateRequest) (api.FindResult, error) {
	var p any
	if len(req.Pipeline) > 0 {
		p = req.Pipeline
	}
	return b.c.Aggregate(ctx, col, p, client.AggregateOptions{Limit: req.Limit, Cursor: req.Cursor})
}

func (b *remoteBackend) explainAggregate(ctx context.Context, col string, pipeline json.RawMessage) (api.AggExplanation, error) {
	return b.c.ExplainAggregate(ctx, col, pipeline)
}

// cmdAggregate runs a pipeline and prints every result, page by page
// (--batch-size pages in scripts), or its plan with {"explain": true}.
func cmdAggregate(s *Shell, ctx context.Context, col string, args []arg) error {
	pipeline := json.RawMessage(optArg(args, 0))
	explain := false
	if opts := optArg(args, 1); opts != nil {
		var o struct {
			Explain bool `json:"explain"`
		}
		if err := strictJSON(opts, &o); err != nil {
			return &cmdError{code: "invalid_options", msg: fmt.Sprintf(`options must be a JSON object like {"explain":true}: %v`, err)}
		}
		explain = o.Explain
	}
	ag, ok := s.be.(aggregator)
	if !ok {
		return &cmdError{code: "unsupported", msg: "this backend cannot aggregate"}
	}
	if explain {
		e, err := ag.explainAggregate(ctx, col, pipeline)
		if err != nil {
			return err
		}
		return s.out.value(e)
	}
	req := api.AggregateRequest{Pipeline: pipeline}
	for {
		res, err := ag.aggregate(ctx, col, req)
		if err != nil {
			return err
		}
		for _, d := range res.Docs {
			s.out.doc(d)
		}
		if res.Cursor == "" {
			return nil
		}
		req = api.AggregateRequest{Cursor: res.Cursor}
	}
}

// strictJSON decodes an options object, refusing unknown keys.
func strictJSON(b []byte, v any) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	for k := range m {
		if k != "explain" {
			return fmt.Errorf("unknown option %q", k)
		}
	}
	return json.Unmarshal(b, v)
}

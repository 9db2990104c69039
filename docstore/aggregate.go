package docstore

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"

	"github.com/minidbgo/minidbgo/docstore/internal/agg"
	"github.com/minidbgo/minidbgo/docstore/internal/jsondoc"
	"github.com/minidbgo/minidbgo/docstore/internal/query"
	"github.com/minidbgo/minidbgo/storage"
)

// Codes of aggregation errors.
const (
	CodeInvalidPipeline   Code = "invalid_pipeline"   // a pipeline that cannot be parsed: an unsupported stage or operator, a bad argument
	CodeInvalidExpression Code = "invalid_expression" // an expression that cannot be computed on a document ($year of a boolean, $divide by zero)
	CodeTooLarge          Code = "too_large"          // a blocking stage over AggOptions.MaxMemoryBytes with spilling off
)

// DefaultAggMaxMemory is AggOptions.MaxMemoryBytes's default: 32 MiB.
const DefaultAggMaxMemory = 32 << 20

// AggOptions configure one Aggregate.
type AggOptions struct {
	// Limit is the page size: 0 selects the cursor's, else
	// Options.DefaultLimit; it is capped at Options.MaxLimit.
	Limit int
	// Cursor continues the pipeline that returned it (see
	// AggCursor.NextToken); alone (a nil pipeline) it names its pipeline.
	Cursor string
	// MaxMemoryBytes bounds what each blocking stage ($group, $sort,
	// $facet, $sortByCount, a $lookup's joined documents) holds, at the
	// documents' estimated in-memory size. 0 selects DefaultAggMaxMemory.
	MaxMemoryBytes int64
	// SpillDir is the directory where blocking stages over
	// MaxMemoryBytes write their sorted runs (removed when the cursor is
	// closed). Empty disables spilling: such a stage fails with code
	// too_large. A server points it at a directory of its data directory
	// that it empties at start (CleanSpillDir).
	SpillDir string
	// Memory, when set, lends the blocking stages their memory: each
	// reserves what it holds (in steps of 256 KiB) and releases it when
	// the cursor is closed. A stage refused a reservation spills early
	// (with a SpillDir, once it holds 256 KiB) or ends the pipeline with
	// the refusal's error.
	Memory MemoryBudget
}

// AggExplanation describes how a pipeline runs.
type AggExplanation struct {
	// Source is the scan's plan and its cost for the first page: the
	// leading $match (and a $sort an index gives in order) are part of
	// it.
	Source Explanation `json:"source"`
	// Stages are the pipeline's stage names, in order.
	Stages []string `json:"stages"`
	// Pushed is how many leading stages the scan performs.
	Pushed int `json:"pushedDown"`
}

// AggCursor is a page of an aggregation's results, used like Cursor.
type AggCursor struct {
	db     *DB
	col    string
	form   []byte
	limit  int
	offset int64
	snap   *storage.Snapshot
	it     agg.Iter
	stats  *Explanation
	pushed int
	stages []string

	returned int
	cur      []byte
	peeked   bool
	peekOK   bool
	peekDoc  jsondoc.Value
	more     bool
	err      error
	closed   bool
}

// aggState is what an aggregation cursor token carries (sealed as find
// tokens are, with its own MAC domain): the collection, the canonical
// pipeline, the page size and the number of results already returned.
// A later page runs the pipeline again, on a new snapshot, and skips
// that many results: nothing is kept on the server between pages, and a
// page reflects the writes made since the one before.
type aggState struct {
	V        int             `json:"v"`
	Col      string          `json:"c"`
	Pipeline json.RawMessage `json:"p"`
	Limit    int             `json:"n"`
	Offset   int64           `json:"o"`
}

func (db *DB) aggMAC(state []byte) []byte {
	m := hmac.New(sha256.New, db.cursorKey[:])
	m.Write([]byte("minidbgo aggregate cursor v1\x00"))
	m.Write(state)
	return m.Sum(nil)[:cursorMACLen]
}

func (db *DB) openAggCursor(col, tok string) (*aggState, error) {
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimSpace(tok))
	if err != nil || len(raw) <= cursorMACLen {
		return nil, errBadCursor()
	}
	state, mac := raw[:len(raw)-cursorMACLen], raw[len(raw)-cursorMACLen:]
	if !hmac.Equal(mac, db.aggMAC(state)) {
		return nil, errBadCursor()
	}
	var st aggState
	if err := json.Unmarshal(state, &st); err != nil || st.V != cursorVersion || len(st.Pipeline) == 0 {
		return nil, errBadCursor()
	}
	if st.Col != col {
		return nil, errf(CodeInvalidCursor, "cursor was issued for a pipeline on another collection; send it to the collection it came from")
	}
	return &st, nil
}

// CleanSpillDir removes dir and what it holds (spill runs left by a
// crash) and creates it again, empty.
func CleanSpillDir(dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	return os.MkdirAll(dir, 0o755)
}

// aggError turns the agg package's errors into the docstore's.
func aggError(err error) error {
	var ae *agg.Error
	if errors.As(err, &ae) {
		return &Error{Code: Code(ae.Code), Msg: ae.Msg, Index: -1}
	}
	var qe *query.QueryError
	if errors.As(err, &qe) {
		return queryError(CodeInvalidPipeline, err)
	}
	return err
}

// ParsePipeline checks a pipeline without running it.
func (db *DB) ParsePipeline(pipeline []byte) error {
	_, _, err := db.parsePipeline(pipeline)
	return err
}

func (db *DB) parsePipeline(pipeline []byte) (*agg.Pipeline, []byte, error) {
	v, err := jsondoc.Parse(pipeline, db.limits)
	if err != nil {
		return nil, nil, jsonError(err, -1)
	}
	p, err := agg.Parse(v)
	if err != nil {
		return nil, nil, aggError(err)
	}
	return p, jsondoc.AppendJSON(nil, v), nil
}

// Aggregate runs an aggregation pipeline (a JSON array of stages, see
// docs/aggregation.md) on col and returns a cursor over one page of its
// results. A leading $match is run by the scan, with the indexes Find
// would use, and a $sort after it that an index gives in order reads the
// index instead of sorting. With opts.Cursor it continues the pipeline
// that returned the cursor (pipeline nil, or the same pipeline).
//
// ctx bounds the cursor's whole life.
func (db *DB) Aggregate(ctx context.Context, col string, pipeline []byte, opts AggOptions) (*AggCursor, error) {
	if err := checkName("collection", col); err != nil {
		return nil, err
	}
	if err := ctxErr(ctx, "aggregate"); err != nil {
		return nil, err
	}
	var st *aggState
	if opts.Cursor != "" {
		var err error
		if st, err = db.openAggCursor(col, opts.Cursor); err != nil {
			return nil, err
		}
		if len(bytes.TrimSpace(pipeline)) == 0 {
			pipeline = st.Pipeline
		}
	}
	if len(bytes.TrimSpace(pipeline)) == 0 {
		return nil, errf(CodeInvalidPipeline, "pipeline: no pipeline given (send an array of stages)")
	}
	p, form, err := db.parsePipeline(pipeline)
	if err != nil {
		return nil, err
	}
	if st != nil && !bytes.Equal(form, canonicalJSON(st.Pipeline, db.limits)) {
		return nil, errf(CodeInvalidCursor, "cursor was issued for another pipeline: send the cursor alone or with the pipeline that returned it")
	}
	if opts.Limit < 0 {
		return nil, errf(CodeBadRequest, "limit must be >= 0, got %d", opts.Limit)
	}
	limit := opts.Limit
	if limit == 0 && st != nil {
		limit = st.Limit
	}
	if limit <= 0 {
		limit = db.opts.DefaultLimit
	}
	limit = min(limit, db.opts.MaxLimit)
	if opts.MaxMemoryBytes <= 0 {
		opts.MaxMemoryBytes = DefaultAggMaxMemory
	}

	// The scan: the leading $match's filter, and a $sort that follows it
	// when an index gives its order.
	f, _ := query.ParseFilter(jsondoc.Object(nil))
	pushed := 0
	if len(p.Stages) > 0 && p.Stages[0].Filter() != nil {
		f, pushed = p.Stages[0].Filter(), 1
	}
	snap := db.engine.NewSnapshot()
	c := db.getCollection(col)
	pl := db.makePlan(c, col, f, nil)
	if pushed < len(p.Stages) && p.Stages[pushed].Sort() != nil {
		if sp := db.makePlan(c, col, f, p.Stages[pushed].Sort()); sp.sortByIndex {
			pl = sp
			pushed++
		}
	}
	cur := &AggCursor{db: db, col: col, form: form, limit: limit, snap: snap, pushed: pushed}
	for _, s := range p.Stages {
		cur.stages = append(cur.stages, s.Name)
	}
	ex := pl.explain()
	cur.stats = &ex
	src := &scanIter{src: newSource(ctx, db, snap, pl, nil), f: f, stats: cur.stats, noFilter: pushed == 0}
	if fs, ok := p.Fields(pushed); ok {
		// The stages read only these fields (and the scan's filter its
		// own): parse nothing else.
		fs = append(fs, f.TopLevelFields()...)
		src.src.keep = func(k string) bool { return slices.Contains(fs, k) }
	}
	env := &agg.Env{
		Ctx:       ctx,
		MaxMemory: opts.MaxMemoryBytes,
		SpillDir:  opts.SpillDir,
		Memory:    opts.Memory,
		Lookup: func(from, field string, v jsondoc.Value, each func(jsondoc.Value) error) error {
			return db.lookup(ctx, snap, from, field, v, each)
		},
	}
	cur.it = p.Open(src, env, pushed)
	if st != nil {
		cur.offset = st.Offset
		for range st.Offset {
			_, ok, err := cur.it.Next()
			if err != nil {
				_ = cur.Close()
				return nil, aggError(err)
			}
			if !ok {
				break
			}
		}
	}
	return cur, nil
}

// lookup is $lookup's equality join: the documents of from whose field
// equals v (any element of an array v), through the planner, so an
// index on field is used.
func (db *DB) lookup(ctx context.Context, snap *storage.Snapshot, from, field string, v jsondoc.Value, each func(jsondoc.Value) error) error {
	if err := checkName("collection", from); err != nil {
		return errf(CodeInvalidPipeline, "$lookup: %s", strings.TrimPrefix(err.Error(), "docstore: "))
	}
	var cond jsondoc.Value
	if v.Kind() == jsondoc.KindArray {
		cond = jsondoc.Object([]jsondoc.Member{{Key: "$in", Value: v}})
	} else {
		cond = jsondoc.Object([]jsondoc.Member{{Key: "$eq", Value: v}})
	}
	f, err := query.ParseFilter(jsondoc.Object([]jsondoc.Member{{Key: field, Value: cond}}))
	if err != nil {
		return queryError(CodeInvalidPipeline, err)
	}
	c := db.getCollection(from)
	if c == nil {
		return nil
	}
	pl := db.makePlan(c, from, f, nil)
	src := newSource(ctx, db, snap, pl, nil)
	defer src.close()
	var st Explanation
	for {
		m, err := src.next(&st, true)
		if err != nil || m == nil {
			return err
		}
		if f.Match(m.doc) {
			if err := each(m.doc); err != nil {
				return err
			}
		}
	}
}

// scanIter is the pipeline's input: the scan's documents that pass the
// leading $match.
type scanIter struct {
	src      *source
	f        *query.Filter
	stats    *Explanation
	noFilter bool
}

func (s *scanIter) Next() (jsondoc.Value, bool, error) {
	for {
		m, err := s.src.next(s.stats, true)
		if err != nil || m == nil {
			return jsondoc.Value{}, false, err
		}
		if s.noFilter || s.f.Match(m.doc) {
			return m.doc, true, nil
		}
	}
}

func (s *scanIter) Close() error { return s.src.close() }

// Next advances to the next result of the page.
func (c *AggCursor) Next() bool {
	if c.closed || c.err != nil || c.returned >= c.limit {
		return false
	}
	d, ok, err := c.pull()
	if err != nil {
		c.err = aggError(err)
		return false
	}
	if !ok {
		return false
	}
	c.returned++
	c.cur = jsondoc.AppendJSON(c.cur[:0], d)
	if c.returned >= c.limit {
		c.peekDoc, c.peekOK, err = c.it.Next()
		if err != nil {
			c.err = aggError(err)
			return false
		}
		c.peeked = true
		c.more = c.peekOK
	}
	return true
}

func (c *AggCursor) pull() (jsondoc.Value, bool, error) {
	if c.peeked {
		c.peeked = false
		return c.peekDoc, c.peekOK, nil
	}
	return c.it.Next()
}

// Doc returns the current result's JSON; it is valid until Next.
func (c *AggCursor) Doc() []byte { return c.cur }

// Err returns the error that stopped the cursor.
func (c *AggCursor) Err() error { return c.err }

// NextToken returns a token that continues the pipeline after this page,
// or "" when no results remain; call it after Next returned false.
func (c *AggCursor) NextToken() string {
	if !c.more || c.err != nil {
		return ""
	}
	st := aggState{V: cursorVersion, Col: c.col, Pipeline: c.form, Limit: c.limit, Offset: c.offset + int64(c.returned)}
	raw, _ := json.Marshal(&st)
	return base64.RawURLEncoding.EncodeToString(append(raw, c.db.aggMAC(raw)...))
}

// Explain returns the scan's plan and cost so far, and the stages.
func (c *AggCursor) Explain() AggExplanation {
	e := *c.stats
	e.NReturned = int64(c.returned)
	return AggExplanation{Source: e, Stages: c.stages, Pushed: c.pushed}
}

// Close releases the cursor's snapshot, iterators and spill files.
func (c *AggCursor) Close() error {
	if c.closed {
		return nil
	}
	c.closed = true
	if err := c.it.Close(); err != nil && c.err == nil {
		c.err = err
	}
	_ = c.snap.Close()
	return c.err
}

// ExplainAggregate runs a pipeline's first page and reports its plan.
func (db *DB) ExplainAggregate(ctx context.Context, col string, pipeline []byte, opts AggOptions) (AggExplanation, error) {
	cur, err := db.Aggregate(ctx, col, pipeline, opts)
	if err != nil {
		return AggExplanation{}, err
	}
	defer cur.Close()
	for cur.Next() {
	}
	if err := cur.Err(); err != nil {
		return AggExplanation{}, err
	}
	return cur.Explain(), nil
}

// canonicalJSON is b re-encoded compactly by jsondoc (nil if invalid).
func canonicalJSON(b []byte, lim jsondoc.Limits) []byte {
	v, err := jsondoc.Parse(b, lim)
	if err != nil {
		return nil
	}
	return jsondoc.AppendJSON(nil, v)
}

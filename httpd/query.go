package httpd

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/minidbgo/minidbgo/docstore"
	"github.com/minidbgo/minidbgo/httpd/client/api"
)

// findQuery turns a _find body into a docstore.Query. Sort and fields may
// be JSON objects or strings ("-price,_id", "name,price").
func (s *Server) findQuery(req api.FindRequest) (docstore.Query, error) {
	q := docstore.Query{Filter: req.Filter, Skip: req.Skip, Limit: req.Limit, Cursor: req.Cursor}
	if err := rawOrString(req.Sort, &q.Sort, &q.SortString, "sort"); err != nil {
		return q, err
	}
	if err := rawOrString(req.Fields, &q.Projection, &q.Fields, "fields"); err != nil {
		return q, err
	}
	return q, s.checkPage(&q)
}

// rawOrString puts a JSON string into str and anything else into raw.
func rawOrString(v json.RawMessage, raw *[]byte, str *string, name string) error {
	t := bytes.TrimSpace(v)
	if len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return nil
	}
	if t[0] == '"' {
		if err := json.Unmarshal(t, str); err != nil {
			return reqErr(codeBadBody, name+" must be an object or a string")
		}
		return nil
	}
	*raw = t
	return nil
}

// maxSkip caps skip, as intParam caps ?skip=: no collection holds 2^31
// documents, and docstore adds skip and limit (a _find skip near 2^63
// overflowed that sum and panicked, a 500).
const maxSkip = 1<<31 - 1

// checkPage validates skip and limit, caps limit at the docstore's
// MaxLimit (MAX_PAGE) and
// skip at maxSkip. A query continuing a cursor without a limit keeps 0:
// its pages are as long as its first (which this cap bounded).
func (s *Server) checkPage(q *docstore.Query) error {
	if q.Limit < 0 {
		return reqErr(codeBadParameter, "limit must be >= 0, got "+strconv.Itoa(q.Limit))
	}
	if q.Skip < 0 {
		return reqErr(codeBadParameter, "skip must be >= 0, got "+strconv.Itoa(q.Skip))
	}
	if maxPage := s.db.Limits().MaxLimit; (q.Limit == 0 && q.Cursor == "") || q.Limit > maxPage {
		q.Limit = maxPage
	}
	q.Skip = min(q.Skip, maxSkip)
	return nil
}

// search serves POST /api/{col}/_search, the guide's query: the body is
// the filter itself; query parameters limit, skip, sort ("-price,_id" or
// JSON), fields ("name,price", "-secret" or JSON) and cursor. The answer
// is a bare JSON array of documents (the seed's shape); when more
// documents remain, X-Next-Cursor holds the cursor for the next page.
func (s *Server) search(w http.ResponseWriter, r *http.Request) {
	col, body, ok := s.colAndBody(w, r)
	if !ok {
		return
	}
	qp := r.URL.Query()
	q := docstore.Query{Filter: body, Cursor: qp.Get("cursor")}
	var err error
	if q.Limit, err = intParam(r, "limit"); err == nil {
		q.Skip, err = intParam(r, "skip")
	}
	if err == nil {
		err = s.checkPage(&q)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if v := qp.Get("sort"); v != "" {
		if v[0] == '{' {
			q.Sort = []byte(v)
		} else {
			q.SortString = v
		}
	}
	if v := qp.Get("fields"); v != "" {
		if v[0] == '{' {
			q.Projection = []byte(v)
		} else {
			q.Fields = v
		}
	}
	s.runFind(w, r, col, q, false)
}

// find serves POST /api/{col}/_find: {"filter", "sort", "fields",
// "limit", "skip", "cursor"} → {"docs": [...], "cursor": "..."}.
func (s *Server) find(w http.ResponseWriter, r *http.Request) {
	col, q, ok := s.findRequest(w, r)
	if !ok {
		return
	}
	s.runFind(w, r, col, q, true)
}

// runFind runs a query and writes its page, as {"docs": [...], "cursor"}
// when wrapped, else as a bare array. The page is built in memory (it is
// bounded by MaxPage documents, and reserved from the in-flight memory
// budget as it grows: when the budget has no room for the next document,
// the page ends before it and the cursor continues with it), so an error
// midway is still a clean error response.
func (s *Server) runFind(w http.ResponseWriter, r *http.Request, col string, q docstore.Query, wrapped bool) {
	cur, err := s.db.Find(r.Context(), col, s.budgeted(q))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	defer cur.Close()
	ctx := r.Context()
	defer func() { noteQuery(ctx, cur.Explain()) }() // for the slow-query log
	s.writeDocsPage(w, r, cur, cur.EndPageBefore, wrapped)
}

// docsCursor is what writeDocsPage reads a page from: a find or an
// aggregation cursor.
type docsCursor interface {
	Next() bool
	Doc() []byte
	Err() error
	NextToken() string
}

// writeDocsPage writes cur's page, as {"docs": [...], "cursor"} when
// wrapped, else as a bare array with the cursor in X-Next-Cursor. Each
// document is reserved from the in-flight memory budget; when it has no
// room, endBefore (nil for a cursor that cannot) ends the page before the
// document so that the cursor continues with it, else the answer is 503
// overloaded.
func (s *Server) writeDocsPage(w http.ResponseWriter, r *http.Request, cur docsCursor, endBefore func() bool, wrapped bool) {
	ctx := r.Context()
	var buf bytes.Buffer
	if wrapped {
		buf.WriteString(`{"docs":[`)
	} else {
		buf.WriteByte('[')
	}
	var page pageMemory
	defer page.release(s.mem)
	n := 0
	for cur.Next() {
		if n%64 == 0 && ctx.Err() != nil {
			s.writeError(w, r, ctx.Err())
			return
		}
		if !page.reserve(s.mem, buf.Len()+len(cur.Doc())+64) {
			if endBefore == nil || !endBefore() {
				s.writeError(w, r, s.mem.overloaded("a page of results"))
				return
			}
			break
		}
		if n > 0 {
			buf.WriteByte(',')
		}
		buf.Write(cur.Doc())
		n++
	}
	if err := cur.Err(); err != nil {
		s.writeError(w, r, err)
		return
	}
	next := cur.NextToken()
	buf.WriteByte(']')
	if wrapped {
		if next != "" {
			buf.WriteString(`,"cursor":`)
			tok, _ := json.Marshal(next)
			buf.Write(tok)
		}
		buf.WriteByte('}')
	} else if next != "" {
		w.Header().Set("X-Next-Cursor", next)
	}
	buf.WriteByte('\n')
	writeRaw(w, http.StatusOK, buf.Bytes())
}

// explain serves POST /api/{col}/_explain: the _find body → the plan and
// the cost of its first page.
func (s *Server) explain(w http.ResponseWriter, r *http.Request) {
	col, body, ok := s.colAndBody(w, r)
	if !ok {
		return
	}
	if isPipelineBody(body) {
		s.explainPipeline(w, r, col, body)
		return
	}
	q, ok := s.findBody(w, r, body)
	if !ok {
		return
	}
	e, err := s.db.Explain(r.Context(), col, s.budgeted(q))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	noteQuery(r.Context(), e)
	writeJSON(w, http.StatusOK, api.Explanation{
		Plan: e.Plan, Index: e.Index, IndexFields: e.IndexFields, Ranges: e.Ranges,
		SortByIndex: e.SortByIndex, InMemorySort: e.InMemorySort,
		KeysExamined: e.KeysExamined, DocsExamined: e.DocsExamined, NReturned: e.NReturned,
	})
}

// count serves POST /api/{col}/_count: {"filter": {...}} (or no body) →
// {"count": N}.
func (s *Server) count(w http.ResponseWriter, r *http.Request) {
	col, body, ok := s.colAndBody(w, r)
	if !ok {
		return
	}
	var req api.CountRequest
	if err := decodeControl(body, &req, true); err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx, note := explained(r.Context())
	n, err := s.db.Count(ctx, col, req.Filter)
	note()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, api.CountResult{Count: n})
}

// distinct serves POST /api/{col}/_distinct: {"field": "tags", "filter":
// {...}} → {"values": [...]}, sorted; 400 distinct_too_large past the
// docstore's memory bound.
func (s *Server) distinct(w http.ResponseWriter, r *http.Request) {
	col, body, ok := s.colAndBody(w, r)
	if !ok {
		return
	}
	var req api.DistinctRequest
	if err := decodeControl(body, &req, false); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.Field == "" {
		s.writeError(w, r, reqErr(codeBadBody, `_distinct needs "field": the dot path whose values to list`))
		return
	}
	ctx, note := explained(r.Context())
	vals, err := s.db.Distinct(ctx, col, req.Field, req.Filter)
	note()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, api.DistinctResult{Values: vals})
}

// updateMany serves POST /api/{col}/_update: {"filter": {...}, "update":
// {"$set": {...}}} → {"matched": N, "modified": N}. Each document is
// updated atomically; the set is not one transaction.
func (s *Server) updateMany(w http.ResponseWriter, r *http.Request) {
	col, body, ok := s.colAndBody(w, r)
	if !ok {
		return
	}
	var req api.UpdateRequest
	if err := decodeControl(body, &req, false); err != nil {
		s.writeError(w, r, err)
		return
	}
	if len(req.Filter) == 0 || len(req.Update) == 0 {
		s.writeError(w, r, reqErr(codeBadBody, `_update needs "filter" ({} matches every document) and "update"`))
		return
	}
	if req.Upsert {
		s.upsertMany(w, r, col, req)
		return
	}
	ctx, note := explained(r.Context())
	res, err := s.db.UpdateMany(ctx, col, req.Filter, req.Update)
	note()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, api.UpdateResult{Matched: res.Matched, Modified: res.Modified})
}

// deleteMany serves POST /api/{col}/_delete: {"filter": {...}} →
// {"deleted": N}. The filter is required; {} deletes every document.
func (s *Server) deleteMany(w http.ResponseWriter, r *http.Request) {
	col, body, ok := s.colAndBody(w, r)
	if !ok {
		return
	}
	var req api.DeleteManyRequest
	if err := decodeControl(body, &req, false); err != nil {
		s.writeError(w, r, err)
		return
	}
	if len(req.Filter) == 0 {
		s.writeError(w, r, reqErr(codeBadBody, `_delete needs "filter" ({} deletes every document)`))
		return
	}
	ctx, note := explained(r.Context())
	res, err := s.db.DeleteMany(ctx, col, req.Filter)
	note()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, api.DeleteManyResult{Deleted: res.Deleted})
}

// findRequest reads a _find-shaped body ({"filter", "sort", "fields",
// "limit", "skip", "cursor"}) into a query. When it is bad it writes the
// error response and reports false.
func (s *Server) findRequest(w http.ResponseWriter, r *http.Request) (string, docstore.Query, bool) {
	col, body, ok := s.colAndBody(w, r)
	if !ok {
		return "", docstore.Query{}, false
	}
	q, ok := s.findBody(w, r, body)
	return col, q, ok
}

// findBody parses a _find-shaped body; when it is bad it writes the error
// response and reports false.
func (s *Server) findBody(w http.ResponseWriter, r *http.Request, body []byte) (docstore.Query, bool) {
	var req api.FindRequest
	if err := decodeControl(body, &req, true); err != nil {
		s.writeError(w, r, err)
		return docstore.Query{}, false
	}
	q, err := s.findQuery(req)
	if err != nil {
		s.writeError(w, r, err)
		return docstore.Query{}, false
	}
	return q, true
}

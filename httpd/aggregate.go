package httpd

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/minidbgo/minidbgo/docstore"
	"github.com/minidbgo/minidbgo/httpd/client/api"
)

// aggregate serves POST /api/{col}/_aggregate: {"pipeline": [...],
// "limit", "cursor"} or a bare array of stages → {"docs": [...],
// "cursor": "..."}, paged like _find.
func (s *Server) aggregate(w http.ResponseWriter, r *http.Request) {
	col, body, ok := s.colAndBody(w, r)
	if !ok {
		return
	}
	req, err := aggregateRequest(body)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	cur, err := s.db.Aggregate(r.Context(), col, req.Pipeline, s.aggOptions(req))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	defer cur.Close()
	ctx := r.Context()
	defer func() { noteQuery(ctx, cur.Explain().Source) }() // for the slow-query log
	s.writeDocsPage(w, r, cur, nil, true)
}

// aggOptions are a request's options with the server's memory limit,
// spill directory and in-flight memory budget (blocking stages reserve
// what they hold from it, and spill early or answer 503 overloaded when
// it has no room).
func (s *Server) aggOptions(req api.AggregateRequest) docstore.AggOptions {
	return docstore.AggOptions{
		Limit:          req.Limit,
		Cursor:         req.Cursor,
		MaxMemoryBytes: s.cfg.AggMaxMemoryBytes,
		SpillDir:       s.cfg.AggSpillDir,
		Memory:         s.mem,
	}
}

// aggregateRequest reads an _aggregate body: a bare array of stages, or
// an AggregateRequest object.
func aggregateRequest(body []byte) (api.AggregateRequest, error) {
	var req api.AggregateRequest
	if t := bytes.TrimSpace(body); len(t) > 0 && t[0] == '[' {
		req.Pipeline = t
		return req, nil
	}
	if err := decodeControl(body, &req, false); err != nil {
		return req, err
	}
	if len(req.Pipeline) == 0 && req.Cursor == "" {
		return req, reqErr("invalid_pipeline", `the body has no "pipeline": send {"pipeline": [stages…]} or a bare array of stages`)
	}
	if req.Limit < 0 {
		return req, reqErr(codeBadBody, "limit must be >= 0")
	}
	return req, nil
}

// isPipelineBody reports whether an _explain body is a pipeline: a bare
// array, or an object with a "pipeline" member.
func isPipelineBody(body []byte) bool {
	t := bytes.TrimSpace(body)
	if len(t) == 0 {
		return false
	}
	if t[0] == '[' {
		return true
	}
	var probe map[string]json.RawMessage
	if json.Unmarshal(t, &probe) != nil {
		return false
	}
	_, ok := probe["pipeline"]
	return ok
}

// explainPipeline serves _explain for a pipeline: the plan of its scan
// and the cost of its first page.
func (s *Server) explainPipeline(w http.ResponseWriter, r *http.Request, col string, body []byte) {
	req, err := aggregateRequest(body)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	e, err := s.db.ExplainAggregate(r.Context(), col, req.Pipeline, s.aggOptions(req))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	noteQuery(r.Context(), e.Source)
	x := e.Source
	writeJSON(w, http.StatusOK, api.AggExplanation{
		Source: api.Explanation{
			Plan: x.Plan, Index: x.Index, IndexFields: x.IndexFields, Ranges: x.Ranges,
			SortByIndex: x.SortByIndex, InMemorySort: x.InMemorySort,
			KeysExamined: x.KeysExamined, DocsExamined: x.DocsExamined, NReturned: x.NReturned,
		},
		Stages:     e.Stages,
		PushedDown: e.Pushed,
	})
}

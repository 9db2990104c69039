package httpd

import (
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/minidbgo/minidbgo/docstore"
	"github.com/minidbgo/minidbgo/httpd/client/api"
)

// writeResult answers a single-document write: 201 when it created the
// document, 200 when it replaced or updated one, with the new revision as
// the ETag and the document's URL as Location.
func writeResult(w http.ResponseWriter, r *http.Request, col string, res docstore.WriteResult) {
	st := stateOf(r.Context())
	setETag(w, st, res.Rev)
	var slot *[1]string
	if st != nil {
		slot = &st.locHdr
	}
	setHeader(w, hdrLocation, "/api/"+col+"/"+url.PathEscape(res.ID), slot)
	status := http.StatusOK
	if res.Created {
		status = http.StatusCreated
	}
	if !plainJSONString(res.ID) {
		writeJSON(w, status, api.WriteResult{ID: res.ID, Rev: res.Rev, Created: res.Created})
		return
	}
	// The common case, written as encoding/json would write it without
	// its reflection: {"_id":"…","rev":"…","created":…}.
	bp := smallBufs.Get().(*[]byte)
	b := append((*bp)[:0], `{"_id":"`...)
	b = append(b, res.ID...)
	b = append(b, `","rev":"`...)
	b = strconv.AppendUint(b, res.Rev, 10)
	b = append(b, `","created":`...)
	b = strconv.AppendBool(b, res.Created)
	b = append(b, "}\n"...)
	writeRaw(w, status, b)
	*bp = b
	smallBufs.Put(bp)
}

// smallBufs are the buffers of small answers (writeResult).
var smallBufs = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// plainJSONString reports whether encoding/json writes s as it is
// between its quotes: printable ASCII other than the characters it
// escapes (the quote, the backslash and, as HTML, <, > and &).
func plainJSONString(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c > 0x7e, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}

// setETag sets the response's ETag to rev's ("rev", quoted) and returns
// it, without a []string per request when st holds the value.
func setETag(w http.ResponseWriter, st *reqState, rev uint64) string {
	var b [24]byte
	b[0] = '"'
	tag := string(append(strconv.AppendUint(b[:1], rev, 10), '"'))
	var slot *[1]string
	if st != nil {
		slot = &st.etagHdr
	}
	setHeader(w, hdrETag, tag, slot)
	return tag
}

// insertOne serves POST /api/{col}: store the body as a document,
// replacing any with its _id (the seed's upsert), generating an _id when
// it has none. If-None-Match: * makes it create-only (412 when the
// document exists); If-Match requires the stored revision; ?upsert=false
// makes it insert-only (409 duplicate_key when the document exists).
func (s *Server) insertOne(w http.ResponseWriter, r *http.Request) {
	col, body, ok := s.colAndBody(w, r)
	if !ok {
		return
	}
	var opts docstore.WriteOptions
	upsert, err := boolParam(r, "upsert", true)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	opts.Insert = !upsert
	if r.Header.Get("If-Match") != "" || r.Header.Get("If-None-Match") != "" {
		// The _id is in the body; docstore checks the preconditions
		// against it. If-Match needs the one revision it names.
		if inm := strings.TrimSpace(r.Header.Get("If-None-Match")); inm != "" {
			if inm != "*" {
				s.writeError(w, r, reqErr(codeBadParameter, `If-None-Match on a write must be "*"`))
				return
			}
			opts.IfNoneMatch = true
		}
		if revs, anyRev, present := ifMatch(r); present {
			if len(revs) != 1 || anyRev {
				s.writeError(w, r, reqErr(codeBadParameter, "If-Match on POST /api/{col} must name one ETag; use PUT /api/{col}/{id} for \"*\" or lists"))
				return
			}
			opts.IfMatch = revs[0]
		}
	}
	res, err := s.db.InsertOne(r.Context(), col, body, opts)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeResult(w, r, col, res)
}

// getDoc serves GET /api/{col}/{id}: the document, with its revision as
// the ETag; If-None-Match with the current ETag gives 304.
func (s *Server) getDoc(w http.ResponseWriter, r *http.Request) {
	col, err := colParam(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	id, err := idParam(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	doc, err := s.db.Get(r.Context(), col, id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	tag := setETag(w, stateOf(r.Context()), doc.Rev)
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		for _, part := range strings.Split(inm, ",") {
			if p := strings.TrimSpace(part); p == "*" || strings.TrimPrefix(p, "W/") == tag {
				w.WriteHeader(http.StatusNotModified)
				return
			}
		}
	}
	writeRaw2(w, http.StatusOK, doc.JSON, newline)
}

// putDoc serves PUT /api/{col}/{id}: store the body as the document with
// that _id (an upsert; a body _id must agree).
func (s *Server) putDoc(w http.ResponseWriter, r *http.Request) {
	col, id, opts, ok := s.docTarget(w, r)
	if !ok {
		return
	}
	body, err := readBody(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.db.Replace(r.Context(), col, id, body, opts)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeResult(w, r, col, res)
}

// patchDoc serves PATCH /api/{col}/{id}. A body with update operators
// ({"$inc": {"n": 1}}) is an update; any other body, and every body sent
// as application/merge-patch+json, is an RFC 7396 JSON merge patch
// ({"a": 1, "b": null} sets a and removes b, leaving the rest). ?upsert=true
// creates a missing document.
func (s *Server) patchDoc(w http.ResponseWriter, r *http.Request) {
	col, id, opts, ok := s.docTarget(w, r)
	if !ok {
		return
	}
	upsert, err := boolParam(r, "upsert", false)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	opts.Upsert = upsert
	body, err := readBody(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var res docstore.WriteResult
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/merge-patch+json" {
		res, err = s.db.MergePatch(r.Context(), col, id, body, opts)
	} else {
		res, err = s.db.Patch(r.Context(), col, id, body, opts)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeResult(w, r, col, res)
}

// deleteDoc serves DELETE /api/{col}/{id}.
func (s *Server) deleteDoc(w http.ResponseWriter, r *http.Request) {
	col, id, opts, ok := s.docTarget(w, r)
	if !ok {
		return
	}
	if err := s.db.Delete(r.Context(), col, id, opts); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, api.DeleteResult{ID: id, Deleted: true})
}

// docTarget reads a document route's collection, id and preconditions,
// answering the request itself when one is bad.
func (s *Server) docTarget(w http.ResponseWriter, r *http.Request) (col, id string, opts docstore.WriteOptions, ok bool) {
	col, err := colParam(r)
	if err == nil {
		id, err = idParam(r)
	}
	if err == nil {
		opts, err = s.writeOptions(r, col, id)
	}
	if err != nil {
		s.writeError(w, r, err)
		return "", "", opts, false
	}
	return col, id, opts, true
}

// insertMany serves POST /api/{col}/_insertMany: a bare JSON array of up
// to the docstore's MaxBatchDocs (MAX_BATCH) documents, stored atomically (all or none). Each
// document replaces any with its _id (the answer counts inserted and
// replaced ones); with ?upsert=false an existing _id fails the batch with
// 409 duplicate_key. Two documents with the same _id are refused.
func (s *Server) insertMany(w http.ResponseWriter, r *http.Request) {
	col, body, ok := s.colAndBody(w, r)
	if !ok {
		return
	}
	upsert, err := boolParam(r, "upsert", true)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	docs, err := splitArray(body)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	insert := s.db.InsertMany
	if !upsert {
		insert = s.db.InsertNew
	}
	res, err := insert(r.Context(), col, docs)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := api.InsertManyResult{Results: make([]api.WriteResult, len(res))}
	for i, wr := range res {
		out.Results[i] = api.WriteResult{ID: wr.ID, Rev: wr.Rev, Created: wr.Created}
		if wr.Created {
			out.Inserted++
		} else {
			out.Replaced++
		}
	}
	writeJSON(w, http.StatusCreated, out)
}

// boolParam reads an optional true/false query parameter.
func boolParam(r *http.Request, name string, def bool) (bool, error) {
	if r.URL.RawQuery == "" {
		return def, nil
	}
	switch r.URL.Query().Get(name) {
	case "":
		return def, nil
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, reqErr(codeBadParameter, "query parameter "+name+" must be true or false")
}

// upsertMany serves POST /api/{col}/_update with "upsert": true.
func (s *Server) upsertMany(w http.ResponseWriter, r *http.Request, col string, req api.UpdateRequest) {
	res, err := s.db.UpsertMany(r.Context(), col, req.Filter, req.Update)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, api.UpdateResult{Matched: res.Matched, Modified: res.Modified, UpsertedID: res.UpsertedID})
}

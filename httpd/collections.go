package httpd

import (
	"log/slog"
	"net/http"

	"github.com/minidbgo/minidbgo/docstore"
	"github.com/minidbgo/minidbgo/httpd/client/api"
)

// listCollections serves GET /api/_collections: [{"name", "docCount",
// "byteSize"}], from maintained counts (no document is read).
func (s *Server) listCollections(w http.ResponseWriter, r *http.Request) {
	cols, err := s.db.Collections()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]api.Collection, len(cols))
	for i, c := range cols {
		out[i] = api.Collection{Name: c.Name, DocCount: c.DocCount, ByteSize: c.ByteSize}
	}
	writeJSON(w, http.StatusOK, out)
}

// collectionStats serves GET /api/{col}: its name, count and size.
func (s *Server) collectionStats(w http.ResponseWriter, r *http.Request) {
	col, err := colParam(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	c, err := s.db.Stats(col)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, api.Collection{Name: c.Name, DocCount: c.DocCount, ByteSize: c.ByteSize})
}

// dropCollection serves DELETE /api/{col}: the collection, its documents
// and its indexes.
func (s *Server) dropCollection(w http.ResponseWriter, r *http.Request) {
	col, err := colParam(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.db.DropCollection(r.Context(), col); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, api.Dropped{Collection: col, Dropped: true})
}

func indexOf(spec docstore.IndexSpec) api.Index {
	ix := api.Index{Name: spec.Name, Unique: spec.Unique, Multikey: spec.Multikey, Building: spec.Building,
		Fields: make([]api.IndexField, len(spec.Fields)), ExpireAfterSeconds: spec.ExpireAfterSeconds}
	for i, f := range spec.Fields {
		ix.Fields[i] = api.IndexField{Path: f.Path, Desc: f.Desc}
	}
	return ix
}

func indexInfoOf(info docstore.IndexInfo) api.Index {
	ix := indexOf(info.IndexSpec)
	if info.Building {
		ix.Progress = &api.IndexProgress{Indexed: info.Indexed, Total: info.Total}
	}
	return ix
}

// listIndexes serves GET /api/{col}/_indexes.
func (s *Server) listIndexes(w http.ResponseWriter, r *http.Request) {
	col, err := colParam(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	infos, err := s.db.IndexInfos(col)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]api.Index, len(infos))
	for i, info := range infos {
		out[i] = indexInfoOf(info)
	}
	writeJSON(w, http.StatusOK, out)
}

// createIndex serves POST /api/{col}/_indexes: {"fields": ["category",
// "-price"], "unique": false, "name": "optional"}. It returns when the
// index is built: 201 with the index, or 200 when an identical index
// already existed (a different one with the same name is 409). An
// identical index that is still building (one a restart resumed, or
// another request's) is 202 with its progress, at once.
func (s *Server) createIndex(w http.ResponseWriter, r *http.Request) {
	col, body, ok := s.colAndBody(w, r)
	if !ok {
		return
	}
	spec, err := docstore.ParseIndexSpec(body)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	existed := false
	if infos, err := s.db.IndexInfos(col); err == nil {
		for _, info := range infos {
			if info.Name != spec.Name {
				continue
			}
			existed = true
			if info.Building && info.SameDefinition(spec) {
				writeJSON(w, http.StatusAccepted, indexInfoOf(info))
				return
			}
		}
	}
	if err := s.db.CreateIndex(r.Context(), col, spec, nil); err != nil {
		s.writeError(w, r, err)
		return
	}
	status := http.StatusCreated
	if existed {
		status = http.StatusOK
	}
	if specs, err := s.db.ListIndexes(col); err == nil {
		for _, sp := range specs {
			if sp.Name == spec.Name {
				spec = sp
			}
		}
	}
	writeJSON(w, status, indexOf(spec))
}

// dropIndex serves DELETE /api/{col}/_indexes/{name}.
func (s *Server) dropIndex(w http.ResponseWriter, r *http.Request) {
	col, err := colParam(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	name, err := pathParam(r, "name")
	if err != nil || !docstore.ValidName(name) {
		s.writeError(w, r, &docstore.Error{Code: docstore.CodeInvalidName, Index: -1,
			Msg: "invalid index name " + quote(name) + ": must match ^[A-Za-z0-9_-]{1,64}$"})
		return
	}
	if err := s.db.DropIndex(r.Context(), col, name); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, api.Dropped{Collection: col, Index: name, Dropped: true})
}

// export serves GET /api/{col}/_export: the collection's documents as
// NDJSON, streamed from a snapshot.
func (s *Server) export(w http.ResponseWriter, r *http.Request) {
	col, err := colParam(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if _, err := s.db.Stats(col); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	if r.Method == http.MethodHead {
		return
	}
	dw := s.downloadWriter(w)
	n, err := s.db.Export(r.Context(), col, dw)
	s.endStream(w, r, dw, err, slog.Int64("documents", n))
}

// importDocs serves POST /api/{col}/_import: NDJSON documents (or JSON
// objects one after another, with or without newlines), upserted in
// batches. A bad document stops the import with 400 and its line number
// as "index"; the documents before it are stored.
func (s *Server) importDocs(w http.ResponseWriter, r *http.Request) {
	col, err := colParam(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := checkContentType(r, true); err != nil {
		s.writeError(w, r, err)
		return
	}
	n, err := s.db.Import(r.Context(), col, s.uploadReader(w, r.Body))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, api.ImportResult{Imported: n})
}

// endStream finishes a streamed response. An error before the first byte
// is an ordinary error response; after it, the response is cut short
// (the client sees a truncated chunked body, never a clean end).
func (s *Server) endStream(w http.ResponseWriter, r *http.Request, dw *deadlineWriter, err error, attrs ...slog.Attr) {
	if err == nil {
		return
	}
	if !dw.wrote {
		w.Header().Del("Content-Type")
		s.writeError(w, r, err)
		return
	}
	attrs = append(attrs, slog.String("request_id", requestID(r.Context())), slog.String("error", err.Error()))
	switch {
	case dw.werr != nil || r.Context().Err() != nil:
		// The client went away or stopped reading (broken pipe, reset,
		// write timeout): not a fault of the server.
		s.logger.LogAttrs(r.Context(), slog.LevelInfo, "stream ended early: the client stopped reading", attrs...)
	default:
		s.logger.LogAttrs(r.Context(), slog.LevelError, "stream failed", attrs...)
	}
	panic(http.ErrAbortHandler)
}

func quote(s string) string {
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return `"` + s + `"`
}

package httpd

import (
	"fmt"
	"net/http"

	"github.com/minidbgo/minidbgo/docstore"
	"github.com/minidbgo/minidbgo/httpd/client/api"
)

// whoami serves GET /api/_whoami: the scope of the caller's API key
// ("admin" for everyone when authentication is off), so that a client
// such as the web console can leave out what the key may not do.
func (s *Server) whoami(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, api.Whoami{Role: principalOf(r.Context()).scope.String(), Auth: s.cfg.Keys != nil})
}

// createCollection serves POST /api/_collections: {"name": "c"} makes
// an empty collection; 201 when it is new, 200 when it existed (nothing
// changes).
func (s *Server) createCollection(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var req api.CreateCollectionRequest
	if err := decodeControl(body, &req, false); err != nil {
		s.writeError(w, r, err)
		return
	}
	if !docstore.ValidName(req.Name) {
		s.writeError(w, r, &docstore.Error{Code: docstore.CodeInvalidName, Index: -1,
			Msg: fmt.Sprintf("invalid collection name %q: must match ^[A-Za-z0-9_-]{1,64}$", truncate(req.Name, 100))})
		return
	}
	created, err := s.db.CreateCollection(r.Context(), req.Name)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	c, err := s.db.Stats(req.Name)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, api.Collection{Name: c.Name, DocCount: c.DocCount, ByteSize: c.ByteSize})
}

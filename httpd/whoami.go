package httpd

import (
	"net/http"

	"github.com/minidbgo/minidbgo/httpd/client/api"
)

// whoami serves GET /api/_whoami: the scope of the caller's API key
// ("admin" for everyone when authentication is off), so that a client
// such as the web console can leave out what the key may not do.
func (s *Server) whoami(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, api.Whoami{Role: principalOf(r.Context()).scope.String(), Auth: s.cfg.Keys != nil})
}

// createCollection serves PUT /api/{col}: make an empty collection; 201
// when it is new, 200 when it existed (nothing changes).
func (s *Server) createCollection(w http.ResponseWriter, r *http.Request) {
	col, err := colParam(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	created, err := s.db.CreateCollection(r.Context(), col)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	c, err := s.db.Stats(col)
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

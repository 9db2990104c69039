package httpd

import (
	"expvar"
	"fmt"
	"net/http"
	"net/http/pprof"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/minidbgo/minidbgo/httpd/console"
)

// routes builds the route tree. Every route here is described in
// docs/openapi.yaml (TestOpenAPIMatchesRoutes keeps them in step).
func (s *Server) routes() chi.Router {
	r := chi.NewRouter()
	// HEAD is served by the GET handler of the same route (curl -I, and
	// existence checks with the ETag, without the body).
	r.Use(s.withRequestID, s.observe, s.recoverer, s.guard)
	if s.cfg.CompressMinBytes > 0 {
		compress, err := compressor(s.cfg.CompressMinBytes)
		if err != nil {
			panic(fmt.Sprintf("httpd: compression settings: %v", err)) // fixed options: a programming error
		}
		r.Use(compress)
	}
	r.Use(middleware.GetHead)
	r.NotFound(s.notFound)
	r.MethodNotAllowed(s.methodNotAllowed)

	// Liveness and readiness: no auth, no concurrency limit.
	r.Get("/api/health", s.health)
	r.Get("/api/ready", s.ready)
	// Cluster status: no auth, so that nodes can find each other.
	r.Get("/api/_cluster", s.clusterStatus)

	// The web console's files (package console); its API calls carry the key.
	con := console.New(http.HandlerFunc(s.notFound), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, reqErr("precondition_failed", fmt.Sprintf("If-Match %q does not name the current ETag of %s",
			truncate(r.Header.Get("If-Match"), 100), truncate(r.URL.EscapedPath(), 200))))
	}))
	r.Get("/", console.Redirect)
	r.Get("/console", console.Redirect)
	r.Get("/console/", con.ServeHTTP)
	r.Get("/console/{asset}", con.ServeHTTP)

	read, write, admin := s.need(ScopeRead), s.need(ScopeWrite), s.need(ScopeAdmin)
	r.Group(func(r chi.Router) {
		r.Use(s.authenticate, s.rateLimit)

		// Streaming routes: deadlines move with the data (stream.go);
		// uploads reserve memory before their slot (admission.go).
		r.With(s.streamAdmit, s.throttle, read).Get("/api/dumpDB", s.dumpDB)
		r.With(s.streamAdmit, s.throttle, admin).Post("/api/restoreDB", s.restoreDB)
		r.With(s.streamAdmit, s.throttle, admin).Get("/api/backup", s.backup)
		r.With(s.streamAdmit, s.throttle, read).Get("/api/{col}/_export", s.export)
		r.With(s.streamAdmit, s.throttle, write).Post("/api/{col}/_import", s.importDocs)

		// Change feeds (changes.go): no request timeout and no minimum
		// transfer rate; a feed takes a concurrency slot only while it
		// reads and sends a page, and MaxFeeds bounds the open ones.
		r.With(s.admitBody, read).Get("/api/_changes", s.changes)
		r.With(s.admitBody, read).Post("/api/_changes", s.changes)
		r.With(s.admitBody, read).Get("/api/{col}/_changes", s.changes)
		r.With(s.admitBody, read).Post("/api/{col}/_changes", s.changes)

		// Debug: admin keys, or no auth and loopback only; no timeout.
		r.Route("/debug", func(r chi.Router) {
			r.Use(s.throttle, s.debugGate)
			r.Get("/pprof/", pprof.Index)
			r.Get("/pprof/cmdline", pprof.Cmdline)
			r.Get("/pprof/profile", pprof.Profile)
			r.Get("/pprof/symbol", pprof.Symbol)
			r.Get("/pprof/trace", pprof.Trace)
			r.Get("/pprof/{profile}", s.pprofProfile)
			r.Get("/vars", expvar.Handler().ServeHTTP)
		})

		r.Group(func(r chi.Router) {
			// The body is read (within the memory budget and the
			// minimum rate) before the request takes a slot.
			r.Use(s.admitBody, s.throttle, s.timeout)
			r.With(read).Get("/metrics", s.promHandler)
			r.With(s.debugGate).Post("/api/debug/gc", s.gc)

			r.With(read).Get("/api/metrics", s.metricsHandler)
			r.With(read).Get("/api/stats", s.statsHandler)
			r.With(read).Get("/api/_collections", s.listCollections)
			r.With(write).Post("/api/_collections", s.createCollection)
			r.With(read).Get("/api/_whoami", s.whoami)
			r.With(admin).Post("/api/_compact", s.compact)
			r.With(admin).Post("/api/_cluster/join", s.clusterAdmin("join"))
			r.With(admin).Post("/api/_cluster/remove", s.clusterAdmin("remove"))
			r.With(admin).Post("/api/_cluster/transfer-leadership", s.clusterAdmin("transfer-leadership"))

			r.With(write).Post("/api/{col}", s.insertOne)
			r.With(read).Get("/api/{col}", s.collectionStats)
			r.With(write).Delete("/api/{col}", s.dropCollection)

			r.With(read, s.notRouteName).Get(docPattern, s.getDoc)
			r.With(write, s.notRouteName).Put(docPattern, s.putDoc)
			r.With(write, s.notRouteName).Patch(docPattern, s.patchDoc)
			r.With(write, s.notRouteName).Delete(docPattern, s.deleteDoc)

			r.With(write).Post("/api/{col}/_insertMany", s.insertMany)
			r.With(read).Post("/api/{col}/_search", s.search)
			r.With(read).Post("/api/{col}/_find", s.find)
			r.With(read).Post("/api/{col}/_count", s.count)
			r.With(read).Post("/api/{col}/_distinct", s.distinct)
			r.With(read).Post("/api/{col}/_explain", s.explain)
			r.With(read).Post("/api/{col}/_aggregate", s.aggregate)
			r.With(write).Post("/api/{col}/_update", s.updateMany)
			r.With(write).Post("/api/{col}/_delete", s.deleteMany)

			r.With(read).Get("/api/{col}/_indexes", s.listIndexes)
			r.With(write).Post("/api/{col}/_indexes", s.createIndex)
			r.With(write).Delete("/api/{col}/_indexes/{name}", s.dropIndex)
		})
	})
	s.router = r // methodNotAllowed probes it
	return r
}

// notFound answers unknown paths with a JSON 404.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	s.writeError(w, r, reqErr(codeNotFoundRoute, fmt.Sprintf("no route for %s %s", r.Method, truncate(r.URL.EscapedPath(), 200))))
}

// docPattern is the route of one document.
const docPattern = "/api/{col}/{id}"

// allowed returns the methods r's path has a route for, and whether one
// of those routes is a collection route named like a document
// (/api/{col}/_find, _delete, _indexes, …). Such a name is the route's,
// not a document's: the document routes do not serve it.
func (s *Server) allowed(r *http.Request) (methods []string, routeName bool) {
	path := r.URL.Path
	if r.URL.RawPath != "" {
		path = r.URL.RawPath
	}
	var doc []string
	for _, m := range probeMethods {
		rctx := chi.NewRouteContext()
		if !s.router.Match(rctx, m, path) {
			continue
		}
		list := &methods
		if rctx.RoutePattern() == docPattern {
			list = &doc
		} else if strings.HasPrefix(rctx.RoutePattern(), "/api/{col}/_") {
			routeName = true
		}
		*list = append(*list, m)
		if m == http.MethodGet {
			*list = append(*list, http.MethodHead) // GetHead serves it
		}
	}
	if !routeName {
		methods = append(methods, doc...)
	}
	return methods, routeName
}

// notRouteName answers 405 for a document route whose id is the name of
// a collection route: PUT /api/c/_delete is not a document named
// "_delete" but a method _delete does not have. (Such a document is
// reached with its id escaped, /api/c/%5Fdelete, or through _find.)
func (s *Server) notRouteName(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(chi.URLParam(r, "id"), "_") {
			if _, routeName := s.allowed(r); routeName {
				s.methodNotAllowed(w, r)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// probeMethods are the methods a 405's Allow header may list.
var probeMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// methodNotAllowed answers a known path with a wrong method: a JSON 405
// whose Allow header lists the methods the path has.
func (s *Server) methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	allowed, _ := s.allowed(r)
	w.Header().Set("Allow", strings.Join(allowed, ", "))
	s.writeError(w, r, reqErr(codeMethodNotAllowed,
		fmt.Sprintf("method %s is not allowed here; allowed: %s", r.Method, strings.Join(allowed, ", "))))
}

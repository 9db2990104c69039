package httpd

import (
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Browsers are clients too, and a page from any site can make one send a
// request to the server: a form POST needs no preflight, carries
// application/x-www-form-urlencoded (which the server reads as JSON, for
// the guide's curl -d), and on the default set-up (loopback, no API keys)
// needs no credentials. guard refuses what only a foreign page would send:
//
//   - a state-changing request (any method but GET, HEAD and OPTIONS)
//     with an Origin header that is neither the server's own origin nor
//     one of Config.AllowedOrigins (CSRF); curl and other non-browser
//     clients send no Origin;
//   - with Config.CheckHost (the server listens on loopback only), a Host
//     header other than localhost, a loopback address, the listen address
//     or one of Config.AllowedHosts: a DNS-rebinding page reaches
//     127.0.0.1 under its own name, and without the check would read
//     every route, /debug/pprof/cmdline included, as same-origin;
//   - with Config.NoFormJSON, an application/x-www-form-urlencoded body.
//
// It also answers CORS preflights and sets Access-Control-Allow-Origin
// for Config.AllowedOrigins, so that a page allowed there can use the API.

// The codes of guard's refusals (both 403).
const (
	codeCrossOrigin = "cross_origin"
	codeBadHost     = "host_not_allowed"
)

// corsAllowHeaders are the request headers a preflight may ask for.
const corsAllowHeaders = "Authorization, Content-Type, If-Match, If-None-Match, X-Request-ID"

// guard applies the checks above; see the comment at the top of origin.go.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.CheckHost && !s.hostAllowed(r.Host) {
			s.writeError(w, r, reqErr(codeBadHost, "Host "+quote(truncate(r.Host, 64))+
				" is not a name of this server (it listens on loopback only): use localhost or 127.0.0.1, or add the name to ALLOWED_HOSTS"))
			return
		}
		origin := r.Header.Get("Origin")
		if origin != "" {
			sameOrigin := s.sameOrigin(origin, r)
			listed := s.originListed(origin)
			if listed {
				h := w.Header()
				h.Set("Access-Control-Allow-Origin", origin)
				h.Add("Vary", "Origin")
				h.Set("Access-Control-Expose-Headers", "ETag, X-Request-ID, Retry-After")
			}
			if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
				if !listed && !sameOrigin {
					s.writeError(w, r, reqErr(codeCrossOrigin, "origin "+quote(truncate(origin, 100))+" is not allowed: add it to CORS_ORIGINS"))
					return
				}
				h := w.Header()
				h.Set("Access-Control-Allow-Methods", "GET, HEAD, POST, PUT, PATCH, DELETE")
				h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
				h.Set("Access-Control-Max-Age", "600")
				w.WriteHeader(http.StatusNoContent)
				return
			}
			if !safeMethod(r.Method) && !listed && !sameOrigin {
				s.writeError(w, r, reqErr(codeCrossOrigin, "cross-origin "+r.Method+" from "+quote(truncate(origin, 100))+
					" refused: a web page may not change the database unless CORS_ORIGINS lists its origin"))
				return
			}
		}
		if s.cfg.NoFormJSON && !safeMethod(r.Method) {
			if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/x-www-form-urlencoded" {
				s.writeError(w, r, reqErr(codeUnsupportedType, "application/x-www-form-urlencoded is not accepted (FORM_AS_JSON=false): send Content-Type: application/json"))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// hostAllowed reports whether a Host header names this server.
func (s *Server) hostAllowed(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	switch host {
	case "127.0.0.1", "localhost", "::1": // the usual names, without parsing
		return true
	}
	host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	if ip := net.ParseIP(host); ip != nil && (ip.IsLoopback() || ip.IsUnspecified()) {
		return true
	}
	if s.cfg.ListenAddr != "" {
		lh := s.cfg.ListenAddr
		if h, _, err := net.SplitHostPort(lh); err == nil {
			lh = h
		}
		if strings.EqualFold(strings.Trim(lh, "[]"), host) {
			return true
		}
	}
	return slices.ContainsFunc(s.cfg.AllowedHosts, func(a string) bool { return strings.EqualFold(a, host) })
}

// sameOrigin reports whether origin is the server's own (scheme aside,
// the host and port the request was sent to).
func (s *Server) sameOrigin(origin string, r *http.Request) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return false // "null" (a sandboxed page, file://) included
	}
	return strings.EqualFold(u.Host, r.Host)
}

// originListed reports whether CORS_ORIGINS allows origin.
func (s *Server) originListed(origin string) bool {
	for _, a := range s.cfg.AllowedOrigins {
		if a == "*" || strings.EqualFold(strings.TrimSuffix(a, "/"), origin) {
			return true
		}
	}
	return false
}

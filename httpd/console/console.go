// Package console is MiniDBGo's web console: a single page of plain HTML,
// CSS and JavaScript modules, embedded in the server with go:embed and
// served at /console/ (no build step, no external requests).
//
// The files are public, like any login page: what the console shows it
// reads from the API with the API key the user enters, which the page
// keeps in sessionStorage and sends as Authorization: Bearer, never in a
// URL. The page asks GET /api/_whoami for the key's scope and draws no
// write controls for a read-only key (the API refuses its writes with 403
// anyway).
//
// The page names no absolute path: it reaches the server relative to
// where it is served (serverURL in api.js), and Redirect's Location is
// relative, so the console works behind a reverse proxy that serves the
// server under a path prefix (docs/console.md).
//
// Every file is answered with its ETag (a hash of its contents) and
// Cache-Control: no-cache, so a browser revalidates it (304) and a new
// server version is picked up at once; the headers of every answer forbid
// framing, sniffing and requests to other origins (Content-Security-Policy).
package console

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
)

//go:embed static
var static embed.FS

// Prefix is the path the console is served under.
const Prefix = "/console/"

// csp allows the page its own files and same-origin API calls only.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"

type asset struct {
	body  []byte
	ctype string
	etag  string
}

// Handler serves the console's files.
type Handler struct {
	assets     map[string]asset
	notFound   http.Handler
	precondErr http.Handler
}

// New returns the console's handler. Paths under Prefix that name no
// file are passed to notFound, and requests whose If-Match names no
// current ETag to preconditionFailed (both write the API's JSON errors).
func New(notFound, preconditionFailed http.Handler) *Handler {
	h := &Handler{assets: make(map[string]asset), notFound: notFound, precondErr: preconditionFailed}
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := static.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		ct := mime.TypeByExtension(path.Ext(p))
		switch path.Ext(p) { // not left to the host's mime tables
		case ".html":
			ct = "text/html; charset=utf-8"
		case ".js":
			ct = "text/javascript; charset=utf-8"
		case ".css":
			ct = "text/css; charset=utf-8"
		case ".svg":
			ct = "image/svg+xml"
		case ".png":
			ct = "image/png"
		}
		if ct == "" {
			ct = "application/octet-stream"
		}
		h.assets[strings.TrimPrefix(p, "static/")] = asset{body: b, ctype: ct, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	if err != nil {
		panic("console: embedded files: " + err.Error()) // the embedded tree is fixed at build time
	}
	return h
}

// Files returns the names of the embedded files (for tests).
func (h *Handler) Files() []string {
	out := make([]string, 0, len(h.assets))
	for n := range h.assets {
		out = append(out, n)
	}
	return out
}

// ServeHTTP answers GET (and HEAD) of Prefix (index.html) and of
// Prefix+name for each embedded file: 304 for a matching If-None-Match,
// 412 (through preconditionFailed) for an If-Match that names another
// ETag, and otherwise the whole file (a Range header is ignored, as RFC
// 9110 allows: the files are small).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, ok := strings.CutPrefix(r.URL.Path, Prefix)
	if name == "" {
		name = "index.html"
	}
	a, found := h.assets[name]
	if !ok || !found || strings.Contains(name, "/") {
		h.notFound.ServeHTTP(w, r)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", a.ctype)
	hd.Set("ETag", a.etag)
	hd.Set("Cache-Control", "no-cache")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Content-Security-Policy", csp)
	if im := r.Header.Get("If-Match"); im != "" && !etagListed(im, a.etag, false) {
		hd.Del("Content-Type")
		hd.Del("ETag")
		h.precondErr.ServeHTTP(w, r)
		return
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagListed(inm, a.etag, true) {
		hd.Del("Content-Type")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hd.Set("Content-Length", strconv.Itoa(len(a.body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(a.body) //nolint:errcheck // the client went away; nothing to do
	}
}

// etagListed reports whether the header value list (an If-Match or
// If-None-Match) names etag or is "*". The weak comparison (RFC 9110
// 8.8.3.2, for If-None-Match) ignores a W/ prefix; the strong one (for
// If-Match) never matches a weak tag.
func etagListed(list, etag string, weak bool) bool {
	for t := range strings.SplitSeq(list, ",") {
		t = strings.TrimSpace(t)
		if t == "*" {
			return true
		}
		if w, ok := strings.CutPrefix(t, "W/"); ok {
			if !weak {
				continue
			}
			t = w
		}
		if t == etag {
			return true
		}
	}
	return false
}

// redirectTo is the Location of Redirect: relative, so that a browser
// resolves it against the URL it asked for, which behind a reverse proxy
// serving the server under a path prefix has that prefix: "console/"
// relative to /db/ and to /db/console is /db/console/ (and to / and
// /console, /console/). http.Redirect would make it absolute.
const redirectTo = "console/"

// Redirect sends the browser to the console (GET / and /console) with a
// relative Location.
func Redirect(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Location", redirectTo)
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusFound)
	if r.Method == http.MethodGet {
		io.WriteString(w, `<a href="`+redirectTo+`">Found</a>.`+"\n") //nolint:errcheck // the client went away; nothing to do
	}
}

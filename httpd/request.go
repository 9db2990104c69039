package httpd

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"github.com/minidbgo/minidbgo/docstore"
)

// Request parsing shared by the handlers: content types, bodies, path
// parameters, query parameters and preconditions.

// checkContentType accepts the content types a JSON body may come with:
// application/json, none at all, and application/x-www-form-urlencoded
// (what curl -d sends), plus application/x-ndjson where ndjson is set
// (restoreDB, _import). Anything else is 415, as is a compressed body
// (any Content-Encoding but identity): storing gzip bytes as if they were
// the document would be worse than refusing them.
func checkContentType(r *http.Request, ndjson bool) error {
	for _, enc := range r.Header.Values("Content-Encoding") {
		for e := range strings.SplitSeq(enc, ",") {
			if e = strings.TrimSpace(e); e != "" && !strings.EqualFold(e, "identity") {
				return reqErr(codeUnsupportedType, fmt.Sprintf("unsupported Content-Encoding %q: send the body uncompressed", truncate(e, 64)))
			}
		}
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" || ct == "application/json" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return reqErr(codeUnsupportedType, fmt.Sprintf("malformed Content-Type %q", ct))
	}
	switch mt {
	case "application/json", "application/x-www-form-urlencoded":
		return nil
	case "application/merge-patch+json": // RFC 7396, on PATCH only
		if r.Method == http.MethodPatch {
			return nil
		}
	case "application/x-ndjson", "application/jsonl", "application/json-seq":
		if ndjson {
			return nil
		}
	}
	want := "application/json"
	if ndjson {
		want = "application/x-ndjson or application/json"
	}
	return reqErr(codeUnsupportedType, fmt.Sprintf("unsupported Content-Type %q: send %s", mt, want))
}

// readBody reads a JSON request body (read already, within the limits,
// by the admitBody middleware).
func readBody(r *http.Request) ([]byte, error) {
	if err := checkContentType(r, false); err != nil {
		return nil, err
	}
	if r.Body == nil {
		return nil, nil
	}
	if bb, ok := r.Body.(*bufferedBody); ok {
		return bb.b, nil
	}
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength))
	}
	if _, err := buf.ReadFrom(r.Body); err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return nil, err
		}
		return nil, reqErr(codeBadBody, "reading the request body: "+err.Error())
	}
	return buf.Bytes(), nil
}

// decodeControl decodes a control body (the _find, _count, _update,
// _delete requests) into v: one JSON object of known fields. Filters,
// sorts and updates inside it stay raw and are parsed strictly by
// docstore; here the body must be valid UTF-8, one value, without
// unknown fields. An empty body leaves v as is when emptyOK.
func decodeControl(body []byte, v any, emptyOK bool) error {
	if len(bytes.TrimSpace(body)) == 0 {
		if emptyOK {
			return nil
		}
		return reqErr("empty_body", "the request body is empty: send a JSON object")
	}
	if !utf8.Valid(body) {
		return reqErr("invalid_utf8", "the request body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonErr(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return reqErr("trailing_data", "unexpected data after the JSON object")
	}
	return nil
}

// jsonErr turns an encoding/json error into a request error with the
// docstore's codes.
func jsonErr(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		if strings.Contains(se.Error(), "max depth") {
			return reqErr("too_deep", fmt.Sprintf("invalid JSON at byte %d: nested too deeply", se.Offset))
		}
		return reqErr("invalid_json", fmt.Sprintf("invalid JSON at byte %d: %s", se.Offset, se.Error()))
	case errors.As(err, &te):
		if te.Field == "" {
			return reqErr("invalid_json", fmt.Sprintf("invalid JSON at byte %d: expected %s, got %s", te.Offset, te.Type, te.Value))
		}
		return reqErr("invalid_json", fmt.Sprintf("invalid JSON at byte %d: field %q must be %s, got %s", te.Offset, te.Field, te.Type, te.Value))
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return reqErr("invalid_json", "invalid JSON: unexpected end of input")
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return reqErr(codeBadBody, strings.TrimPrefix(err.Error(), "json: "))
	}
	return reqErr("invalid_json", "invalid JSON: "+err.Error())
}

// splitArray splits a JSON array body (the _insertMany body) into its
// elements' raw bytes, which docstore then parses strictly, one by one.
func splitArray(body []byte) ([][]byte, error) {
	t := bytes.TrimSpace(body)
	if len(t) == 0 {
		return nil, reqErr("empty_body", "the request body is empty: send a JSON array of documents")
	}
	if !utf8.Valid(body) {
		return nil, reqErr("invalid_utf8", "the request body is not valid UTF-8")
	}
	if t[0] != '[' {
		return nil, reqErr("body_must_be_array", "the request body must be a JSON array of documents")
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(body, &raws); err != nil {
		return nil, jsonErr(err)
	}
	out := make([][]byte, len(raws))
	for i, r := range raws {
		out[i] = r
	}
	return out, nil
}

// colParam returns the {col} path parameter, unescaped and validated.
func colParam(r *http.Request) (string, error) {
	col, err := pathParam(r, "col")
	if err != nil || !docstore.ValidName(col) {
		return "", &docstore.Error{Code: docstore.CodeInvalidName, Index: -1,
			Msg: fmt.Sprintf("invalid collection name %q: must match ^[A-Za-z0-9_-]{1,64}$", col)}
	}
	return col, nil
}

// idParam returns the {id} path parameter, unescaped and validated: valid
// UTF-8, 1 to docstore.MaxIDBytes bytes.
func idParam(r *http.Request) (string, error) {
	id, err := pathParam(r, "id")
	if err != nil || id == "" || len(id) > docstore.MaxIDBytes || !utf8.ValidString(id) {
		return "", &docstore.Error{Code: docstore.CodeInvalidID, Index: -1,
			Msg: fmt.Sprintf("invalid _id in the path: must be 1 to %d bytes of valid UTF-8", docstore.MaxIDBytes)}
	}
	return id, nil
}

// pathParam returns a path parameter unescaped. chi routes on the raw
// path when the URL has escapes that the decoded path cannot show (%2F),
// and then its parameters are still escaped.
func pathParam(r *http.Request, name string) (string, error) {
	v := chi.URLParam(r, name)
	if r.URL.RawPath == "" {
		return v, nil
	}
	return url.PathUnescape(v)
}

// intParam parses a non-negative integer query parameter; absent is 0.
func intParam(r *http.Request, name string) (int, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, reqErr(codeBadParameter, fmt.Sprintf("query parameter %s=%q must be a non-negative integer", name, s))
	}
	return int(min(n, 1<<31)), nil
}

// ifMatch reads If-Match: "" (absent), "*" or a list of ETags ("rev").
// It returns the revisions listed and whether "*" was given.
func ifMatch(r *http.Request) (revs []uint64, any bool, present bool) {
	h := strings.TrimSpace(r.Header.Get("If-Match"))
	if h == "" {
		return nil, false, false
	}
	for _, part := range strings.Split(h, ",") {
		part = strings.TrimSpace(part)
		if part == "*" {
			return nil, true, true
		}
		if rev, ok := parseETag(part); ok {
			revs = append(revs, rev)
		}
	}
	return revs, false, true
}

// etag is a revision's entity tag.
func etag(rev uint64) string { return `"` + strconv.FormatUint(rev, 10) + `"` }

// parseETag reads "123" (or W/"123" or a bare 123) as a revision.
func parseETag(s string) (uint64, bool) {
	s = strings.TrimPrefix(s, "W/")
	s = strings.Trim(s, `"`)
	rev, err := strconv.ParseUint(s, 10, 64)
	return rev, err == nil && rev != 0
}

// writeOptions turns If-Match and If-None-Match into docstore
// preconditions. A list of ETags, or "*", is resolved against the
// document's current revision, which the write then requires.
func (s *Server) writeOptions(r *http.Request, col, id string) (docstore.WriteOptions, error) {
	var o docstore.WriteOptions
	if inm := strings.TrimSpace(r.Header.Get("If-None-Match")); inm != "" {
		if inm != "*" {
			return o, reqErr(codeBadParameter, `If-None-Match on a write must be "*"`)
		}
		o.IfNoneMatch = true
	}
	revs, anyRev, present := ifMatch(r)
	if !present {
		return o, nil
	}
	if len(revs) == 1 && !anyRev {
		o.IfMatch = revs[0]
		return o, nil
	}
	cur, err := s.db.Get(r.Context(), col, id)
	if errors.Is(err, docstore.ErrNotFound) {
		return o, reqErr("precondition_failed", fmt.Sprintf("document %q does not exist; If-Match requires it", id))
	}
	if err != nil {
		return o, err
	}
	if !anyRev {
		found := false
		for _, rev := range revs {
			found = found || rev == cur.Rev
		}
		if !found {
			return o, reqErr("precondition_failed", fmt.Sprintf("document %q is at revision %d, which If-Match does not list", id, cur.Rev))
		}
	}
	o.IfMatch = cur.Rev
	return o, nil
}

func itoa(i int) string { return strconv.Itoa(i) }

// colAndBody reads a request's collection name and body. When either is
// bad it writes the error response and reports false.
func (s *Server) colAndBody(w http.ResponseWriter, r *http.Request) (string, []byte, bool) {
	col, err := colParam(r)
	if err != nil {
		s.writeError(w, r, err)
		return "", nil, false
	}
	body, err := readBody(r)
	if err != nil {
		s.writeError(w, r, err)
		return "", nil, false
	}
	return col, body, true
}

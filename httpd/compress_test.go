package httpd

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/require"
)

// TestCompression: JSON and NDJSON answers from CompressMinBytes up are
// sent zstd- or gzip-compressed as Accept-Encoding asks, decode to the
// same bytes as the plain answer, and say Vary: Accept-Encoding; small
// answers, clients that accept neither and a server with compression
// off get the plain bytes. Issue 19 found Accept-Encoding ignored, also
// on _export and dumpDB.
func TestCompression(t *testing.T) {
	e := newEnv(t, envOptions{})
	var docs []string
	for i := range 200 {
		docs = append(docs, fmt.Sprintf(`{"_id":"d%03d","name":"document number %d","tags":["alpha","beta","gamma"]}`, i, i))
	}
	mustStatus(t, e.do("POST", "/api/c/_insertMany", "["+strings.Join(docs, ",")+"]"), http.StatusCreated)

	for _, tc := range []struct{ method, path, body string }{
		{"POST", "/api/c/_find", `{"limit":200}`},
		{"GET", "/api/c/_export", ""},
		{"GET", "/api/dumpDB", ""},
		{"GET", "/metrics", ""},
	} {
		plain := mustStatus(t, e.do(tc.method, tc.path, tc.body, "Accept-Encoding", "identity"), http.StatusOK)
		require.Empty(t, plain.header.Get("Content-Encoding"), tc.path)
		require.Greater(t, len(plain.body), 1024, tc.path)
		for _, enc := range []string{"gzip", "zstd"} {
			r := mustStatus(t, e.do(tc.method, tc.path, tc.body, "Accept-Encoding", enc), http.StatusOK)
			require.Equal(t, enc, r.header.Get("Content-Encoding"), tc.path)
			require.Contains(t, r.header.Values("Vary"), "Accept-Encoding", tc.path)
			got := decode(t, enc, r.body)
			require.Less(t, len(r.body), len(got), "%s %s compresses", tc.path, enc)
			if tc.path == "/metrics" { // counters move between scrapes
				require.Contains(t, string(got), "# TYPE ", tc.path)
				continue
			}
			require.Equal(t, string(plain.body), string(got), "%s %s", tc.path, enc)
		}
	}

	// Both accepted: zstd is preferred.
	r := mustStatus(t, e.do("POST", "/api/c/_find", `{"limit":200}`, "Accept-Encoding", "gzip, zstd"), http.StatusOK)
	require.Equal(t, "zstd", r.header.Get("Content-Encoding"))

	// A single small document stays plain.
	r = mustStatus(t, e.do("GET", "/api/c/d001", nil, "Accept-Encoding", "gzip"), http.StatusOK)
	require.Empty(t, r.header.Get("Content-Encoding"))
	require.NotEmpty(t, r.header.Get("ETag"), "the document's ETag is kept")

	// Errors are JSON either way.
	r = e.do("GET", "/api/c/missing", nil, "Accept-Encoding", "gzip")
	errorBody(t, r, http.StatusNotFound, "not_found")

	// Off.
	off := newEnv(t, envOptions{cfg: Config{CompressMinBytes: -1}})
	mustStatus(t, off.do("POST", "/api/c/_insertMany", "["+strings.Join(docs, ",")+"]"), http.StatusCreated)
	r = mustStatus(t, off.do("POST", "/api/c/_find", `{"limit":200}`, "Accept-Encoding", "gzip"), http.StatusOK)
	require.Empty(t, r.header.Get("Content-Encoding"))
}

func decode(t *testing.T, enc string, b []byte) []byte {
	t.Helper()
	var rd io.Reader
	switch enc {
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(b))
		require.NoError(t, err)
		rd = zr
	case "zstd":
		zr, err := zstd.NewReader(bytes.NewReader(b))
		require.NoError(t, err)
		defer zr.Close()
		rd = zr
	}
	out, err := io.ReadAll(rd)
	require.NoError(t, err)
	return out
}

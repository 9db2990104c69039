package httpd

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// rawDo sends raw bytes on a new connection and reads one answer.
func (e *env) rawDo(req string) response {
	e.t.Helper()
	c, err := net.Dial("tcp", e.ts.Listener.Addr().String())
	require.NoError(e.t, err)
	defer c.Close()
	require.NoError(e.t, c.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = io.WriteString(c, req)
	require.NoError(e.t, err)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// TestHTTPStackErrorsAreJSON: the answers net/http writes before any
// handler (a URL it cannot parse, headers too large, an unknown
// Transfer-Encoding) are JSON error bodies with a code, like every other.
func TestHTTPStackErrorsAreJSON(t *testing.T) {
	e := newEnv(t, envOptions{})
	r := e.rawDo("GET /api/users/%zz HTTP/1.1\r\nHost: x\r\n\r\n")
	er := errorBody(t, r, http.StatusBadRequest, "bad_request")
	require.Contains(t, er.Error, "%-escape")

	r = e.rawDo("GET /api/users/a HTTP/1.1\r\n\r\n")
	er = errorBody(t, r, http.StatusBadRequest, "bad_request")
	require.Contains(t, er.Error, "Host")

	r = e.rawDo("GET /api/users/a HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 128<<10) + "\r\n\r\n")
	errorBody(t, r, http.StatusRequestHeaderFieldsTooLarge, "headers_too_large")

	r = e.rawDo("POST /api/users HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n")
	errorBody(t, r, http.StatusNotImplemented, "unsupported_transfer_encoding")

	// Handlers' answers pass through untouched, on the same connection
	// as a later malformed request.
	r = e.rawDo("GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
	mustStatus(t, r, http.StatusOK)
	require.Contains(t, string(r.body), `"status":"ok"`)
	mustStatus(t, e.do("GET", "/debug/pprof/cmdline", nil), http.StatusForbidden)
}

// TestJSONErrorAnswerOnlyMatchesNetHTTP: writes that only resemble
// net/http's error answers pass through unchanged.
func TestJSONErrorAnswerOnlyMatchesNetHTTP(t *testing.T) {
	for _, p := range []string{
		"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n200 OK",
		"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\nsomething else",
		"HTTP/1.1 400 Bad Request\r\nDate: x\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request",
		"hello",
	} {
		_, ok := jsonErrorAnswer([]byte(p))
		require.False(t, ok, p)
	}
	b, ok := jsonErrorAnswer([]byte("HTTP/1.1 400 Bad Request" + netHTTPErrorHeaders + "400 Bad Request"))
	require.True(t, ok)
	require.Contains(t, string(b), `"code":"bad_request"`)
}

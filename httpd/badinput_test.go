package httpd

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// badInput is one row of RELIABILITY.md §4.
type badInput struct {
	row    int
	name   string
	method string
	path   string
	body   any
	hdr    []string
	status int
	code   string // "" when net/http answers (no JSON body)
}

// TestBadInputs replays every row of RELIABILITY.md §4 that concerns the
// server (1–31): the status, the JSON error body, a database unchanged
// (a hash of a full dump and the last sequence number) and a server still
// healthy afterwards.
func TestBadInputs(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.seed()
	tag := e.do("GET", "/api/products/p1", nil).header.Get("ETag")
	mustStatus(t, e.do("PUT", "/api/products/p1", `{"name":"lamp","price":21}`), http.StatusOK) // tag is now stale

	deepArrays := strings.Repeat("[", 10001)
	deepObjects := strings.Repeat(`{"a":`, 65) + "1" + strings.Repeat("}", 65)
	manyFields := func(n int) string {
		var b strings.Builder
		b.WriteString("{")
		for i := range n {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `"f%d":1`, i)
		}
		b.WriteString("}")
		return b.String()
	}
	rows := []badInput{
		{1, "truncated JSON", "POST", "/api/products", `{"a":`, nil, 400, "invalid_json"},
		{2, "empty PUT body", "PUT", "/api/products/p1", ``, nil, 400, "empty_body"},
		{3, "two values", "POST", "/api/products", `{"a":1}{"b":2}`, nil, 400, "trailing_data"},
		{4, "duplicate key", "POST", "/api/products", `{"a":1,"a":2}`, nil, 400, "duplicate_key"},
		{5, "raw 0xFF in a string", "POST", "/api/products", "{\"a\":\"\xff\"}", nil, 400, "invalid_utf8"},
		{6, "lone surrogate", "POST", "/api/products", `{"a":"\ud800"}`, nil, 400, "invalid_utf8"},
		{7, "10,001 nested [", "POST", "/api/products", `{"a":` + deepArrays, nil, 400, "too_deep"},
		{7, "10,001 nested [ at the top", "POST", "/api/products", deepArrays, nil, 400, "too_deep"},
		{8, "65 nested objects", "POST", "/api/products", deepObjects, nil, 400, "too_deep"},
		{9, "1e400", "POST", "/api/products", `{"a":1e400}`, nil, 400, "number_out_of_range"},
		{11, "NaN", "POST", "/api/products", `{"a":NaN}`, nil, 400, "invalid_json"},
		{11, "Infinity", "POST", "/api/products", `{"a":Infinity}`, nil, 400, "invalid_json"},
		{11, "-Infinity", "POST", "/api/products", `{"a":-Infinity}`, nil, 400, "invalid_json"},
		{12, "top-level []", "POST", "/api/products", `[]`, nil, 400, "document_must_be_object"},
		{12, `top-level "x"`, "POST", "/api/products", `"x"`, nil, 400, "document_must_be_object"},
		{12, "top-level null", "PUT", "/api/products/p1", `null`, nil, 400, "document_must_be_object"},
		{13, "body limit + 1", "POST", "/api/products", `{"a":"` + strings.Repeat("x", 10<<20-7) + `"}`, nil, 413, "body_too_large"},
		{15, "text/plain write", "POST", "/api/products", `{"a":1}`, []string{"Content-Type", "text/plain"}, 415, "unsupported_media_type"},
		{15, "text/plain PUT", "PUT", "/api/products/p9", `{"a":1}`, []string{"Content-Type", "text/plain; charset=utf-8"}, 415, "unsupported_media_type"},
		{15, "multipart _insertMany", "POST", "/api/products/_insertMany", `[{}]`, []string{"Content-Type", "multipart/form-data; boundary=x"}, 415, "unsupported_media_type"},
		{15, "malformed content type", "POST", "/api/products", `{}`, []string{"Content-Type", "/;;"}, 415, "unsupported_media_type"},
		{17, "body _id differs from the path's", "PUT", "/api/products/p1", `{"_id":"p2","name":"x"}`, nil, 400, "id_mismatch"},
		{18, "..%2F..%2Fetc", "POST", "/api/..%2F..%2Fetc", `{"a":1}`, nil, 400, "invalid_name"},
		{18, "..%2F..%2Fetc (GET)", "GET", "/api/..%2F..%2Fetc/passwd", nil, nil, 400, "invalid_name"},
		{18, "..%2Fetc in _find", "POST", "/api/..%2Fetc/_find", `{}`, nil, 400, "invalid_name"},
		{19, "%00 in a name", "POST", "/api/prod%00ucts", `{"a":1}`, nil, 400, "invalid_name"},
		{19, "%00 at the end", "GET", "/api/products%00/p1", nil, nil, 400, "invalid_name"},
		{19, "empty name", "GET", "/api//p1", nil, nil, 400, "invalid_name"},
		{19, "65 characters", "POST", "/api/" + strings.Repeat("c", 65), `{"a":1}`, nil, 400, "invalid_name"},
		{19, "65 characters, index", "DELETE", "/api/products/_indexes/" + strings.Repeat("i", 65), nil, nil, 400, "invalid_name"},
		{20, "unknown path", "GET", "/api/products/p1/extra", nil, nil, 404, "route_not_found"},
		{20, "unknown root", "GET", "/admin", nil, nil, 404, "route_not_found"},
		{21, "wrong method", "PUT", "/api/products", `{}`, nil, 405, "method_not_allowed"},
		{21, "wrong method on a static route", "POST", "/api/stats/x/y", `{}`, nil, 404, "route_not_found"},
		{29, "limit=-1", "POST", "/api/products/_search?limit=-1", `{}`, nil, 400, "invalid_parameter"},
		{29, "limit=1e9", "POST", "/api/products/_search?limit=1e9", `{}`, nil, 400, "invalid_parameter"},
		{29, "limit=abc", "POST", "/api/products/_search?limit=abc", `{}`, nil, 400, "invalid_parameter"},
		{29, "skip=-1", "POST", "/api/products/_search?skip=-1", `{}`, nil, 400, "invalid_parameter"},
		{29, "_find limit -1", "POST", "/api/products/_find", `{"limit":-1}`, nil, 400, "invalid_parameter"},
		{29, "_find limit 1e9", "POST", "/api/products/_find", `{"limit":1e9}`, nil, 400, "invalid_json"},
		{30, "stale If-Match (PUT)", "PUT", "/api/products/p1", `{"name":"x"}`, []string{"If-Match", tag}, 412, "precondition_failed"},
		{30, "stale If-Match (PATCH)", "PATCH", "/api/products/p1", `{"$set":{"x":1}}`, []string{"If-Match", tag}, 412, "precondition_failed"},
		{30, "stale If-Match (DELETE)", "DELETE", "/api/products/p1", nil, []string{"If-Match", tag}, 412, "precondition_failed"},
		{30, "stale If-Match (POST)", "POST", "/api/products", `{"_id":"p1"}`, []string{"If-Match", tag}, 412, "precondition_failed"},
		{31, "POST an existing id with If-None-Match: *", "POST", "/api/products", `{"_id":"p1","name":"dup"}`, []string{"If-None-Match", "*"}, 412, "exists"},
		{31, "PUT an existing id with If-None-Match: *", "PUT", "/api/products/p1", `{"name":"dup"}`, []string{"If-None-Match", "*"}, 412, "exists"},
	}
	for _, row := range rows {
		t.Run(fmt.Sprintf("%02d %s", row.row, row.name), func(t *testing.T) {
			before := e.state()
			r := e.do(row.method, row.path, row.body, row.hdr...)
			errorBody(t, r, row.status, row.code)
			if row.status == http.StatusMethodNotAllowed {
				require.NotEmpty(t, r.header.Get("Allow"))
			}
			require.Equal(t, before, e.state(), "the database changed")
			e.healthy()
		})
	}

	t.Run("01 invalid_json names the offset", func(t *testing.T) {
		er := errorBody(t, e.do("POST", "/api/products", `{"a":`), 400, "invalid_json")
		require.Contains(t, er.Error, "at byte 5")
	})
	t.Run("10 9007199254740993 is kept exactly", func(t *testing.T) {
		mustStatus(t, e.do("PUT", "/api/numbers/n", `{"n":9007199254740993,"m":-0.1000000000000000000001}`), http.StatusCreated)
		r := mustStatus(t, e.do("GET", "/api/numbers/n", nil), http.StatusOK)
		require.Equal(t, `{"_id":"n","n":9007199254740993,"m":-0.1000000000000000000001}`+"\n", string(r.body))
	})
	t.Run("16 1 MiB field name and 100k fields", func(t *testing.T) {
		for _, body := range []string{`{"` + strings.Repeat("k", 1<<20) + `":1}`, manyFields(100000)} {
			before := e.state()
			r := e.do("POST", "/api/wide", body)
			require.Contains(t, []int{400, 413}, r.status)
			errorBody(t, r, r.status, "")
			require.Equal(t, before, e.state())
		}
	})
	t.Run("29 a huge limit is capped", func(t *testing.T) {
		r := mustStatus(t, e.do("POST", "/api/products/_search?limit=1000000000", `{}`), http.StatusOK)
		require.Equal(t, 4, strings.Count(string(r.body), `"_id"`))
	})
}

// TestBadInputsAuth covers rows 22–25 on a server with API keys and a
// rate limit.
func TestBadInputsAuth(t *testing.T) {
	e := authEnv(t, Config{RateLimit: 0.01, RateBurst: 5})
	e.key = adminKey
	e.seed()
	e.key = ""
	check := func(r response, status int, code string, before string) api401 {
		t.Helper()
		errorBody(t, r, status, code)
		require.Equal(t, before, e.state())
		e.healthy()
		return api401{r.header, withoutRequestID(t, r.body)}
	}
	before := e.state()
	// 22: no Authorization.
	a := check(e.do("DELETE", "/api/products/p1", nil), 401, "unauthorized", before)
	require.Equal(t, `Bearer realm="minidbgo"`, a.hdr.Get("WWW-Authenticate"))
	// 23: a wrong key; a key in the URL: identical bodies.
	b := check(e.do("DELETE", "/api/products/p1", nil, "Authorization", "Bearer not-a-key-0000000000"), 401, "unauthorized", before)
	c := check(e.do("DELETE", "/api/products/p1?api_key="+adminKey, nil), 401, "unauthorized", before)
	require.Equal(t, a.body, b.body)
	require.Equal(t, a.body, c.body)
	require.Equal(t, `Bearer realm="minidbgo"`, c.hdr.Get("WWW-Authenticate"))
	// 24: a read-scoped key doing DELETE.
	e.key = readKey
	check(e.do("DELETE", "/api/products/p1", nil), 403, "forbidden", before)
	check(e.do("DELETE", "/api/products", nil), 403, "forbidden", before)
	// 25: a burst over the rate limit.
	var last response
	for range 10 {
		last = e.do("GET", "/api/products/p1", nil)
		if last.status == http.StatusTooManyRequests {
			break
		}
	}
	check(last, 429, "rate_limited", before)
	require.Equal(t, "1", last.header.Get("Retry-After"))
}

type api401 struct {
	hdr  http.Header
	body map[string]any
}

// rawExchange writes req on a fresh connection and returns the response
// and the connection, for rows that net/http's client cannot send.
func rawExchange(t *testing.T, addr, req string) (*http.Response, net.Conn) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = io.WriteString(conn, req)
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	return resp, conn
}

func hostOf(e *env) string { return strings.TrimPrefix(e.url, "http://") }

// TestBadInputsRaw covers rows 14, 26, 27 and 28 with raw connections.
func TestBadInputsRaw(t *testing.T) {
	e := newEnv(t, envOptions{
		cfg: Config{MaxBodyBytes: 64 << 10},
		configure: func(s *http.Server) {
			s.ReadHeaderTimeout = 300 * time.Millisecond
		},
	})
	e.seed()
	addr := hostOf(e)

	t.Run("14 endless chunked body: 413, connection closed", func(t *testing.T) {
		before := e.state()
		conn, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		defer conn.Close()
		require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
		_, err = io.WriteString(conn, "POST /api/products HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
		require.NoError(t, err)
		// Write chunks until the server stops reading.
		done := make(chan struct{})
		go func() {
			defer close(done)
			chunk := fmt.Sprintf("%x\r\n%s\r\n", 4096, `{"a":"`+strings.Repeat("x", 4096-6))
			for range 10000 {
				if _, err := io.WriteString(conn, chunk); err != nil {
					return
				}
			}
		}()
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		errorBody(t, response{resp.StatusCode, resp.Header, b}, 413, "body_too_large")
		// The server closes the connection: reads end.
		_, err = br.ReadByte()
		require.Error(t, err)
		conn.Close()
		<-done
		require.Equal(t, before, e.state())
		e.healthy()
	})

	t.Run("26 headers dribbled: closed at ReadHeaderTimeout, others served", func(t *testing.T) {
		conn, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		defer conn.Close()
		start := time.Now()
		closed := make(chan time.Duration, 1)
		go func() {
			req := "GET /api/health HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("a", 100)
			for i := 0; i < len(req); i++ {
				if _, err := conn.Write([]byte{req[i]}); err != nil {
					break
				}
				time.Sleep(50 * time.Millisecond) // far slower than the timeout allows
			}
		}()
		go func() {
			_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, _ = io.ReadAll(conn) // returns when the server closes
			closed <- time.Since(start)
		}()
		// Meanwhile other clients are served.
		for range 5 {
			e.healthy()
			mustStatus(t, e.do("GET", "/api/products/p1", nil), http.StatusOK)
		}
		d := <-closed
		require.Less(t, d, 3*time.Second, "the slow connection is closed near ReadHeaderTimeout")
		require.GreaterOrEqual(t, d, 250*time.Millisecond)
	})

	t.Run("27 100 KB header: 431", func(t *testing.T) {
		resp, _ := rawExchange(t, addr, "GET /api/health HTTP/1.1\r\nHost: x\r\nX-Big: "+strings.Repeat("a", 100<<10)+"\r\n\r\n")
		require.Equal(t, http.StatusRequestHeaderFieldsTooLarge, resp.StatusCode)
		resp.Body.Close()
		e.healthy()
	})

	t.Run("28 two different Content-Length headers: 400", func(t *testing.T) {
		before := e.state()
		resp, _ := rawExchange(t, addr, "POST /api/products HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\nContent-Length: 12\r\n\r\n{\"_id\":1}")
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
		resp.Body.Close()
		require.Equal(t, before, e.state())
		e.healthy()
	})
}

package httpd

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"strconv"

	"github.com/minidbgo/minidbgo/httpd/client/api"
)

// JSONErrors wraps the listener an http.Server serves a Server on, so that
// the answers net/http writes by itself, before any handler can run, are
// the API's JSON error body too instead of plain text: 400 bad_request for
// a request it cannot parse (a malformed request line, or a URL with an
// invalid %-escape such as GET /api/users/%zz, which url.ParseRequestURI
// refuses before routing), 431 headers_too_large for headers beyond
// http.Server.MaxHeaderBytes, and 501 unsupported_transfer_encoding.
//
// net/http writes those straight to the connection (no hook exists), in a
// fixed form: one Write of "HTTP/1.1 <status>" + its errorHeaders + the
// status again (or "Unsupported transfer encoding"). The wrapped
// connection recognises exactly that form and writes the JSON answer in
// its place; every other write passes through unchanged. Under TLS
// (http.Server.ServeTLS on the wrapped listener) net/http writes into the
// *tls.Conn above this connection, so these few answers stay plain text
// there: keeping r.TLS and HTTP/2 needs net/http to own the *tls.Conn.
func JSONErrors(l net.Listener) net.Listener { return jsonErrListener{l} }

type jsonErrListener struct{ net.Listener }

// Accept wraps each connection.
func (l jsonErrListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &jsonErrConn{Conn: c}, nil
}

type jsonErrConn struct{ net.Conn }

// Write passes p on, unless it is one of net/http's own plain-text error
// answers, which it replaces with the JSON error body.
func (c *jsonErrConn) Write(p []byte) (int, error) {
	if b, ok := jsonErrorAnswer(p); ok {
		if _, err := c.Conn.Write(b); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// CloseWrite half-closes the connection when the underlying one can (net/http
// does so after a 431, to let the client read the answer).
func (c *jsonErrConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// netHTTPErrorHeaders are the headers net/http's conn.serve writes with
// its own error answers (net/http/server.go, const errorHeaders).
const netHTTPErrorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

// jsonErrorAnswer recognises a net/http pre-handler error answer and
// returns the JSON answer to send instead.
func jsonErrorAnswer(p []byte) ([]byte, bool) {
	const proto = "HTTP/1.1 "
	if len(p) > 1024 || !bytes.HasPrefix(p, []byte(proto)) {
		return nil, false
	}
	i := bytes.Index(p, []byte(netHTTPErrorHeaders))
	if i < 0 {
		return nil, false
	}
	statusLine, body := p[len(proto):i], p[i+len(netHTTPErrorHeaders):]
	if !bytes.Equal(body, statusLine) && string(body) != "Unsupported transfer encoding" {
		return nil, false
	}
	if len(statusLine) < 4 || statusLine[3] != ' ' {
		return nil, false
	}
	status, err := strconv.Atoi(string(statusLine[:3]))
	if err != nil || status < 400 || status > 599 {
		return nil, false
	}
	var code, msg string
	switch status {
	case http.StatusRequestHeaderFieldsTooLarge:
		code, msg = "headers_too_large", "the request's headers are larger than the server's limit"
	case http.StatusNotImplemented:
		code, msg = "unsupported_transfer_encoding", "unsupported Transfer-Encoding: send the body with Content-Length or chunked"
	default:
		code, msg = "bad_request", "malformed HTTP request: the request line, URL or headers cannot be parsed (a path needs valid %-escapes, such as %25 for %)"
		// net/http's own reason ("missing required Host header", …),
		// which never echoes the request.
		if _, reason, ok := bytes.Cut(statusLine, []byte(": ")); ok {
			msg = "malformed HTTP request: " + string(reason)
		}
	}
	id := idPrefix + "-" + strconv.FormatUint(idCounter.Add(1), 10)
	js, err := json.Marshal(api.Error{Error: msg, Status: status, Code: code, RequestID: id})
	if err != nil {
		return nil, false
	}
	js = append(js, '\n')
	var b bytes.Buffer
	b.WriteString(proto + strconv.Itoa(status) + " " + http.StatusText(status) + "\r\n")
	b.WriteString("Content-Type: application/json\r\nConnection: close\r\nX-Content-Type-Options: nosniff\r\n")
	b.WriteString("X-Request-ID: " + id + "\r\nContent-Length: " + strconv.Itoa(len(js)) + "\r\n\r\n")
	b.Write(js)
	return b.Bytes(), true
}

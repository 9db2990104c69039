package badinput

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// RawRows returns rows 14, 26, 27 and 28, which net/http's client cannot
// send: they write on a raw connection. The server's ReadHeaderTimeout
// is readHeaderTimeout (keep it small: row 26 waits for it) and its
// database is prepared by Seed; its body limit should be small too (row
// 14 writes until the server stops reading).
func RawRows(readHeaderTimeout time.Duration) []Row {
	return []Row{
		{N: 14, Name: "endless chunked body: 413, connection closed", Exchange: endlessChunks},
		{N: 26, Name: "headers dribbled: closed at ReadHeaderTimeout, others served", Exchange: func(tg *Target) ([]Response, error) {
			return dribble(tg, readHeaderTimeout)
		}},
		{N: 27, Name: "100 KB header: 431", Exchange: func(tg *Target) ([]Response, error) {
			return rawExchange(tg, http.StatusRequestHeaderFieldsTooLarge,
				"GET /api/health HTTP/1.1\r\nHost: localhost\r\nX-Big: "+strings.Repeat("a", 100<<10)+"\r\n\r\n")
		}},
		{N: 28, Name: "two different Content-Length headers: 400", Exchange: func(tg *Target) ([]Response, error) {
			return rawExchange(tg, http.StatusBadRequest,
				"POST /api/products HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 9\r\nContent-Length: 12\r\n\r\n{\"_id\":1}")
		}},
	}
}

// dial opens a raw connection to the target with a 10 s deadline.
func dial(tg *Target) (net.Conn, error) {
	host, err := tg.host()
	if err != nil {
		return nil, err
	}
	conn, err := net.DialTimeout("tcp", host, 5*time.Second)
	if err != nil {
		return nil, err
	}
	return conn, conn.SetDeadline(time.Now().Add(10 * time.Second))
}

// readResponse reads one answer from br.
func readResponse(br *bufio.Reader) (Response, error) {
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return Response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return Response{}, err
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

// rawExchange writes req on a fresh connection and checks the answer's
// status (net/http answers these itself, in plain text).
func rawExchange(tg *Target, want int, req string) ([]Response, error) {
	conn, err := dial(tg)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, req); err != nil {
		return nil, err
	}
	r, err := readResponse(bufio.NewReader(conn))
	if err != nil {
		return nil, err
	}
	return []Response{r}, status(want)(r)
}

// endlessChunks is row 14: a chunked body that never ends is answered 413
// body_too_large once it passes the limit, and the connection is closed.
func endlessChunks(tg *Target) ([]Response, error) {
	conn, err := dial(tg)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "POST /api/products HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"); err != nil {
		return nil, err
	}
	// Write chunks until the server stops reading (at most 40 MiB).
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		chunk := fmt.Sprintf("%x\r\n%s\r\n", 4096, `{"a":"`+strings.Repeat("x", 4096-6))
		for range 10000 {
			if _, err := io.WriteString(conn, chunk); err != nil {
				return
			}
		}
	}()
	defer wg.Wait()
	defer conn.Close() // ends the writer
	br := bufio.NewReader(conn)
	r, err := readResponse(br)
	if err != nil {
		return nil, err
	}
	rs := []Response{r}
	if _, err := CheckError(r, http.StatusRequestEntityTooLarge, "body_too_large"); err != nil {
		return rs, err
	}
	// The server closes the connection: reads end (not at the deadline).
	if _, err := br.ReadByte(); err == nil {
		return rs, errors.New("the connection is still open after the 413")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return rs, errors.New("the connection was not closed after the 413")
	}
	return rs, nil
}

// dribble is row 26: headers sent a byte at a time, far slower than
// ReadHeaderTimeout allows, are cut off near it while other clients are
// served.
func dribble(tg *Target, readHeaderTimeout time.Duration) ([]Response, error) {
	conn, err := dial(tg)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	start := time.Now()
	closed := make(chan time.Duration, 1)
	go func() {
		req := "GET /api/health HTTP/1.1\r\nHost: localhost\r\nX-Slow: " + strings.Repeat("a", 100)
		for i := 0; i < len(req); i++ {
			if _, err := conn.Write([]byte{req[i]}); err != nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	go func() {
		_, _ = io.ReadAll(conn) // returns when the server closes (or at the deadline)
		closed <- time.Since(start)
	}()
	// Meanwhile other clients are served.
	var rs []Response
	for range 5 {
		if err := tg.Healthy(); err != nil {
			return rs, err
		}
		r, err := tg.Do("GET", "/api/products/p1", "")
		if err != nil {
			return rs, err
		}
		rs = append(rs, r)
		if r.Status != http.StatusOK {
			return rs, fmt.Errorf("another client: %s", r)
		}
	}
	d := <-closed
	if lo, hi := readHeaderTimeout*4/5, readHeaderTimeout+3*time.Second; d < lo || d > hi {
		return rs, fmt.Errorf("the slow connection ended after %v, want between %v and %v", d, lo, hi)
	}
	return rs, nil
}

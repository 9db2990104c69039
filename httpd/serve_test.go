package httpd

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/minidbgo/minidbgo/docstore"
	"github.com/minidbgo/minidbgo/storage"
	"github.com/minidbgo/minidbgo/storage/vfs"
)

// TestServeDrainsFlushesCloses: when Serve's context ends, a request in
// flight (its body half sent) is still served; the database is flushed
// and closed (its lock released), and the writes acknowledged are there
// after reopening; the LISTEN file is there while serving and gone after.
func TestServeDrainsFlushesCloses(t *testing.T) {
	fs := vfs.NewMem()
	dir := t.TempDir()
	open := func() *docstore.DB {
		db, err := docstore.Open(filepath.Join(dir, "db"), &docstore.Options{Storage: &storage.Options{FS: fs}})
		require.NoError(t, err)
		return db
	}
	db := open()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() {
		served <- Serve(ctx, ln, db, Config{ListenFileDir: dir, ShutdownTimeout: 10 * time.Second})
	}()
	base := "http://" + addr
	resp, err := http.Post(base+"/api/products", "application/json", strings.NewReader(`{"_id":"p1","price":1}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	require.NotEmpty(t, ReadListenFile(dir, os.Getpid()), "the address is recorded while serving")

	// A request in flight when the cancel comes: its headers and half
	// its body are sent.
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	body := `{"_id":"p2","price":2}`
	_, err = fmt.Fprintf(conn, "POST /api/products HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		addr, len(body), body[:10])
	require.NoError(t, err)
	// Cancel once the server is reading it: two requests in flight, the
	// metrics request included.
	require.Eventually(t, func() bool {
		resp, err := http.Get(base + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(b), "\nminidbgo_http_requests_in_flight 2\n")
	}, 5*time.Second, 5*time.Millisecond)
	cancel()
	// The rest of the body goes once the shutdown has closed the
	// listener (a new connection is refused).
	require.Eventually(t, func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	}, 5*time.Second, 5*time.Millisecond, "the listener closes")
	_, err = conn.Write([]byte(body[10:]))
	require.NoError(t, err)
	r, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	r.Body.Close()
	require.Equal(t, http.StatusCreated, r.StatusCode, "the request in flight is served")
	require.NoError(t, <-served)

	require.Empty(t, ReadListenFile(dir, os.Getpid()), "the LISTEN file is removed")
	db = open() // the lock was released: the database is closed
	defer db.Close()
	for _, id := range []string{"p1", "p2"} {
		_, err := db.Get(context.Background(), "products", id)
		require.NoError(t, err, id)
	}
}

package e2etest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minidbgo/minidbgo/httpd/client"
)

// TestDataDirRemovedUnderServer deletes the data directory (rm -rf) under
// a running server: no write is acknowledged after it (each is 503
// unavailable, naming the reason without server paths), readiness turns
// 503, and the next start refuses to create an empty database in its
// place until told to with INIT=true.
func TestDataDirRemovedUnderServer(t *testing.T) {
	bin := buildServer(t, "")
	dir := filepath.Join(t.TempDir(), "db")
	s, err := startServer(t, bin, dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 50 {
		if _, err := s.c.Insert(ctx, "c", map[string]any{"_id": fmt.Sprint(i)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	acked := 0
	for i := range 200 {
		_, err := s.c.Insert(ctx, "c", map[string]any{"_id": fmt.Sprint("after", i)}, nil)
		var ce *client.Error
		switch {
		case err == nil:
			acked++
		case errors.As(err, &ce) && ce.Status == http.StatusServiceUnavailable && ce.Code == "unavailable":
			if !strings.Contains(ce.Message, "data directory was removed") || strings.Contains(ce.Message, dir) {
				t.Fatalf("message %q: want the reason, without the path", ce.Message)
			}
		default:
			t.Fatalf("write after rm -rf: %v", err)
		}
	}
	if acked > 0 {
		t.Fatalf("%d writes acknowledged after the data directory was deleted", acked)
	}
	r, err := s.hc.Get("http://" + s.addr + "/api/ready")
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("ready: %d, want 503", r.StatusCode)
	}
	if _, err := s.c.Get(ctx, "c", "7", nil); err != nil {
		t.Fatalf("reads go on: %v", err)
	}
	s.kill()

	// The restart finds no database where the marker says one was.
	_, err = startServer(t, bin, dir)
	var died *errDiedAtStart
	if !errors.As(err, &died) || !strings.Contains(died.stderr, "-init") ||
		!strings.Contains(died.stderr, ".db.minidbgo") {
		t.Fatalf("restart on the emptied directory: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "CURRENT")); err == nil {
		t.Fatal("the refused start created a database")
	}
	s, err = startServer(t, bin, dir, "INIT=true")
	if err != nil {
		t.Fatal(err)
	}
	var ce *client.Error
	if _, err := s.c.Get(ctx, "c", "7", nil); !errors.As(err, &ce) || ce.Status != http.StatusNotFound {
		t.Fatalf("a new database after INIT=true: %v", err)
	}
	if _, err := s.c.Insert(ctx, "c", map[string]any{"_id": "new"}, nil); err != nil {
		t.Fatal(err)
	}
	s.kill()
	if s, err = startServer(t, bin, dir); err != nil { // and it opens as usual from then on
		t.Fatal(err)
	}
	s.kill()
}

// TestDataDirReadOnlyUnderServer makes the data directory read-only
// (chmod -R a-w) under a running server with small memtables, so that
// the next WAL cannot be created: writes are 503 (never 500), readiness
// 503. Root ignores permissions, so as root the test is skipped; the
// httpd package's TestDataDirRefusesFiles injects the same failure
// (EACCES on create) through errorfs.
func TestDataDirReadOnlyUnderServer(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root ignores file permissions; covered by httpd TestDataDirRefusesFiles with errorfs")
	}
	bin := buildServer(t, "")
	dir := filepath.Join(t.TempDir(), "db")
	s, err := startServer(t, bin, dir, "FLUSH_SIZE=5")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = filepath.Walk(dir, func(p string, _ os.FileInfo, _ error) error { return os.Chmod(p, 0o755) })
	})
	if err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Chmod(p, fi.Mode().Perm()&^0o222)
	}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	refused := 0
	for i := range 30 {
		_, err := s.c.Insert(ctx, "c", map[string]any{"_id": fmt.Sprint(i)}, nil)
		var ce *client.Error
		switch {
		case err == nil:
			if refused > 0 {
				t.Fatal("a write acknowledged after one was refused")
			}
		case errors.As(err, &ce) && ce.Status == http.StatusServiceUnavailable:
			refused++
		default:
			t.Fatalf("write %d: %v", i, err)
		}
	}
	if refused == 0 {
		t.Fatal("no write refused")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		r, err := s.hc.Get("http://" + s.addr + "/api/ready")
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode == http.StatusServiceUnavailable {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ready: %d, want 503", r.StatusCode)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

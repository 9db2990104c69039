package httpd

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNewLogHandler(t *testing.T) {
	var b bytes.Buffer
	for format, want := range map[string]string{
		"":     `{"time":`,
		"auto": `{"time":`, // a buffer is not a terminal
		"json": `{"time":`,
		"JSON": `{"time":`,
		"text": `time=`,
	} {
		b.Reset()
		h, err := NewLogHandler(&b, format, nil)
		require.NoError(t, err, format)
		slog.New(h).Info("hello", "k", 1)
		require.Contains(t, b.String(), want, format)
	}
	_, err := NewLogHandler(&b, "xml", nil)
	require.EqualError(t, err, `LOG_FORMAT="xml": want text, json or auto`)

	// Neither a pipe nor /dev/null (a character device) is a terminal.
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer r.Close()
	defer w.Close()
	require.False(t, IsTerminal(w))
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	require.NoError(t, err)
	defer null.Close()
	require.False(t, IsTerminal(null))
}

func TestListenFile(t *testing.T) {
	dir := t.TempDir()
	pid := os.Getpid()
	require.Equal(t, "", ReadListenFile(dir, pid))
	remove, err := WriteListenFile(dir, "http", "0.0.0.0:7000")
	require.NoError(t, err)
	require.Equal(t, "http://127.0.0.1:7000", ReadListenFile(dir, pid))
	require.Equal(t, "", ReadListenFile(dir, pid+1), "another pid's record")
	remove()
	require.Equal(t, "", ReadListenFile(dir, pid))

	_, err = WriteListenFile(dir, "https", "[::1]:8443")
	require.NoError(t, err)
	require.Equal(t, "https://[::1]:8443", ReadListenFile(dir, pid))
	for _, bad := range []string{"", "garbage", strconv.Itoa(pid) + " ftp://x", strconv.Itoa(pid) + " http://a b"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, ListenFile), []byte(bad), 0o644))
		require.Equal(t, "", ReadListenFile(dir, pid), bad)
	}
}

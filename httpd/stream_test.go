package httpd

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestDumpOutlivesWriteTimeout streams a dump several times longer than
// the server's write timeout to a slow but steady reader: the deadline
// moves with the data, so the dump completes.
func TestDumpOutlivesWriteTimeout(t *testing.T) {
	// Long enough that a loaded CI machine does not stall the server past
	// it between two writes; the client's pauses make the whole transfer
	// take several times as long.
	const timeout = time.Second
	e := newEnv(t, envOptions{
		cfg:       Config{WriteTimeout: timeout},
		configure: func(s *http.Server) { s.WriteTimeout = timeout },
	})
	// Load through docstore: the short write timeout is for the dump.
	pad := strings.Repeat("x", 1000)
	for b := range 12 {
		docs := make([][]byte, 1000)
		for i := range docs {
			docs[i] = []byte(fmt.Sprintf(`{"_id":"d%02d-%04d","pad":%q}`, b, i, pad))
		}
		_, err := e.db.InsertMany(context.Background(), "big", docs)
		require.NoError(t, err)
	}
	resp, err := e.hc.Get(e.url + "/api/dumpDB")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	start := time.Now()
	buf := make([]byte, 512<<10)
	var n int64
	for {
		k, err := io.ReadFull(resp.Body, buf)
		n += int64(k)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		require.NoError(t, err)
		time.Sleep(150 * time.Millisecond)
	}
	require.Greater(t, time.Since(start), 2*timeout, "the transfer must outlast the write timeout")
	require.Greater(t, n, int64(12000*1000))
	t.Logf("dumped %d bytes in %v with a %v write timeout", n, time.Since(start), timeout)
}

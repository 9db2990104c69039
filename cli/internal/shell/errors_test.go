package shell

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/minidbgo/minidbgo/httpd"
	"github.com/minidbgo/minidbgo/storage"
)

// TestEmbeddedErrorsReadAsServer: an engine failure in embedded mode
// prints the code and message the server answers for it through --url
// (issue 13: ErrBusy printed the engine's text without a code embedded,
// "error (busy): …" through --url).
func TestEmbeddedErrorsReadAsServer(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code string
	}{
		{fmt.Errorf("insert: %w", storage.ErrBusy), "busy"},
		{fmt.Errorf("insert: %w", storage.ErrReadOnly), "unavailable"},
		{fmt.Errorf("get: %w", storage.ErrClosed), "unavailable"},
		{fmt.Errorf("get: %w", &storage.CorruptionError{File: "/srv/db/sst/000012.sst", Offset: 4096}), "data_corruption"},
	} {
		code, msg := errorCode(tc.err)
		want := httpd.ErrorAnswer(tc.err)
		require.Equal(t, tc.code, code, "%v", tc.err)
		require.Equal(t, want.Code, code, "%v", tc.err)
		require.Equal(t, want.Error, msg, "%v", tc.err)
		require.NotContains(t, msg, "/srv/db", "no server path either way")
	}
}

package shell

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestConsistencyFlag: --consistency (or MINIDBGO_CONSISTENCY) takes
// none, leader or linearizable, and nothing else.
func TestConsistencyFlag(t *testing.T) {
	var errb bytes.Buffer
	cfg, err := parseConfig([]string{"--url", "http://127.0.0.1:1", "--consistency", "linearizable"}, envLookup(nil), &errb)
	require.NoError(t, err)
	require.Equal(t, "linearizable", cfg.consistency)
	cfg, err = parseConfig([]string{"--url", "http://127.0.0.1:1"}, envLookup([]string{"MINIDBGO_CONSISTENCY=none"}), &errb)
	require.NoError(t, err)
	require.Equal(t, "none", cfg.consistency)
	_, err = parseConfig([]string{"--url", "http://127.0.0.1:1", "--consistency", "strong"}, envLookup(nil), &errb)
	require.ErrorContains(t, err, `--consistency "strong"`)
}

package shell

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/minidbgo/minidbgo/httpd"
	"github.com/stretchr/testify/require"
)

// TestTTLIndexInShell: createIndex takes expireAfterSeconds (in both
// syntaxes) and listIndexes shows it, the same on a data directory and on
// a server; a bad value is refused with the option named.
func TestTTLIndexInShell(t *testing.T) {
	script := strings.Join([]string{
		`createIndex sessions {"seen":1} {"expireAfterSeconds":3600}`,
		`db.carts.createIndex({at: 1}, {expireAfterSeconds: 0, name: "cart_ttl"})`,
		`listIndexes sessions`,
		`listIndexes carts`,
	}, "\n")
	code, local, stderr := runCLI(t, script, nil, "--db", filepath.Join(t.TempDir(), "db"))
	require.Equal(t, 0, code, stderr)
	code, remote, stderr := runCLI(t, script, nil, "--url", newServer(t, httpd.Config{}))
	require.Equal(t, 0, code, stderr)
	require.Equal(t, local, remote)
	require.Contains(t, local, `"expireAfterSeconds":3600`)
	require.Contains(t, local, `"expireAfterSeconds":0`)
	require.Contains(t, local, `cart_ttl`)

	for _, bad := range []string{
		`createIndex sessions {"seen":1} {"expireAfterSeconds":-1}`,
		`createIndex sessions {"a":1,"b":1} {"expireAfterSeconds":5}`,
	} {
		code, _, stderr = runCLI(t, bad, nil, "--db", filepath.Join(t.TempDir(), "db"))
		require.Equal(t, 1, code, bad)
		require.Contains(t, stderr, "expireAfterSeconds", bad)
	}
}

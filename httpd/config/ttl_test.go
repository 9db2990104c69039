package config

import (
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestTTLInterval: TTL_INTERVAL (or -ttl-interval) takes Go durations,
// defaults to 60 s, reaches the docstore options, and refuses what is
// not a positive duration, naming itself.
func TestTTLInterval(t *testing.T) {
	c, err := Parse("minidbgo-server", nil, envOf(nil))
	require.NoError(t, err)
	require.Equal(t, 60*time.Second, c.TTLInterval)
	c, err = Parse("minidbgo-server", nil, envOf(map[string]string{"TTL_INTERVAL": "1s"}))
	require.NoError(t, err)
	require.Equal(t, time.Second, c.TTLInterval)
	c, err = Parse("minidbgo-server", []string{"-ttl-interval", "250ms"}, envOf(map[string]string{"TTL_INTERVAL": "1s"}))
	require.NoError(t, err)
	require.Equal(t, 250*time.Millisecond, c.TTLInterval)
	o, err := c.DocstoreOptions(slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	require.Equal(t, 250*time.Millisecond, o.TTLInterval)
	for _, bad := range []string{"0s", "-1s", "often"} {
		_, err := Parse("minidbgo-server", nil, envOf(map[string]string{"TTL_INTERVAL": bad}))
		require.ErrorContains(t, err, "TTL_INTERVAL", bad)
	}
}

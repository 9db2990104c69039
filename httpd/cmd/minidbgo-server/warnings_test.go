package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestStartupWarnings(t *testing.T) {
	require.Empty(t, startupWarnings(true, false, false))
	require.Empty(t, startupWarnings(false, true, true))
	ws := startupWarnings(false, false, false)
	require.Len(t, ws, 2)
	require.Contains(t, ws[0], "without TLS")
	require.Contains(t, ws[1], "without API keys")
}

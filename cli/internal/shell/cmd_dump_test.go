package shell

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDumpCounter(t *testing.T) {
	c := newDumpCounter(nil)
	stream := `{"collection":"a","index":{"name":"x_1","fields":[{"path":"x"}]}}
{"collection":"a","doc":{"_id":"1"}}
{"collection":"b","doc":{"_id":"2","s":"{\"collection\":\"z\",\"doc\":1}"}}
`
	// Byte at a time: lines split across writes.
	for i := range len(stream) {
		_, err := c.Write([]byte{stream[i]})
		require.NoError(t, err)
	}
	require.Equal(t, 2, len(c.cols))
	require.Equal(t, int64(2), c.docs)
	require.Equal(t, int64(1), c.index)
	require.Equal(t, int64(len(stream)), c.bytes)
}

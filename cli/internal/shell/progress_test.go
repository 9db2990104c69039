package shell

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestProgressBar(t *testing.T) {
	require.Nil(t, newProgress(false, nil, "x", 0))
	var nilBar *progressBar
	nilBar.add(1, 1) // a nil bar draws nothing
	nilBar.done()

	var out bytes.Buffer
	p := newProgress(true, &out, "restoreDB", 4<<20)
	p.add(1<<20, 1000)
	p.done()
	require.Equal(t, "\rrestoreDB [======>                 ]  25%  1.0 MiB/4.0 MiB  1,000 docs\x1b[K\r\x1b[K", out.String())
	require.Equal(t, "1,234,567", thousands(1234567))
	require.Equal(t, "999", thousands(999))
}

// TestDumpProgress: on a terminal, dumpDB and restoreDB draw a progress
// line on stderr and erase it.
func TestDumpProgress(t *testing.T) {
	s := newEmbeddedSession(t)
	defer s.stop()
	s.sh.progress = true
	out := s.run(`insertMany c [{"_id":"a"},{"_id":"b"}]` + "\ndumpDB $TMP/d.ndjson\nrestoreDB $TMP/d.ndjson")
	require.Contains(t, out, "! \rdumpDB  0.0 MiB  2 docs\x1b[K! \r\x1b[K")
	require.Contains(t, out, "! \rrestoreDB [")
	require.Contains(t, out, `{"file":"$TMP/d.ndjson","collections":1,"documents":2,"indexes":0,"bytes":`)
}

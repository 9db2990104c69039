package workload

import (
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minidbgo/minidbgo/loadtest/internal/runner"
	"github.com/minidbgo/minidbgo/storage"
)

// TestEngineSmoke runs every engine workload at a tiny N.
func TestEngineSmoke(t *testing.T) {
	dir := t.TempDir()
	e, err := OpenEngine(EngineConfig{Dir: dir, N: 2000, Concurrency: 2, ScanLength: 10})
	require.NoError(t, err)
	for _, name := range EngineNames {
		b, err := e.Prepare(name)
		require.NoError(t, err, name)
		res, err := runner.Run(context.Background(), runner.Config{Concurrency: b.Concurrency, Requests: b.Requests}, b.Op)
		require.NoError(t, err, name)
		extra := b.Finish()
		assert.Zero(t, res.Errors, "%s: %v", name, res.ErrorSamples)
		assert.Equal(t, b.Requests, res.Requests, name)
		switch name {
		case "readmissing":
			assert.Equal(t, res.Requests, res.Status["notfound"], name)
		case "fillbatch":
			assert.EqualValues(t, 2, res.Requests)
			assert.EqualValues(t, 2000, res.Items)
		case "fillsync":
			assert.EqualValues(t, 20, res.Requests)
			assert.EqualValues(t, 20, extra["wal_syncs"], "one fsync per write")
		case "scan":
			assert.EqualValues(t, 200, res.Requests)
			assert.Greater(t, res.Items, res.Requests)
		default:
			assert.Equal(t, res.Requests, res.Status["ok"], "%s: %v", name, res.Status)
		}
		assert.Contains(t, extra, "flushes", name)
	}
	// After deleterandom and compact, nothing is left.
	it := e.db.NewIter(nil)
	assert.False(t, it.First())
	require.NoError(t, it.Close())
	require.NoError(t, e.Close())
	left, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, left, "Close removes the databases")
}

func TestEngineReadsSeeValues(t *testing.T) {
	e, err := OpenEngine(EngineConfig{Dir: t.TempDir(), N: 300, Durability: storage.Durability{Mode: storage.DurabilityNone}})
	require.NoError(t, err)
	defer e.Close()
	b, err := e.Prepare("readrandom") // preloads, untimed
	require.NoError(t, err)
	res, err := runner.Run(context.Background(), runner.Config{Requests: b.Requests}, b.Op)
	require.NoError(t, err)
	b.Finish()
	assert.EqualValues(t, 300, res.Status["ok"])
	assert.Greater(t, res.BytesIn, int64(300*200))
	v, err := e.db.Get(engineKey(nil, 7))
	require.NoError(t, err)
	assert.Contains(t, string(v), `"_id":"user000000000007"`)
}

func TestEngineUnknown(t *testing.T) {
	e, err := OpenEngine(EngineConfig{Dir: t.TempDir(), N: 10})
	require.NoError(t, err)
	defer e.Close()
	_, err = e.Prepare("fillfast")
	assert.Error(t, err)
}

package docstore

import (
	"context"
	"testing"

	"github.com/minidbgo/minidbgo/docstore/internal/jsondoc"
	"github.com/minidbgo/minidbgo/docstore/internal/keyenc"
	"github.com/stretchr/testify/require"
)

func TestIndexDelta(t *testing.T) {
	k := func(s ...string) [][]byte {
		out := make([][]byte, len(s))
		for i, x := range s {
			out[i] = []byte(x)
		}
		return out
	}
	del, add := indexDelta(k("a", "b", "c"), k("b", "d"))
	require.Equal(t, k("a", "c"), del)
	require.Equal(t, k("d"), add)
	del, add = indexDelta(nil, k("x"))
	require.Empty(t, del)
	require.Equal(t, k("x"), add)
	del, add = indexDelta(k("x"), nil)
	require.Equal(t, k("x"), del)
	require.Empty(t, add)
	del, add = indexDelta(k("x", "y"), k("y", "x"))
	require.Empty(t, del)
	require.Empty(t, add)
}

func TestStatsDelta(t *testing.T) {
	for _, c := range []struct {
		existed, exists bool
		oldLen, newLen  int
		docs, bytes     int64
	}{
		{false, true, 0, 10, 1, 10},   // insert
		{true, true, 10, 25, 0, 15},   // grow
		{true, true, 25, 5, 0, -20},   // shrink
		{true, false, 25, 0, -1, -25}, // delete
		{false, false, 0, 0, 0, 0},    // delete of nothing
	} {
		docs, bytes := statsDelta(c.existed, c.exists, c.oldLen, c.newLen)
		require.Equal(t, c.docs, docs, "%+v", c)
		require.Equal(t, c.bytes, bytes, "%+v", c)
	}
}

func TestReadOld(t *testing.T) {
	db := openMem(t, nil)
	ctx := context.Background()
	_, err := db.InsertOne(ctx, "c", []byte(`{"_id":"a","v":1}`), WriteOptions{})
	require.NoError(t, err)
	key := keyenc.DocKey(nil, "c", "a")

	old, rev, js, err := db.readOld(key, "c", "a", true)
	require.NoError(t, err)
	require.NotZero(t, rev)
	require.JSONEq(t, `{"_id":"a","v":1}`, string(js))
	v, ok := old.Field("v")
	require.True(t, ok)
	require.Equal(t, jsondoc.KindNumber, v.Kind())

	old, _, js, err = db.readOld(key, "c", "a", false)
	require.NoError(t, err)
	require.Nil(t, old, "not parsed unless asked")
	require.NotNil(t, js)

	old, rev, js, err = db.readOld(keyenc.DocKey(nil, "c", "zz"), "c", "zz", true)
	require.NoError(t, err)
	require.Nil(t, old)
	require.Zero(t, rev)
	require.Nil(t, js, "no stored version")

	// A damaged stored document is an error naming it.
	require.NoError(t, db.engine.Put(key, encodeStored(7, []byte(`{"_id":`))))
	_, _, _, err = db.readOld(key, "c", "a", true)
	require.ErrorContains(t, err, `stored document "c"/"a"`)
}

func TestLockForWriteRetriesWhenAUniqueIndexAppears(t *testing.T) {
	db := openMem(t, nil)
	ctx := context.Background()
	_, err := db.InsertOne(ctx, "c", []byte(`{"_id":"a","k":1}`), WriteOptions{})
	require.NoError(t, err)
	c := db.getCollection("c")
	ops := []*docOp{{id: "a"}}

	indexes, unlock, retry := db.lockForWrite(c, "c", ops)
	require.False(t, retry)
	require.Empty(t, indexes)
	unlock()

	spec, err := ParseIndexSpec([]byte(`{"name":"k_u","fields":["k"],"unique":true}`))
	require.NoError(t, err)
	require.NoError(t, db.CreateIndex(ctx, "c", spec, nil))
	indexes, unlock, retry = db.lockForWrite(c, "c", ops)
	require.False(t, retry, "a unique index known before locking serialises at once")
	require.Len(t, indexes, 1)
	require.False(t, c.writeMu.TryLock(), "the collection's writes are serialised")
	unlock()
	require.True(t, c.writeMu.TryLock())
	c.writeMu.Unlock()
}

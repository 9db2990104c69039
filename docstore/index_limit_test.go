package docstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestHugeArrayIntoIndexedField is issue 20's quadratic refusal: a
// 200,000-element array written to an indexed field used to be
// de-duplicated pairwise (and its keys insertion-sorted) before the
// 1,000-entry limit was checked, for minutes. The limit now stops the
// one pass over the array at its 1,001st distinct value. No time is
// asserted: the old code does not finish within the test timeout.
func TestHugeArrayIntoIndexedField(t *testing.T) {
	db := openMem(t, nil)
	spec, err := ParseIndexSpec([]byte(`{"fields":["tags"]}`))
	require.NoError(t, err)
	require.NoError(t, db.CreateIndex(context.Background(), "c", spec, nil))

	var b bytes.Buffer
	b.WriteString(`{"_id":"big","tags":[`)
	for i := range 200000 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%d", i)
	}
	b.WriteString(`]}`)
	_, err = db.InsertOne(context.Background(), "c", b.Bytes(), WriteOptions{})
	var de *Error
	require.True(t, errors.As(err, &de), "got %v", err)
	require.Equal(t, CodeBadRequest, de.Code)
	require.Contains(t, err.Error(), "more than 1000 entries")
	_, err = db.Get(context.Background(), "c", "big")
	require.Error(t, err, "nothing was written")

	// Repeats count once, as before: 200,000 copies of 5 values index 5 keys.
	b.Reset()
	b.WriteString(`{"_id":"rep","tags":[`)
	for i := range 200000 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%d", i%5)
	}
	b.WriteString(`]}`)
	_, err = db.InsertOne(context.Background(), "c", b.Bytes(), WriteOptions{})
	require.NoError(t, err)
	n, err := db.Count(context.Background(), "c", []byte(`{"tags":3}`))
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
}

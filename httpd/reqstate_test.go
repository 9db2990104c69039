package httpd

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type otherKey struct{}

// TestReqStateDeadline: the request state is a context whose deadline
// needs no timer until Done is asked for, and behaves as
// context.WithDeadline's otherwise.
func TestReqStateDeadline(t *testing.T) {
	parent := context.WithValue(context.Background(), otherKey{}, "v")
	st := &reqState{Context: parent, id: "r1"}
	require.Same(t, st, stateOf(context.WithValue(st, otherKey{}, "w")))
	require.Equal(t, "v", st.Value(otherKey{}))
	_, ok := st.Deadline()
	require.False(t, ok)
	require.Nil(t, st.Done(), "no deadline: the parent's Done")

	// Err alone sees the deadline pass.
	d := time.Now().Add(30 * time.Millisecond)
	st.setDeadline(d)
	got, ok := st.Deadline()
	require.True(t, ok)
	require.Equal(t, d, got)
	require.NoError(t, st.Err())
	require.Eventually(t, func() bool { return st.Err() == context.DeadlineExceeded }, 5*time.Second, time.Millisecond)
	require.Nil(t, st.done, "no timer was started")
	st.release()
	require.NoError(t, st.Err(), "after the handler, the deadline is gone")

	// Done closes at the deadline.
	st = &reqState{Context: context.Background()}
	st.setDeadline(time.Now().Add(20 * time.Millisecond))
	select {
	case <-st.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done did not close at the deadline")
	}
	require.Equal(t, context.DeadlineExceeded, st.Err())
	st.release()

	// Done closes when the parent is canceled, with its error.
	ctx, cancel := context.WithCancel(context.Background())
	st = &reqState{Context: ctx}
	st.setDeadline(time.Now().Add(time.Hour))
	done := st.Done()
	require.NoError(t, st.Err())
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Done did not close with the parent")
	}
	require.Equal(t, context.Canceled, st.Err())
	st.release()

	// A context derived from the state ends with it.
	st = &reqState{Context: context.Background()}
	st.setDeadline(time.Now().Add(20 * time.Millisecond))
	child, cancelChild := context.WithCancel(st)
	defer cancelChild()
	select {
	case <-child.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("a child context did not end at the deadline")
	}
	require.ErrorIs(t, child.Err(), context.DeadlineExceeded)
	st.release()
}

package client

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

// The flows against a server are tested in package httpd, which runs the
// real one; these are the client's own encodings.

func TestRetryAfter(t *testing.T) {
	for h, want := range map[string]time.Duration{
		"": 0, "1": time.Second, " 30 ": 30 * time.Second, "-4": 0, "soon": 0,
		time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat): 0,
	} {
		if got := retryAfter(h); got != want {
			t.Errorf("retryAfter(%q) = %v, want %v", h, got, want)
		}
	}
	if got := retryAfter(time.Now().Add(time.Minute).UTC().Format(http.TimeFormat)); got <= 50*time.Second || got > time.Minute {
		t.Errorf("retryAfter(date a minute ahead) = %v", got)
	}
}

func TestQueryRequest(t *testing.T) {
	for _, tc := range []struct {
		q    Query
		want string
	}{
		{Query{}, `{}`},
		{Query{Filter: map[string]int{"a": 1}, Sort: "-price,_id", Fields: "name", Limit: 3}, `{"filter":{"a":1},"sort":"-price,_id","fields":"name","limit":3}`},
		{Query{Filter: `{"a": 1}`, Sort: `{"a": -1}`, Fields: json.RawMessage(`{"a":1}`)}, `{"filter":{"a":1},"sort":{"a":-1},"fields":{"a":1}}`},
		{Query{Filter: json.RawMessage(nil), Sort: map[string]int{"a": 1}, Cursor: "c"}, `{"sort":{"a":1},"cursor":"c"}`},
	} {
		r, err := tc.q.request()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(r)
		if string(b) != tc.want {
			t.Errorf("%+v: got %s, want %s", tc.q, b, tc.want)
		}
	}
	if _, err := (Query{Filter: make(chan int)}).request(); err == nil {
		t.Error("a filter that cannot be encoded is not an error")
	}
}

func TestRetryWait(t *testing.T) {
	r := &Retry{Attempts: 5, MinBackoff: 10 * time.Millisecond, MaxBackoff: 40 * time.Millisecond}
	for attempt, hi := range map[int]time.Duration{1: 10 * time.Millisecond, 2: 20 * time.Millisecond, 3: 40 * time.Millisecond, 9: 40 * time.Millisecond} {
		if d := r.wait(attempt, &Error{}); d < hi/2 || d > hi {
			t.Errorf("attempt %d: wait %v, want in [%v, %v]", attempt, d, hi/2, hi)
		}
	}
	if d := r.wait(1, &Error{RetryAfter: 30 * time.Millisecond}); d != 30*time.Millisecond {
		t.Errorf("Retry-After 30ms: wait %v", d)
	}
	if d := r.wait(1, &Error{RetryAfter: time.Hour}); d != 40*time.Millisecond {
		t.Errorf("Retry-After 1h: wait %v, want MaxBackoff", d)
	}
}

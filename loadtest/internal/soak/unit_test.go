package soak

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStatusKey(t *testing.T) {
	assert.Equal(t, "200", statusKey(200, nil))
	assert.Equal(t, "404", statusKey(404, []byte(`{"code":"not_found"}`)))
	assert.Equal(t, "503 overloaded", statusKey(503, []byte(`{"error":"x","status":503,"code":"overloaded"}`)))
	assert.Equal(t, "503 busy", statusKey(503, []byte(`{"code":"busy"}`)))
	assert.Equal(t, "500", statusKey(500, []byte("not json")))
	assert.True(t, isDeliberate503("503 overloaded"))
	assert.True(t, isDeliberate503("503 busy"))
	assert.False(t, isDeliberate503("503 unavailable"))
	assert.False(t, isDeliberate503("503"))
}

func TestErrorSamplesGroupByCause(t *testing.T) {
	s := &soak{}
	o := newOpStats()
	for _, port := range []string{"43104", "43442"} {
		err := errors.New("read tcp 127.0.0.1:" + port + "->127.0.0.1:40859: read: connection reset by peer")
		o.fail(context.Background(), s, time.Millisecond, err, 0)
	}
	o.fail(context.Background(), s, time.Millisecond, context.Canceled, 0)
	assert.EqualValues(t, 2, o.errors, "a cancelled request is not a failure")
	assert.Equal(t, map[string]int64{"read tcp read: connection reset by peer": 2}, o.samples)
}

// TestVerdict checks that the run fails on what it must fail on: a peak
// RSS at the limit, an unexpected 5xx, a request without a response, and
// missing compactions or dumps; and passes on deliberate 503s and 4xx.
func TestVerdict(t *testing.T) {
	newRun := func() *soak {
		s := &soak{cfg: Config{}.withDefaults(), ops: map[string]*opStats{}}
		for _, k := range opKinds {
			s.ops[k] = newOpStats()
		}
		s.compact = StreamStats{Requested: 1, Completed: 1}
		s.dumps = StreamStats{Requested: 1, Completed: 1, Bytes: 10, LastBytes: 10}
		s.exports = StreamStats{Requested: 1, Completed: 1}
		s.timeline = []Sample{{T: 0, RSSMB: 40, HWMMB: 45}, {T: 1, RSSMB: 90, HWMMB: 95}}
		s.ops["get"].record(time.Millisecond, "200", nil, 100, 0)
		s.ops["get"].record(time.Millisecond, "404", nil, 100, 0)
		s.ops["insert"].record(time.Millisecond, "503 overloaded", nil, 100, 0)
		s.ops["insert"].record(time.Millisecond, "503 busy", nil, 100, 0)
		return s
	}
	verdict := func(s *soak) *Result {
		res := &Result{RSSLimitMB: 150}
		s.fill(res, time.Second)
		return res
	}

	res := verdict(newRun())
	assert.Empty(t, res.Failures)
	assert.EqualValues(t, 2, res.Deliberate503)
	assert.Zero(t, res.Unexpected5xx)
	assert.Equal(t, 95.0, res.PeakRSSMB, "VmHWM counts")
	assert.EqualValues(t, 4, res.Requests)

	s := newRun()
	s.timeline = append(s.timeline, Sample{T: 2, RSSMB: 150, HWMMB: 150})
	assert.Contains(t, strings.Join(verdict(s).Failures, "\n"), "peak RSS 150.0 MiB")

	s = newRun()
	s.timeline[1].HWMMB = 151 // a spike between two samples
	assert.Contains(t, strings.Join(verdict(s).Failures, "\n"), "peak RSS")

	s = newRun()
	s.ops["find_indexed"].record(time.Millisecond, "504 timeout", nil, 100, 0)
	s.ops["get"].record(time.Millisecond, "503 unavailable", nil, 100, 0)
	res = verdict(s)
	assert.EqualValues(t, 2, res.Unexpected5xx)
	assert.Contains(t, strings.Join(res.Failures, "\n"), "2 unexpected 5xx")

	s = newRun()
	s.ops["dump"].record(time.Millisecond, "", assert.AnError, 0, 0)
	res = verdict(s)
	assert.EqualValues(t, 1, res.Errors)
	assert.Contains(t, strings.Join(res.Failures, "\n"), "1 requests failed without a response")

	s = newRun()
	s.compact, s.dumps = StreamStats{}, StreamStats{}
	s.timeline = nil
	f := strings.Join(verdict(s).Failures, "\n")
	assert.Contains(t, f, "no compaction")
	assert.Contains(t, f, "no full dump")
	assert.Contains(t, f, "no RSS sample")
}

func TestLogFilter(t *testing.T) {
	var all bytes.Buffer
	l := &logFilter{next: &all}
	for _, line := range []string{
		`{"time":"t","level":"INFO","msg":"minidbgo-server starting","addr":"127.0.0.1:1","gomemlimit":"200MiB","gogc":50}`,
		`{"level":"WARN","msg":"slow"}`,
		`{"level":"ERROR","msg":"internal error"}`,
		`{"level":"INFO","msg":"compaction done"}`,
	} {
		_, err := l.Write([]byte(line + "\n"))
		require.NoError(t, err)
	}
	w, e, samples := l.counts()
	assert.Equal(t, 1, w)
	assert.Equal(t, 1, e)
	assert.Len(t, samples, 2)
	assert.Equal(t, "gomemlimit=200MiB gogc=50", l.startSettings())
	assert.Equal(t, 4, strings.Count(all.String(), "\n"), "every line passed on")
}

func TestWriteCSVAndText(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, WriteCSV(&b, []Sample{{T: 1, RSSMB: 50.5, HWMMB: 51, HeapInuseMB: -1, NumGC: 3, Goroutines: -1}}))
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	require.Len(t, lines, 2)
	assert.True(t, strings.HasPrefix(lines[0], "t_s,rss_mb,vm_hwm_mb,"))
	assert.True(t, strings.HasPrefix(lines[1], "1,50.5,51,,"), lines[1])

	res := &Result{Clients: 50, DurationSec: 600, RSSLimitMB: 150, PeakRSSMB: 99, Failures: []string{"boom"},
		Ops: map[string]*OpResult{"get": {Requests: 10, Status: map[string]int64{"200": 10}}}}
	b.Reset()
	WriteText(&b, res)
	assert.Contains(t, b.String(), "soak: 10m, 50 clients")
	assert.Contains(t, b.String(), "FAIL")
	assert.Contains(t, b.String(), "FAILURE:     boom")
	assert.Contains(t, b.String(), "get")
}

func TestLoadGenWindow(t *testing.T) {
	g := newLoadGen(Config{MaxDocs: 100, Preload: 90, Batch: 20, DocSize: 300, Seed: 1}.withDefaults())
	assert.False(t, g.full())
	d := g.doc(nil, 7)
	assert.True(t, bytes.HasPrefix(d, []byte(`{"_id":"s0000000007",`)), string(d))
	assert.True(t, bytes.HasSuffix(d, []byte(`,"seq":7}`)), string(d))
	g.next.Store(100)
	assert.True(t, g.full())
	m, p, body := g.request("insert", rand.New(rand.NewPCG(1, 1)), 0)
	assert.Equal(t, "DELETE", m)
	assert.Equal(t, "/api/soak/s0000000000", p)
	assert.Nil(t, body)
	assert.False(t, g.full(), "99 in the window")
	g.next.Store(200)
	_, p, body = g.request("insertMany", rand.New(rand.NewPCG(1, 2)), 0)
	assert.Equal(t, "/api/soak/_delete", p)
	assert.JSONEq(t, `{"filter":{"_id":{"$gte":"s0000000001","$lt":"s0000000021"}}}`, string(body))
	assert.EqualValues(t, 21, g.oldest.Load())
}

package docstore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/minidbgo/minidbgo/docstore/internal/jsondoc"
	"github.com/minidbgo/minidbgo/docstore/internal/keyenc"
	"github.com/minidbgo/minidbgo/storage"
	"github.com/minidbgo/minidbgo/storage/vfs"
	"github.com/stretchr/testify/require"
)

// newFakeClock returns a fakeClock (changes_test.go) at ms.
func newFakeClock(ms int64) *fakeClock {
	c := &fakeClock{}
	c.ns.Store(ms * int64(time.Millisecond))
	return c
}

// millis returns the clock in epoch milliseconds.
func (c *fakeClock) millis() int64 { return c.ns.Load() / int64(time.Millisecond) }

// openTTL opens a DB on c without a background reaper: tests reap by
// calling ReapExpired.
func openTTL(t *testing.T, c *fakeClock) *DB {
	return openMem(t, &Options{Now: c.now, TTLInterval: -1})
}

func ttlSpec(t *testing.T, body string) IndexSpec {
	t.Helper()
	s, err := ParseIndexSpec([]byte(body))
	require.NoError(t, err)
	return s
}

// visibleIDs returns the _ids Find returns for filter, sorted.
func visibleIDs(t *testing.T, db *DB, col, filter string) []string {
	t.Helper()
	var ids []string
	tok := ""
	for {
		q := Query{Filter: []byte(filter), Limit: 5, Cursor: tok}
		if tok != "" {
			q = Query{Cursor: tok}
		}
		cur, err := db.Find(context.Background(), col, q)
		require.NoError(t, err)
		for cur.Next() {
			ids = append(ids, cur.ID())
		}
		require.NoError(t, cur.Err())
		tok = cur.NextToken()
		require.NoError(t, cur.Close())
		if tok == "" {
			break
		}
	}
	sort.Strings(ids)
	return ids
}

// requireIndexesMatchDocs checks, against a full scan of the documents,
// that every index holds exactly its documents' entries, and that every
// document with an expiry has its expiry key (others may be stale, but
// none is due when noneDue).
func requireIndexesMatchDocs(t *testing.T, db *DB, col string, noneDue bool, now uint64) {
	t.Helper()
	c := db.getCollection(col)
	if c == nil {
		return
	}
	c.mu.RLock()
	indexes := append([]*index(nil), c.indexes...)
	c.mu.RUnlock()
	ttl := ttlFields(indexes)
	want := map[string]map[string]bool{}
	wantExp := map[string]bool{}
	it := db.engine.NewIter(&storage.IterOptions{Prefix: keyenc.DocPrefix(col)})
	for ok := it.First(); ok; ok = it.Next() {
		id, err := keyenc.DocIDFromKey(it.Key(), col)
		require.NoError(t, err)
		_, js, err := decodeStored(it.Value())
		require.NoError(t, err)
		doc, err := jsondoc.Parse(js, jsondoc.Limits{})
		require.NoError(t, err)
		for _, ix := range indexes {
			keys, err := ix.entries(col, doc, id)
			require.NoError(t, err)
			if want[ix.spec.Name] == nil {
				want[ix.spec.Name] = map[string]bool{}
			}
			for _, k := range keys {
				want[ix.spec.Name][string(k)] = true
			}
		}
		if ms, ok := docExpiry(doc, ttl); ok {
			wantExp[string(keyenc.ExpiryKey(nil, col, ms, id))] = true
		}
	}
	require.NoError(t, it.Close())
	for _, ix := range indexes {
		got := map[string]bool{}
		it := db.engine.NewIter(&storage.IterOptions{Prefix: ix.prefix})
		for ok := it.First(); ok; ok = it.Next() {
			got[string(it.Key())] = true
		}
		require.NoError(t, it.Close())
		if want[ix.spec.Name] == nil {
			want[ix.spec.Name] = map[string]bool{}
		}
		require.Equal(t, want[ix.spec.Name], got, "index %s against a full scan", ix.spec.Name)
	}
	prefix := keyenc.ExpiryPrefix(col)
	it = db.engine.NewIter(&storage.IterOptions{Prefix: prefix})
	got := map[string]bool{}
	for ok := it.First(); ok; ok = it.Next() {
		got[string(it.Key())] = true
		ms, id, err := keyenc.DecodeExpiryKey(it.Key(), len(prefix))
		require.NoError(t, err)
		if noneDue {
			require.Greater(t, ms, now, "expiry key of %q is due after a reap", id)
		}
	}
	require.NoError(t, it.Close())
	for k := range wantExp {
		require.True(t, got[k], "a document's expiry key is missing")
	}
}

func TestTTLParseIndexSpec(t *testing.T) {
	s := ttlSpec(t, `{"fields":["expiresAt"],"expireAfterSeconds":3600}`)
	require.NotNil(t, s.ExpireAfterSeconds)
	require.Equal(t, int64(3600), *s.ExpireAfterSeconds)
	s = ttlSpec(t, `{"keys":{"at":1},"expireAfterSeconds":0}`)
	require.Equal(t, int64(0), *s.ExpireAfterSeconds)
	js, err := json.Marshal(s)
	require.NoError(t, err)
	require.Contains(t, string(js), `"expireAfterSeconds":0`)

	bad := map[string]string{
		`{"fields":["a"],"expireAfterSeconds":-1}`:         "expireAfterSeconds",
		`{"fields":["a"],"expireAfterSeconds":1.5}`:        "expireAfterSeconds",
		`{"fields":["a"],"expireAfterSeconds":"60"}`:       "expireAfterSeconds",
		`{"fields":["a"],"expireAfterSeconds":null}`:       "expireAfterSeconds",
		`{"fields":["a"],"expireAfterSeconds":2147483648}`: "expireAfterSeconds",
		`{"fields":["a","b"],"expireAfterSeconds":60}`:     "exactly one field",
	}
	for body, want := range bad {
		_, err := ParseIndexSpec([]byte(body))
		require.Error(t, err, body)
		require.Equal(t, "bad_request", errCode(err), body)
		require.Contains(t, err.Error(), want, body)
	}
	db := openTTL(t, newFakeClock(0))
	n := int64(-5)
	err = db.CreateIndex(context.Background(), "c", IndexSpec{Name: "x", Fields: []IndexField{{Path: "a"}}, ExpireAfterSeconds: &n}, nil)
	require.Equal(t, "bad_request", errCode(err))
	_, err = db.Collections()
	require.NoError(t, err)

	// Listed with the index; a different expiry is a different index.
	require.NoError(t, db.CreateIndex(context.Background(), "c", ttlSpec(t, `{"name":"t","fields":["at"],"expireAfterSeconds":60}`), nil))
	specs, err := db.ListIndexes("c")
	require.NoError(t, err)
	require.Len(t, specs, 1)
	require.Equal(t, int64(60), *specs[0].ExpireAfterSeconds)
	err = db.CreateIndex(context.Background(), "c", ttlSpec(t, `{"name":"t","fields":["at"],"expireAfterSeconds":61}`), nil)
	require.Equal(t, "exists", errCode(err))
	err = db.CreateIndex(context.Background(), "c", ttlSpec(t, `{"name":"t","fields":["at"]}`), nil)
	require.Equal(t, "exists", errCode(err))
}

func TestTTLDates(t *testing.T) {
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	bms := base.UnixMilli()
	cases := []struct {
		doc string
		ms  int64
		ok  bool
	}{
		{`{"_expiresAt":"2026-01-02T03:04:05Z"}`, bms, true},
		{`{"_expiresAt":"2026-01-02T04:04:05.5+01:00"}`, bms + 500, true},
		{fmt.Sprintf(`{"_expiresAt":%d}`, bms), bms, true},
		{fmt.Sprintf(`{"_expiresAt":%d.7}`, bms), bms, true},
		{`{"_expiresAt":"tomorrow"}`, 0, false},
		{`{"_expiresAt":"2026-01-02"}`, 0, false},
		{`{"_expiresAt":true}`, 0, false},
		{`{"_expiresAt":{"$date":1}}`, 0, false},
		{`{"_expiresAt":null}`, 0, false},
		{`{"_expiresAt":[]}`, 0, false},
		{fmt.Sprintf(`{"_expiresAt":["x",%d,"2026-01-02T03:04:05Z",%d]}`, bms+9, bms+7), bms, true},
		{`{"_expiresAt":-5}`, 0, true},
		{`{"_expiresAt":1e30}`, 1<<63 - 1, true},
		{`{"other":1}`, 0, false},
		// A TTL field "at" with 60 s.
		{fmt.Sprintf(`{"at":%d}`, bms), bms + 60000, true},
		{fmt.Sprintf(`{"at":[%d,%d]}`, bms+5, bms), bms + 60000, true},
		{fmt.Sprintf(`{"at":%d,"_expiresAt":%d}`, bms, bms+1000), bms + 1000, true},
		{fmt.Sprintf(`{"at":%d,"_expiresAt":%d}`, bms, bms+100000), bms + 60000, true},
		{`{"at":"2026-01-02T03:04:05Z"}`, bms + 60000, true},
	}
	ttl := []ttlField{{path: "at", after: 60000}}
	for _, c := range cases {
		v, err := jsondoc.Parse([]byte(c.doc), jsondoc.Limits{})
		require.NoError(t, err)
		ms, ok := docExpiry(v, ttl)
		require.Equal(t, c.ok, ok, c.doc)
		if ok {
			require.Equal(t, uint64(c.ms), ms, c.doc)
		}
		jms, jok, err := jsonExpiry([]byte(c.doc), ttl)
		require.NoError(t, err)
		require.Equal(t, ok, jok, c.doc)
		require.Equal(t, ms, jms, c.doc)
	}
}

func TestTTLHiddenBeforeReapRemovedAfter(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli())
	db := openTTL(t, clock)
	t0 := clock.millis()
	require.NoError(t, db.CreateIndex(ctx, "s", ttlSpec(t, `{"name":"ttl","fields":["seen"],"expireAfterSeconds":60}`), nil))
	require.NoError(t, db.CreateIndex(ctx, "s", ttlSpec(t, `{"name":"k","fields":["k"]}`), nil))
	rfc := func(ms int64) string { return time.UnixMilli(ms).UTC().Format(time.RFC3339Nano) }
	docs := []string{
		fmt.Sprintf(`{"_id":"a","k":1,"_expiresAt":%q}`, rfc(t0+10000)),     // at +10 s
		fmt.Sprintf(`{"_id":"b","k":1,"_expiresAt":%d}`, t0+20000),          // at +20 s
		fmt.Sprintf(`{"_id":"c","k":2,"seen":%d}`, t0),                      // at +60 s
		fmt.Sprintf(`{"_id":"d","k":2,"seen":[%d,%d]}`, t0+100000, t0+5000), // at +65 s
		`{"_id":"e","k":1}`,
		`{"_id":"f","k":2,"_expiresAt":"never","seen":"later"}`,
		fmt.Sprintf(`{"_id":"g","k":1,"_expiresAt":%d}`, t0+1000000), // at +1000 s
	}
	require.NoError(t, db.CreateIndex(ctx, "s", ttlSpec(t, `{"name":"t","fields":["t"]}`), nil))
	for _, d := range docs {
		// "t" repeats the _id: its distinct values are the visible _ids.
		d = strings.Replace(d, `{"_id":"`+d[8:9]+`"`, `{"_id":"`+d[8:9]+`","t":"`+d[8:9]+`"`, 1)
		_, err := db.InsertOne(ctx, "s", []byte(d), WriteOptions{})
		require.NoError(t, err)
	}
	check := func(want []string) {
		t.Helper()
		require.Equal(t, want, visibleIDs(t, db, "s", `{}`))
		for _, id := range []string{"a", "b", "c", "d", "e", "f", "g"} {
			_, err := db.Get(ctx, "s", id)
			if contains(want, id) {
				require.NoError(t, err, id)
			} else {
				require.Equal(t, "not_found", errCode(err), id)
			}
		}
		n, err := db.Count(ctx, "s", nil)
		require.NoError(t, err)
		require.Equal(t, int64(len(want)), n, "count")
		for _, k := range []int{1, 2} {
			f := fmt.Sprintf(`{"k":%d}`, k)
			var wk []string
			for _, id := range want {
				if strings.Contains(docs[id[0]-'a'], fmt.Sprintf(`"k":%d`, k)) {
					wk = append(wk, id)
				}
			}
			require.Equal(t, wk, visibleIDs(t, db, "s", f), f)
			n, err := db.Count(ctx, "s", []byte(f))
			require.NoError(t, err)
			require.Equal(t, int64(len(wk)), n, "covered count %s", f)
		}
		vals, err := db.Distinct(ctx, "s", "k", nil)
		require.NoError(t, err)
		var wantVals []string
		for _, k := range []string{"1", "2"} {
			for _, id := range want {
				if strings.Contains(docs[id[0]-'a'], `"k":`+k) {
					wantVals = append(wantVals, k)
					break
				}
			}
		}
		require.Equal(t, "["+strings.Join(wantVals, ",")+"]", distinctJSON(t, vals))
		vals, err = db.Distinct(ctx, "s", "t", nil)
		require.NoError(t, err)
		wantT, _ := json.Marshal(want)
		require.Equal(t, string(wantT), distinctJSON(t, vals), "distinct from the index")
		var dump bytes.Buffer
		_, err = db.Dump(ctx, &dump)
		require.NoError(t, err)
		var exp bytes.Buffer
		_, err = db.Export(ctx, "s", &exp)
		require.NoError(t, err)
		for _, id := range []string{"a", "b", "c", "d", "e", "f", "g"} {
			in := fmt.Sprintf(`"_id":%q`, id)
			require.Equal(t, contains(want, id), strings.Contains(dump.String(), in), "dump %s", id)
			require.Equal(t, contains(want, id), strings.Contains(exp.String(), in), "export %s", id)
		}
	}
	all := []string{"a", "b", "c", "d", "e", "f", "g"}
	check(all)
	clock.advance(10 * time.Second) // a expires exactly now
	check([]string{"b", "c", "d", "e", "f", "g"})
	clock.advance(50 * time.Second) // b and c
	check([]string{"d", "e", "f", "g"})
	requireCountsMatchScan(t, db, "s", "before the reap")
	docsOnDisk, _ := scanCount(t, db, "s")
	require.Equal(t, int64(7), docsOnDisk, "nothing is deleted before the reaper runs")

	n, err := db.ReapExpired(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(3), n)
	check([]string{"d", "e", "f", "g"})
	docsOnDisk, _ = scanCount(t, db, "s")
	require.Equal(t, int64(4), docsOnDisk)
	requireCountsMatchScan(t, db, "s", "after the reap")
	requireIndexesMatchDocs(t, db, "s", true, uint64(clock.millis()))

	clock.advance(5 * time.Second) // d
	check([]string{"e", "f", "g"})
	n, err = db.ReapExpired(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(1), n)
	requireCountsMatchScan(t, db, "s", "after the second reap")
	requireIndexesMatchDocs(t, db, "s", true, uint64(clock.millis()))
	n, err = db.ReapExpired(ctx)
	require.NoError(t, err)
	require.Zero(t, n)
}

func contains(s []string, x string) bool {
	for _, y := range s {
		if y == x {
			return true
		}
	}
	return false
}

// TestTTLWritesOverExpired: an expired document is gone for writes too:
// an insert-only write succeeds, an update or a delete finds nothing, and
// a rewrite makes it live again.
func TestTTLWritesOverExpired(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock(1_000_000)
	db := openTTL(t, clock)
	_, err := db.InsertOne(ctx, "c", []byte(`{"_id":"a","_expiresAt":1000500,"n":1}`), WriteOptions{})
	require.NoError(t, err)
	clock.advance(time.Second)
	_, err = db.Update(ctx, "c", "a", []byte(`{"$inc":{"n":1}}`), WriteOptions{})
	require.Equal(t, "not_found", errCode(err))
	require.Equal(t, "not_found", errCode(db.Delete(ctx, "c", "a", WriteOptions{})))
	res, err := db.Create(ctx, "c", []byte(`{"_id":"a","n":7}`))
	require.NoError(t, err)
	require.True(t, res.Created)
	require.JSONEq(t, `{"_id":"a","n":7}`, getJSON(t, db, "c", "a"))
	n, err := db.ReapExpired(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "the rewritten document does not expire")
	requireCountsMatchScan(t, db, "c", "after the rewrite")
	requireIndexesMatchDocs(t, db, "c", true, uint64(clock.millis()))
	cnt, err := db.Count(ctx, "c", nil)
	require.NoError(t, err)
	require.Equal(t, int64(1), cnt)
}

// TestTTLIndexBackfillAndDrop: creating a TTL index over existing
// documents hides the expired ones and gives the others their expiry
// keys; dropping it removes them.
func TestTTLIndexBackfillAndDrop(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock(10_000_000)
	db := openTTL(t, clock)
	for i := range 600 {
		_, err := db.InsertOne(ctx, "c", []byte(fmt.Sprintf(`{"_id":"%04d","at":%d}`, i, 10_000_000-i*1000)), WriteOptions{})
		require.NoError(t, err)
	}
	_, err := db.InsertOne(ctx, "c", []byte(`{"_id":"own","_expiresAt":20000000}`), WriteOptions{})
	require.NoError(t, err)
	_, err = db.InsertOne(ctx, "c", []byte(`{"_id":"both","at":10000000,"_expiresAt":30000000}`), WriteOptions{})
	require.NoError(t, err)
	expiryKeys := func(id string) []uint64 {
		prefix := keyenc.ExpiryPrefix("c")
		it := db.engine.NewIter(&storage.IterOptions{Prefix: prefix})
		defer it.Close()
		var out []uint64
		for ok := it.First(); ok; ok = it.Next() {
			ms, kid, err := keyenc.DecodeExpiryKey(it.Key(), len(prefix))
			require.NoError(t, err)
			if kid == id {
				out = append(out, ms)
			}
		}
		return out
	}
	require.Equal(t, []uint64{30_000_000}, expiryKeys("both"))
	require.NoError(t, db.CreateIndex(ctx, "c", ttlSpec(t, `{"name":"t","fields":["at"],"expireAfterSeconds":100}`), nil))
	require.Equal(t, []uint64{10_100_000}, expiryKeys("both"), "the backfill replaces the key the index made stale")
	// at + 100 s <= now for i >= 100.
	n, err := db.Count(ctx, "c", nil)
	require.NoError(t, err)
	require.Equal(t, int64(102), n)
	require.Len(t, visibleIDs(t, db, "c", `{}`), 102)
	requireIndexesMatchDocs(t, db, "c", false, 0)

	require.NoError(t, db.DropIndex(ctx, "c", "t"))
	// Without the index only "own" and "both" can expire: their keys
	// alone are left (the drop's sweep deleted the rest), and the
	// documents it hid are back, as in MongoDB.
	it := db.engine.NewIter(&storage.IterOptions{Prefix: keyenc.ExpiryPrefix("c")})
	var keys int
	for ok := it.First(); ok; ok = it.Next() {
		keys++
	}
	require.NoError(t, it.Close())
	require.Equal(t, 2, keys)
	require.Equal(t, []uint64{30_000_000}, expiryKeys("both"), "the drop's sweep puts back the key without the index")
	requireCountsMatchScan(t, db, "c", "after the drop")
	n, err = db.Count(ctx, "c", nil)
	require.NoError(t, err)
	require.Equal(t, int64(602), n)
}

// TestTTLReaperRunsInBackground: the reaper deletes on its own every
// TTLInterval, and Close stops it.
func TestTTLReaperRunsInBackground(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock(5_000_000)
	db := openMem(t, &Options{Now: clock.now, TTLInterval: 10 * time.Millisecond})
	var bodies [][]byte
	for i := range 700 {
		bodies = append(bodies, []byte(fmt.Sprintf(`{"_id":"%d","_expiresAt":%d}`, i, 5_000_001+(i%2)*10_000)))
	}
	_, err := db.InsertMany(ctx, "c", bodies)
	require.NoError(t, err)
	clock.advance(time.Millisecond)
	require.Eventually(t, func() bool {
		d, _ := scanCount(t, db, "c")
		return d == 350
	}, 10*time.Second, 5*time.Millisecond)
	requireCountsMatchScan(t, db, "c", "after the background reap")
	require.NoError(t, db.Close())
}

// ttlModelDoc is what the model knows of a stored document.
type ttlModelDoc struct {
	k   int
	own *int64 // _expiresAt (ms), nil: none or not a date
	at  *int64 // the TTL index's field (ms)
}

// TestTTLModel runs random writes of documents with and without
// _expiresAt and a TTL field, clock moves, reaper runs and TTL index
// creations and drops against a brute-force model, checking after every
// step what every read returns, and after every reap that the documents,
// indexes and counts agree with a full scan.
func TestTTLModel(t *testing.T) {
	ctx := context.Background()
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	clock := newFakeClock(1_700_000_000_000)
	db := openTTL(t, clock)
	require.NoError(t, db.CreateIndex(ctx, "m", ttlSpec(t, `{"name":"k","fields":["k"]}`), nil))
	const after = 30 // the TTL index's seconds
	ttlOn := false
	stored := map[string]ttlModelDoc{}
	expiry := func(d ttlModelDoc) (int64, bool) {
		var best int64
		ok := false
		if d.own != nil {
			best, ok = *d.own, true
		}
		if ttlOn && d.at != nil && (!ok || *d.at+after*1000 < best) {
			best, ok = *d.at+after*1000, true
		}
		return best, ok
	}
	visible := func(id string) bool {
		d, ok := stored[id]
		if !ok {
			return false
		}
		e, has := expiry(d)
		return !has || e > clock.millis()
	}
	// date renders ms in a random accepted form, or a non-date.
	date := func(ms int64) (string, *int64) {
		switch rng.Intn(5) {
		case 0:
			return fmt.Sprintf("%d", ms), &ms
		case 1:
			return fmt.Sprintf("%q", time.UnixMilli(ms).UTC().Format(time.RFC3339Nano)), &ms
		case 2:
			return fmt.Sprintf(`[%d,"x",%d]`, ms+5000, ms), &ms
		case 3:
			return `"soon"`, nil
		}
		return fmt.Sprintf("%q", time.UnixMilli(ms).In(time.FixedZone("", 3600)).Format(time.RFC3339Nano)), &ms
	}
	randTime := func() int64 { return clock.millis() + int64(rng.Intn(60_000)) - 5_000 }
	newDoc := func(id string) (string, ttlModelDoc) {
		d := ttlModelDoc{k: rng.Intn(3)}
		body := fmt.Sprintf(`{"_id":%q,"k":%d`, id, d.k)
		if rng.Intn(3) > 0 {
			s, ms := date(randTime())
			body += `,"_expiresAt":` + s
			d.own = ms
		}
		if rng.Intn(2) == 0 {
			s, ms := date(randTime())
			body += `,"at":` + s
			d.at = ms
		}
		return body + "}", d
	}
	check := func(step int) {
		t.Helper()
		var want []string
		byK := map[int][]string{}
		for id, d := range stored {
			if visible(id) {
				want = append(want, id)
				byK[d.k] = append(byK[d.k], id)
			}
		}
		sort.Strings(want)
		got := visibleIDs(t, db, "m", `{}`)
		require.Equal(t, fmt.Sprint(want), fmt.Sprint(got), "step %d: find", step)
		n, err := db.Count(ctx, "m", nil)
		require.NoError(t, err)
		require.Equal(t, int64(len(want)), n, "step %d: count", step)
		for k := range 3 {
			f := fmt.Sprintf(`{"k":%d}`, k)
			n, err := db.Count(ctx, "m", []byte(f))
			require.NoError(t, err)
			require.Equal(t, int64(len(byK[k])), n, "step %d: count %s", step, f)
		}
		for id := range stored {
			_, err := db.Get(ctx, "m", id)
			if visible(id) {
				require.NoError(t, err, "step %d: get %s", step, id)
			} else {
				require.Equal(t, "not_found", errCode(err), "step %d: get %s", step, id)
			}
		}
	}
	for step := range 400 {
		id := fmt.Sprintf("d%d", rng.Intn(25))
		switch r := rng.Intn(20); {
		case r < 7:
			body, d := newDoc(id)
			_, err := db.InsertOne(ctx, "m", []byte(body), WriteOptions{})
			require.NoError(t, err)
			stored[id] = d
		case r < 9:
			s, ms := date(randTime())
			_, err := db.Update(ctx, "m", id, []byte(`{"$set":{"_expiresAt":`+s+`}}`), WriteOptions{})
			if visible(id) {
				require.NoError(t, err, "step %d", step)
				d := stored[id]
				d.own = ms
				stored[id] = d
			} else {
				require.Equal(t, "not_found", errCode(err), "step %d", step)
			}
		case r < 10:
			_, err := db.Update(ctx, "m", id, []byte(`{"$unset":{"_expiresAt":1,"at":1}}`), WriteOptions{})
			if visible(id) {
				require.NoError(t, err, "step %d", step)
				stored[id] = ttlModelDoc{k: stored[id].k}
			} else {
				require.Equal(t, "not_found", errCode(err), "step %d", step)
			}
		case r < 12:
			err := db.Delete(ctx, "m", id, WriteOptions{})
			if visible(id) {
				require.NoError(t, err, "step %d", step)
				delete(stored, id)
			} else {
				require.Equal(t, "not_found", errCode(err), "step %d", step)
			}
		case r < 15:
			clock.advance(time.Duration(rng.Intn(15_000)) * time.Millisecond)
		case r < 18:
			n, err := db.ReapExpired(ctx)
			require.NoError(t, err)
			var want int64
			for id := range stored {
				if !visible(id) {
					delete(stored, id)
					want++
				}
			}
			require.Equal(t, want, n, "step %d: reaped", step)
			docs, _ := scanCount(t, db, "m")
			require.Equal(t, int64(len(stored)), docs, "step %d: documents left after the reap", step)
			requireCountsMatchScan(t, db, "m", fmt.Sprintf("step %d", step))
			requireIndexesMatchDocs(t, db, "m", true, uint64(clock.millis()))
		default:
			if ttlOn {
				require.NoError(t, db.DropIndex(ctx, "m", "ttl"))
				// The drop's sweep of the expiry keys reaps the
				// documents expired by their own date that it meets:
				// all of them.
				ttlOn = false
				for id := range stored {
					if !visible(id) {
						delete(stored, id)
					}
				}
				ttlOn = true
			} else {
				require.NoError(t, db.CreateIndex(ctx, "m", ttlSpec(t, fmt.Sprintf(`{"name":"ttl","fields":["at"],"expireAfterSeconds":%d}`, after)), nil))
			}
			ttlOn = !ttlOn
			requireIndexesMatchDocs(t, db, "m", false, 0)
		}
		check(step)
	}
}

// TestTTLReaperNeverCreatesCollections: a reaper batch for a collection
// dropped since it was scanned writes nothing and creates nothing.
func TestTTLReaperNeverCreatesCollections(t *testing.T) {
	db := openTTL(t, newFakeClock(1_000))
	op := newExpireOp("a", [][]byte{keyenc.ExpiryKey(nil, "gone", 5, "a")})
	require.NoError(t, db.write(context.Background(), "gone", []*docOp{op}))
	cols, err := db.Collections()
	require.NoError(t, err)
	require.Empty(t, cols)
	_, err = db.engine.Get(metaKey("gone"))
	require.ErrorIs(t, err, storage.ErrNotFound)
}

// TestTTLDumpRestore: a dump holds the TTL index with its option and
// leaves out expired documents; a restore brings the index back.
func TestTTLDumpRestore(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock(50_000)
	db := openTTL(t, clock)
	require.NoError(t, db.CreateIndex(ctx, "c", ttlSpec(t, `{"name":"t","fields":["at"],"expireAfterSeconds":10}`), nil))
	for _, d := range []string{`{"_id":"old","at":30000}`, `{"_id":"new","at":45000}`, `{"_id":"own","_expiresAt":40000}`} {
		_, err := db.InsertOne(ctx, "c", []byte(d), WriteOptions{})
		require.NoError(t, err)
	}
	var dump bytes.Buffer
	st, err := db.Dump(ctx, &dump)
	require.NoError(t, err)
	require.Equal(t, int64(1), st.Documents)
	require.Contains(t, dump.String(), `"expireAfterSeconds":10`)
	db2 := openTTL(t, clock)
	_, err = db2.Restore(ctx, &dump)
	require.NoError(t, err)
	specs, err := db2.ListIndexes("c")
	require.NoError(t, err)
	require.Len(t, specs, 1)
	require.NotNil(t, specs[0].ExpireAfterSeconds)
	require.Equal(t, int64(10), *specs[0].ExpireAfterSeconds)
	clock.advance(10 * time.Second)
	require.Empty(t, visibleIDs(t, db2, "c", `{}`))
	n, err := db2.ReapExpired(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(1), n)
}

// TestTTLFeedRecordsExpire: the reaper's deletions are "expire" records
// in the change feed; a write over an expired document records its
// expiry before the new version; a reaper run that deletes nothing
// records nothing.
func TestTTLFeedRecordsExpire(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock(1_000_000)
	db := openTTL(t, clock)
	for _, d := range []string{`{"_id":"a","_expiresAt":1000500}`, `{"_id":"b"}`, `{"_id":"c","_expiresAt":1000500}`, `{"_id":"d","_expiresAt":9000000}`} {
		_, err := db.InsertOne(ctx, "c", []byte(d), WriteOptions{})
		require.NoError(t, err)
	}
	ops := func() string {
		page, err := db.Changes(ctx, ChangesOptions{Collection: "c"})
		require.NoError(t, err)
		var out []string
		for _, ch := range page.Changes {
			out = append(out, fmt.Sprintf("%s:%s", ch.Op, ch.ID))
			if ch.Op == OpExpire {
				require.Zero(t, ch.Rev)
			}
		}
		return strings.Join(out, " ")
	}
	require.Equal(t, "insert:a insert:b insert:c insert:d", ops())
	n, err := db.ReapExpired(ctx)
	require.NoError(t, err)
	require.Zero(t, n)
	require.Equal(t, "insert:a insert:b insert:c insert:d", ops(), "a run that deletes nothing records nothing")
	clock.advance(time.Second)
	_, err = db.Create(ctx, "c", []byte(`{"_id":"c","n":2}`))
	require.NoError(t, err)
	require.Equal(t, "insert:a insert:b insert:c insert:d expire:c insert:c", ops())
	n, err = db.ReapExpired(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(1), n)
	require.Equal(t, "insert:a insert:b insert:c insert:d expire:c insert:c expire:a", ops())
}

// TestTTLCrashMidIndexBuild crashes in the middle of a TTL index's
// build: after reopening, reads hide exactly the expired documents while
// the build resumes, and once it is done every document has its expiry
// key, and a reap leaves documents, indexes and counts in agreement with
// a full scan.
func TestTTLCrashMidIndexBuild(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock(100_000_000)
	fs := vfs.NewMem()
	opts := func(fs *vfs.MemFS) *Options {
		return &Options{Storage: &storage.Options{FS: fs}, Now: clock.now, TTLInterval: -1}
	}
	db, err := Open("/db", opts(fs))
	require.NoError(t, err)
	var batch [][]byte
	for i := range 3000 {
		// at + 10 s is past for the documents with i < 1000.
		batch = append(batch, []byte(fmt.Sprintf(`{"_id":"%05d","at":%d}`, i, 100_000_000-10_000-999+int64(i))))
		if len(batch) == 500 {
			_, err := db.InsertMany(ctx, "c", batch)
			require.NoError(t, err)
			batch = nil
		}
	}
	spec := ttlSpec(t, `{"name":"t","fields":["at"],"expireAfterSeconds":10}`)
	var crashed *vfs.MemFS
	require.NoError(t, db.CreateIndex(ctx, "c", spec, func(done int64) {
		if crashed == nil && done >= 1000 {
			crashed = fs.CrashClone(vfs.CrashCloneOptions{})
		}
	}))
	require.NotNil(t, crashed)
	require.NoError(t, db.Close())

	db, err = Open("/db", opts(crashed))
	require.NoError(t, err)
	defer db.Close()
	// Whether or not the resumed build has reached them, the expired
	// documents are hidden.
	n, err := db.Count(ctx, "c", nil)
	require.NoError(t, err)
	require.Equal(t, int64(2000), n)
	require.NoError(t, db.CreateIndex(ctx, "c", spec, nil))
	n, err = db.Count(ctx, "c", nil)
	require.NoError(t, err)
	require.Equal(t, int64(2000), n)
	requireIndexesMatchDocs(t, db, "c", false, 0)
	reaped, err := db.ReapExpired(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(1000), reaped)
	requireCountsMatchScan(t, db, "c", "after the reap")
	requireIndexesMatchDocs(t, db, "c", true, uint64(clock.millis()))
	require.Len(t, visibleIDs(t, db, "c", `{}`), 2000)
}

// TestTTLReaperRechecksUnderLock: a reaper op whose document was
// rewritten after the reaper found its expiry key leaves the document
// alone (it checks the document as it is, under its lock), deletes the
// stale key and keeps the right one.
func TestTTLReaperRechecksUnderLock(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock(1_000_000)
	db := openTTL(t, clock)
	_, err := db.InsertOne(ctx, "c", []byte(`{"_id":"a","_expiresAt":1001000}`), WriteOptions{})
	require.NoError(t, err)
	stale := keyenc.ExpiryKey(nil, "c", 1_001_000, "a")
	clock.advance(2 * time.Second)
	// Rewritten between the reaper's scan and its write.
	_, err = db.InsertOne(ctx, "c", []byte(`{"_id":"a","_expiresAt":9000000}`), WriteOptions{})
	require.NoError(t, err)
	// Put the stale key back, as a scan that raced the rewrite holds it.
	b := db.engine.NewBatch()
	b.Put(stale, nil)
	require.NoError(t, db.engine.Apply(b))
	op := newExpireOp("a", [][]byte{stale})
	require.NoError(t, db.write(ctx, "c", []*docOp{op}))
	require.False(t, op.expire.reaped)
	require.JSONEq(t, `{"_id":"a","_expiresAt":9000000}`, getJSON(t, db, "c", "a"))
	_, err = db.engine.Get(stale)
	require.ErrorIs(t, err, storage.ErrNotFound, "the stale key is deleted")
	_, err = db.engine.Get(keyenc.ExpiryKey(nil, "c", 9_000_000, "a"))
	require.NoError(t, err, "the right key stays")
	requireCountsMatchScan(t, db, "c", "after the reaper op")
}

// TestTTLReaperRacesWriters runs the reaper in a loop while writers
// keep rewriting documents, some with dates already past and some with
// dates in the future, and moves the clock: afterwards, once a last reap
// has run, the documents left are exactly those whose last version had
// not expired, and indexes and counts agree with a full scan.
func TestTTLReaperRacesWriters(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock(10_000_000)
	db := openTTL(t, clock)
	require.NoError(t, db.CreateIndex(ctx, "c", ttlSpec(t, `{"name":"t","fields":["at"],"expireAfterSeconds":1}`), nil))
	require.NoError(t, db.CreateIndex(ctx, "c", ttlSpec(t, `{"name":"k","fields":["k"]}`), nil))
	const writers, perWriter = 4, 300
	last := make([]map[string]int64, writers) // id → the last version's expiry (ms), 0: none
	done := make(chan struct{})
	reaperDone := make(chan error, 1)
	go func() {
		for {
			select {
			case <-done:
				reaperDone <- nil
				return
			default:
			}
			if _, err := db.ReapExpired(ctx); err != nil {
				reaperDone <- err
				return
			}
		}
	}()
	errs := make(chan error, writers)
	for w := range writers {
		last[w] = map[string]int64{}
		go func() {
			rng := rand.New(rand.NewSource(int64(w)))
			for i := range perWriter {
				id := fmt.Sprintf("w%d-%d", w, rng.Intn(40))
				var body string
				var exp int64
				switch rng.Intn(3) {
				case 0:
					exp = clock.millis() - int64(rng.Intn(2000))
					body = fmt.Sprintf(`{"_id":%q,"k":%d,"_expiresAt":%d}`, id, i, exp)
				case 1:
					exp = clock.millis() + 1_000_000
					body = fmt.Sprintf(`{"_id":%q,"k":%d,"at":%d}`, id, i, exp-1000)
				default:
					body = fmt.Sprintf(`{"_id":%q,"k":%d}`, id, i)
				}
				if _, err := db.InsertOne(ctx, "c", []byte(body), WriteOptions{}); err != nil {
					errs <- err
					return
				}
				last[w][id] = exp
				if i%50 == 0 {
					clock.advance(time.Millisecond)
				}
			}
			errs <- nil
		}()
	}
	for range writers {
		require.NoError(t, <-errs)
	}
	close(done)
	require.NoError(t, <-reaperDone)
	_, err := db.ReapExpired(ctx)
	require.NoError(t, err)
	now := clock.millis()
	var want []string
	for w := range writers {
		for id, exp := range last[w] {
			if exp == 0 || exp > now {
				want = append(want, id)
			}
		}
	}
	sort.Strings(want)
	require.Equal(t, want, visibleIDs(t, db, "c", `{}`))
	docs, _ := scanCount(t, db, "c")
	require.Equal(t, int64(len(want)), docs)
	requireCountsMatchScan(t, db, "c", "after the race")
	requireIndexesMatchDocs(t, db, "c", true, uint64(now))
}

// TestTTLDumpKeepsExpiredOutCollection: a collection with no indexes whose
// documents have all expired (but are not reaped yet) is still dumped, as
// an empty collection, so restore recreates it.
func TestTTLDumpKeepsExpiredOutCollection(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli())
	db := openTTL(t, clock)
	for _, id := range []string{"a", "b"} {
		_, err := db.InsertOne(ctx, "gone", fmt.Appendf(nil, `{"_id":%q,"_expiresAt":%d}`, id, clock.millis()+1000), WriteOptions{})
		require.NoError(t, err)
	}
	clock.advance(2 * time.Second)
	var dump bytes.Buffer
	st, err := db.Dump(ctx, &dump)
	require.NoError(t, err)
	require.Zero(t, st.Documents)
	require.Contains(t, dump.String(), `{"collection":"gone"}`+"\n")

	dst := openMem(t, nil)
	_, err = dst.Restore(ctx, bytes.NewReader(dump.Bytes()))
	require.NoError(t, err)
	info, err := dst.Stats("gone")
	require.NoError(t, err, "the collection survives dump and restore")
	require.Zero(t, info.DocCount)
}

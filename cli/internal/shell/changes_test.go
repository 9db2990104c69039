package shell

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/minidbgo/minidbgo/httpd/client/api"
)

// sessionModes are the two ways a shell reaches a database.
var sessionModes = []struct {
	name string
	open func(*testing.T) *session
}{{"embedded", newEmbeddedSession}, {"remote", newRemoteSession}}

// changeLine is what the tests compare of a change: op and _id.
func changeLine(c api.Change) string { return c.Op + " " + c.ID }

// TestChangesCommand: changes prints a page of a collection's feed, in
// commit order, with since and limit, the same in both modes.
func TestChangesCommand(t *testing.T) {
	for _, mode := range sessionModes {
		t.Run(mode.name, func(t *testing.T) {
			s := mode.open(t)
			defer s.stop()
			s.run(`insertOne products {"_id":"p1","price":1}
insertOne products {"_id":"p2","price":2}
insertOne other {"_id":"o1"}
updateOne products {"_id":"p1"} {"$set":{"price":10}}
replaceOne products {"_id":"p2"} {"price":20}
deleteOne products {"_id":"p1"}
format json`)
			var page api.Changes
			out := s.run("changes products")
			require.NoError(t, json.Unmarshal([]byte(out), &page), out)
			var got []string
			for _, c := range page.Results {
				got = append(got, changeLine(c))
			}
			require.Equal(t, []string{"insert p1", "insert p2", "update p1", "replace p2", "delete p1"}, got)
			require.Equal(t, page.Results[4].Seq, page.LastSeq)
			require.NotZero(t, page.Results[0].Rev)

			var two api.Changes
			out = s.run("changes products limit 2")
			require.NoError(t, json.Unmarshal([]byte(out), &two), out)
			require.Len(t, two.Results, 2)
			var rest api.Changes
			out = s.run("changes products since " + u64(two.LastSeq) + " limit 100")
			require.NoError(t, json.Unmarshal([]byte(out), &rest), out)
			require.Equal(t, page.Results[2:], rest.Results)
		})
	}
}

func u64(n uint64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// TestWatchCommand: watch prints each change to the collection as it is
// committed (those a filter keeps), until Ctrl-C, which ends the watch
// and not the session.
func TestWatchCommand(t *testing.T) {
	for _, mode := range sessionModes {
		t.Run(mode.name, func(t *testing.T) {
			s := mode.open(t)
			defer s.stop()
			s.run(`insertOne products {"_id":"before","price":1}`)
			s.take()
			ctx := context.Background()
			root, cancel := context.WithCancel(ctx)
			defer cancel()
			intr := &interrupter{root: cancel}
			intr.enterREPL()
			for _, tc := range []struct {
				stmt string
				want []string
			}{
				{"watch products", []string{"insert a", "update a", "insert b", "delete a", "update b"}},
				{`watch products {price: {$gte: 5}}`, []string{"insert b", "update b"}},
			} {
				cctx, done := intr.start(root)
				ended := make(chan error, 1)
				go func() { ended <- s.sh.exec(cctx, tc.stmt) }()
				require.Eventually(t, func() bool {
					return strings.Contains(s.peek(), "watching products")
				}, 10*time.Second, time.Millisecond)
				be := s.sh.be
				suffix := tc.stmt[len(tc.stmt)-1:]
				id := func(x string) string { return x + suffix }
				_, err := be.insertOne(ctx, "products", []byte(`{"_id":"`+id("a")+`","price":1}`))
				require.NoError(t, err)
				_, err = be.insertOne(ctx, "other", []byte(`{"_id":"x`+suffix+`"}`))
				require.NoError(t, err)
				_, err = be.update(ctx, "products", id("a"), []byte(`{"$set":{"price":2}}`), 0)
				require.NoError(t, err)
				_, err = be.insertOne(ctx, "products", []byte(`{"_id":"`+id("b")+`","price":5}`))
				require.NoError(t, err)
				require.NoError(t, be.delete(ctx, "products", id("a")))
				_, err = be.update(ctx, "products", id("b"), []byte(`{"$set":{"price":6}}`), 0)
				require.NoError(t, err)
				var want []string
				for _, w := range tc.want {
					want = append(want, w+suffix)
				}
				var got []string
				require.Eventually(t, func() bool {
					got = got[:0]
					out := s.peek()
					for _, l := range strings.Split(out, "\n") {
						var c api.Change
						if json.Unmarshal([]byte(l), &c) == nil && c.Seq != 0 {
							require.Equal(t, "products", c.Collection)
							got = append(got, changeLine(c))
						}
					}
					return len(got) >= len(want)
				}, 10*time.Second, time.Millisecond)
				intr.interrupt() // Ctrl-C
				require.NoError(t, <-ended, "the watch ends without an error")
				done()
				require.NoError(t, root.Err(), "the session goes on")
				require.Equal(t, want, got)
				s.take()
			}
		})
	}
}

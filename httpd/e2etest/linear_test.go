package e2etest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/minidbgo/minidbgo/httpd/client"
)

// The linearizability test (RELIABILITY.md S8). Eight clients get, put and
// compare-and-set five documents while the server is SIGKILLed and
// restarted. Every write stores a value no other write stores, so a value
// names a revision: a CAS is "GET (value v, ETag r), then PUT with
// If-Match r", which the model reads as cas(from=v, to=w); a CAS on a
// missing document uses If-None-Match: *. A request with no answer is
// indeterminate (Jepsen's :info): it stays in the history with no return
// (it may take effect at any later point, or never, which porcupine
// places at the end). Each cycle is its own history per key: it starts
// from the value read before the clients start and ends with a read after
// the restart, so an acknowledged write the restart lost is a violation.

const (
	linCol  = "lin"
	linKeys = 5
	linCli  = 8
)

type linInput struct {
	op       string // get, put, cas
	from, to string // cas: expected and new value; put: to
}

type linOutput struct {
	val     string // get
	ok      bool   // cas succeeded
	unknown bool   // no answer
}

// linModel is a register per key; "" is a missing document.
func linModel(init string) porcupine.Model {
	return porcupine.Model{
		Init: func() any { return init },
		Step: func(state, input, output any) (bool, any) {
			s, in, out := state.(string), input.(linInput), output.(linOutput)
			switch in.op {
			case "get":
				return out.val == s, s
			case "put":
				return true, in.to
			default: // cas
				if out.unknown {
					if s == in.from {
						return true, in.to
					}
					return true, s
				}
				if out.ok {
					return s == in.from, in.to
				}
				return s != in.from, s
			}
		},
		DescribeOperation: func(input, output any) string {
			in, out := input.(linInput), output.(linOutput)
			switch in.op {
			case "get":
				return fmt.Sprintf("get -> %q", out.val)
			case "put":
				return fmt.Sprintf("put %q unknown=%v", in.to, out.unknown)
			}
			return fmt.Sprintf("cas %q->%q ok=%v unknown=%v", in.from, in.to, out.ok, out.unknown)
		},
	}
}

type linHistory struct {
	mu  sync.Mutex
	t0  time.Time
	ops [linKeys][]porcupine.Operation
}

func (h *linHistory) now() int64 { return int64(time.Since(h.t0)) }

func (h *linHistory) add(key, cli int, in linInput, out linOutput, call, ret int64) {
	h.mu.Lock()
	h.ops[key] = append(h.ops[key], porcupine.Operation{ClientId: cli, Input: in, Output: out, Call: call, Return: ret})
	h.mu.Unlock()
}

func linID(k int) string { return fmt.Sprintf("k%d", k) }

// linGet reads a key's value ("" when missing) and revision.
func linGet(ctx context.Context, c *client.Client, k int) (string, uint64, error) {
	var raw json.RawMessage
	rev, err := c.Get(ctx, linCol, linID(k), &raw)
	if client.IsNotFound(err) {
		return "", 0, nil
	}
	if err != nil {
		return "", 0, err
	}
	var d struct {
		V string `json:"v"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		return "", 0, fmt.Errorf("GET %s: %w: %s", linID(k), err, raw)
	}
	return d.V, rev, nil
}

func TestLinearizability(t *testing.T) {
	t.Parallel()
	bin := buildServer(t, "")
	sd := seed()
	rng := rand.New(rand.NewPCG(sd, 0x11ea))
	dir := filepath.Join(t.TempDir(), "db")
	cycles := envInt("MINIDBGO_LIN_CYCLES", 10)
	var (
		histories, ops, unknowns, violations, undecided int
		unexpected                                      []string
		umu                                             sync.Mutex
	)
	noteUnexpected := func(s string) {
		if s != "" {
			umu.Lock()
			unexpected = append(unexpected, s)
			umu.Unlock()
		}
	}
	start := func() *server {
		s, err := startServer(t, bin, dir)
		if err != nil {
			t.Fatalf("restart failure (seed %d): %v", sd, err)
		}
		return s
	}
	s := start()
	var init [linKeys]string
	for cycle := range cycles {
		h := &linHistory{t0: time.Now()}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for cli := range linCli {
			cr := rand.New(rand.NewPCG(rng.Uint64(), uint64(cli)))
			wg.Go(func() {
				n := 0
				for ctx.Err() == nil {
					k := cr.IntN(linKeys)
					n++
					val := fmt.Sprintf("c%d-%d-%d", cycle, cli, n)
					switch p := cr.IntN(10); {
					case p < 4: // get
						call := h.now()
						v, _, err := linGet(context.Background(), s.c, k)
						ret := h.now()
						if err != nil {
							if _, u := classify(err); u != "" {
								noteUnexpected(u)
							}
							continue // a read with no answer tells nothing
						}
						h.add(k, cli, linInput{op: "get"}, linOutput{val: v}, call, ret)
					case p < 7: // put
						call := h.now()
						_, err := s.c.Put(context.Background(), linCol, linID(k), map[string]any{"v": val}, nil)
						ret := h.now()
						o, u := classify(err)
						noteUnexpected(u)
						switch o {
						case acked:
							h.add(k, cli, linInput{op: "put", to: val}, linOutput{}, call, ret)
						case unknown:
							h.add(k, cli, linInput{op: "put", to: val}, linOutput{unknown: true}, call, math.MaxInt64)
						}
					default: // cas: GET, then PUT If-Match
						call := h.now()
						from, rev, err := linGet(context.Background(), s.c, k)
						ret := h.now()
						if err != nil {
							continue
						}
						h.add(k, cli, linInput{op: "get"}, linOutput{val: from}, call, ret)
						opts := &client.WriteOptions{IfMatch: rev, IfNoneMatch: from == ""}
						call = h.now()
						_, err = s.c.Put(context.Background(), linCol, linID(k), map[string]any{"v": val}, opts)
						ret = h.now()
						in := linInput{op: "cas", from: from, to: val}
						var ce *client.Error
						if errors.As(err, &ce) && ce.Status == http.StatusPreconditionFailed {
							h.add(k, cli, in, linOutput{ok: false}, call, ret)
							continue
						}
						o, u := classify(err)
						noteUnexpected(u)
						switch o {
						case acked:
							h.add(k, cli, in, linOutput{ok: true}, call, ret)
						case unknown:
							h.add(k, cli, in, linOutput{unknown: true}, call, math.MaxInt64)
						}
					}
				}
			})
		}
		lo, hi := 200*time.Millisecond, 1500*time.Millisecond
		time.Sleep(lo + time.Duration(rng.Int64N(int64(hi-lo)+1)))
		s.kill()
		cancel()
		wg.Wait()

		// Restart; the reads after it end this cycle's history and start
		// the next one's.
		s = start()
		for k := range linKeys {
			call := h.now()
			v, _, err := linGet(context.Background(), s.c, k)
			if err != nil {
				t.Fatalf("read after restart: %v", err)
			}
			h.add(k, linCli, linInput{op: "get"}, linOutput{val: v}, call, h.now())
			res, info := porcupine.CheckOperationsVerbose(linModel(init[k]), h.ops[k], 30*time.Second)
			histories++
			ops += len(h.ops[k])
			for _, op := range h.ops[k] {
				if op.Return == math.MaxInt64 {
					unknowns++
				}
			}
			switch res {
			case porcupine.Illegal:
				violations++
				path := filepath.Join(os.TempDir(), fmt.Sprintf("minidbgo-lin-%d-cycle%d-%s.html", sd, cycle, linID(k)))
				if err := porcupine.VisualizePath(linModel(init[k]), info, path); err == nil {
					t.Logf("visualization: %s", path)
				}
				t.Errorf("cycle %d key %s: history of %d operations is not linearizable (seed %d)", cycle, linID(k), len(h.ops[k]), sd)
			case porcupine.Unknown:
				undecided++
			}
			init[k] = v
		}
	}
	s.kill()
	figure(t, "linearizability: cycles=%d histories=%d operations=%d indeterminate=%d violations=%d undecided=%d unexpected_status=%d seed=%d",
		cycles, histories, ops, unknowns, violations, undecided, len(unexpected), sd)
	if len(unexpected) > 0 {
		t.Errorf("%d unexpected responses, e.g. %v", len(unexpected), unexpected[:min(len(unexpected), 5)])
	}
	if undecided > 0 {
		t.Logf("%d histories were too long to decide in 30 s", undecided)
	}
}

// TestLinModel checks the model itself: it rejects a read that misses an
// acknowledged write and accepts a read of an indeterminate one.
func TestLinModel(t *testing.T) {
	op := func(in linInput, out linOutput, call, ret int64) porcupine.Operation {
		return porcupine.Operation{Input: in, Output: out, Call: call, Return: ret}
	}
	lost := []porcupine.Operation{
		op(linInput{op: "put", to: "a"}, linOutput{}, 0, 1),
		op(linInput{op: "get"}, linOutput{val: ""}, 2, 3),
	}
	if porcupine.CheckOperations(linModel(""), lost) {
		t.Error("a lost acknowledged put passed")
	}
	maybe := []porcupine.Operation{
		op(linInput{op: "put", to: "a"}, linOutput{unknown: true}, 0, math.MaxInt64),
		op(linInput{op: "get"}, linOutput{val: ""}, 2, 3),
		op(linInput{op: "get"}, linOutput{val: "a"}, 4, 5),
	}
	if !porcupine.CheckOperations(linModel(""), maybe) {
		t.Error("an indeterminate put seen later failed")
	}
	badCAS := []porcupine.Operation{
		op(linInput{op: "cas", from: "x", to: "b"}, linOutput{ok: true}, 0, 1),
	}
	if porcupine.CheckOperations(linModel("a"), badCAS) {
		t.Error("a CAS from the wrong value passed")
	}
}

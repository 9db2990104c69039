package e2etest

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minidbgo/minidbgo/httpd/client"
)

// The bank test (RELIABILITY.md S7) under the kill loop.
//
// Accounts are documents {"_id":"acct-NN","balance":B,"tx":"…"} in
// "bank". A transfer moves money between two accounts with one
// _insertMany holding both new documents: the server's atomic multi-
// document write (one storage batch: all or none, after a crash too).
// _insertMany has no preconditions, so a transfer computed from a read
// could race another transfer of the same account and lose an update —
// which would break the total without any fault in the server. The test
// therefore serialises transfers per account in the client (a lock per
// account, taken in order), reads both balances with GET under those
// locks, and writes both. What it checks is the server's part:
//
//   - every _find of all accounts (one page: one snapshot) sums to the
//     initial total and shows no negative balance, while transfers run
//     and after every restart: a half-applied batch, or a read that sees
//     half of one, changes the total;
//   - after a restart each account's last transfer id is its last
//     acknowledged one or the one that was in flight: no acknowledged
//     transfer is lost.
//
// A transfer whose request failed is in flight until the restart; its
// writer stops for the rest of the cycle (the server is dead then).

const (
	bankCol      = "bank"
	bankAccounts = 40
	bankInitial  = 1000
)

type bankStats struct {
	cycles         int
	transfers      atomic.Int64 // acknowledged
	unknown        atomic.Int64
	reads          atomic.Int64 // snapshot reads checked
	wrongTotals    atomic.Int64
	negatives      atomic.Int64
	lost           int
	problems       []string
	problemsMu     sync.Mutex
	recoveries     []time.Duration
	unexpected     atomic.Int64
	unexpectedText atomic.Value
}

func (st *bankStats) problem(format string, args ...any) {
	st.problemsMu.Lock()
	defer st.problemsMu.Unlock()
	if len(st.problems) < 30 {
		st.problems = append(st.problems, fmt.Sprintf(format, args...))
	}
}

type account struct {
	mu        sync.Mutex
	lastAcked string // tx id of the last acknowledged transfer
	pending   string // tx id of a transfer with no answer
}

type bankDoc struct {
	ID      string `json:"_id"`
	Balance *int64 `json:"balance"`
	Tx      string `json:"tx"`
}

func acctID(i int) string { return fmt.Sprintf("acct-%02d", i) }

// readAccounts reads every account in one _find page.
func readAccounts(ctx context.Context, c *client.Client) ([]bankDoc, error) {
	res, err := c.Find(ctx, bankCol, client.Query{Limit: bankAccounts + 10})
	if err != nil {
		return nil, err
	}
	out := make([]bankDoc, 0, len(res.Docs))
	for _, raw := range res.Docs {
		var d bankDoc
		if err := json.Unmarshal(raw, &d); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// checkTotal checks one snapshot; it reports whether it was right.
func (st *bankStats) checkTotal(docs []bankDoc, where string) bool {
	st.reads.Add(1)
	var sum int64
	ok := true
	for _, d := range docs {
		if d.Balance == nil {
			st.problem("%s: %s has no balance", where, d.ID)
			st.wrongTotals.Add(1)
			return false
		}
		if *d.Balance < 0 {
			st.negatives.Add(1)
			st.problem("%s: %s has a negative balance %d", where, d.ID, *d.Balance)
			ok = false
		}
		sum += *d.Balance
	}
	if len(docs) != bankAccounts || sum != bankAccounts*bankInitial {
		st.wrongTotals.Add(1)
		st.problem("%s: %d accounts summing to %d, want %d summing to %d", where, len(docs), sum, bankAccounts, bankAccounts*bankInitial)
		ok = false
	}
	return ok
}

// TestBank runs MINIDBGO_BANK_CYCLES cycles (default 10) of concurrent
// transfers and snapshot readers, each ended by SIGKILL at a random
// moment in 0.2–1.5 s, then restarts and checks.
func TestBank(t *testing.T) {
	t.Parallel()
	bin := buildServer(t, "")
	sd := seed()
	rng := rand.New(rand.NewPCG(sd, 0xba4c))
	dir := filepath.Join(t.TempDir(), "db")
	st := &bankStats{}
	accts := make([]*account, bankAccounts)
	for i := range accts {
		accts[i] = &account{lastAcked: "init"}
	}

	start := func() *server {
		s, err := startServer(t, bin, dir, "FLUSH_SIZE=2000")
		if err != nil {
			t.Fatalf("restart failure after %d cycles (seed %d): %v", st.cycles, sd, err)
		}
		st.recoveries = append(st.recoveries, s.startup)
		return s
	}
	s := start()
	docs := make([]json.RawMessage, bankAccounts)
	for i := range docs {
		docs[i] = json.RawMessage(fmt.Sprintf(`{"_id":%q,"balance":%d,"tx":"init"}`, acctID(i), bankInitial))
	}
	if _, err := s.c.InsertMany(context.Background(), bankCol, docs); err != nil {
		t.Fatal(err)
	}

	var txSeq atomic.Int64
	cycles := envInt("MINIDBGO_BANK_CYCLES", 10)
	for range cycles {
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for w := range 6 {
			wr := rand.New(rand.NewPCG(rng.Uint64(), uint64(w)))
			wg.Go(func() {
				for ctx.Err() == nil {
					time.Sleep(time.Duration(200+wr.IntN(1000)) * time.Microsecond)
					a, b := wr.IntN(bankAccounts), wr.IntN(bankAccounts-1)
					if b >= a {
						b++
					}
					if !transfer(s.c, st, accts, a, b, wr.Int64N(200), fmt.Sprintf("t%d", txSeq.Add(1))) {
						return // the server is gone (or refused): stop for this cycle
					}
				}
			})
		}
		for range 2 {
			wg.Go(func() {
				for ctx.Err() == nil {
					docs, err := readAccounts(context.Background(), s.c)
					if err != nil {
						select { // killed meanwhile?
						case <-s.done:
							return
						case <-ctx.Done():
							return
						case <-time.After(2 * time.Second):
						}
						st.unexpected.Add(1)
						st.unexpectedText.Store(err.Error())
						time.Sleep(time.Millisecond)
						continue
					}
					st.checkTotal(docs, "live read")
				}
			})
		}
		lo, hi := 200*time.Millisecond, 1500*time.Millisecond
		time.Sleep(lo + time.Duration(rng.Int64N(int64(hi-lo)+1)))
		s.kill()
		cancel()
		wg.Wait()

		s = start()
		got, err := readAccounts(context.Background(), s.c)
		if err != nil {
			t.Fatalf("read after restart: %v", err)
		}
		st.checkTotal(got, fmt.Sprintf("cycle %d after restart", st.cycles))
		for _, d := range got {
			var i int
			if _, err := fmt.Sscanf(d.ID, "acct-%d", &i); err != nil || i < 0 || i >= bankAccounts {
				st.problem("unknown account %q", d.ID)
				continue
			}
			a := accts[i]
			if d.Tx != a.lastAcked && (a.pending == "" || d.Tx != a.pending) {
				st.lost++
				st.problem("cycle %d: %s holds transfer %q; last acknowledged %q, in flight %q", st.cycles, d.ID, d.Tx, a.lastAcked, a.pending)
			}
			a.lastAcked, a.pending = d.Tx, ""
		}
		st.cycles++
		if len(st.problems) > 0 {
			break
		}
	}
	s.kill()

	figure(t, "bank: cycles=%d accounts=%d transfers_acked=%d transfers_unknown=%d snapshot_reads=%d wrong_totals=%d negative_balances=%d lost=%d recovery_p99=%v seed=%d",
		st.cycles, bankAccounts, st.transfers.Load(), st.unknown.Load(), st.reads.Load(), st.wrongTotals.Load(), st.negatives.Load(), st.lost,
		percentile(st.recoveries, 99).Round(time.Millisecond), sd)
	for _, p := range st.problems {
		t.Error(p)
	}
	if n := st.unexpected.Load(); n > 0 {
		t.Errorf("%d reads failed while the server was up, e.g. %v", n, st.unexpectedText.Load())
	}
	if st.transfers.Load() == 0 || st.reads.Load() == 0 {
		t.Errorf("nothing was checked")
	}
}

// transfer moves amount (capped at the balance) from account a to b. It
// returns false once a request fails.
func transfer(c *client.Client, st *bankStats, accts []*account, a, b int, amount int64, tx string) bool {
	first, second := accts[min(a, b)], accts[max(a, b)]
	first.mu.Lock()
	defer first.mu.Unlock()
	second.mu.Lock()
	defer second.mu.Unlock()
	ctx := context.Background()
	var docs [2]bankDoc
	for k, i := range []int{a, b} {
		var raw json.RawMessage
		_, err := c.Get(ctx, bankCol, acctID(i), &raw)
		if err != nil {
			return false
		}
		if err := json.Unmarshal(raw, &docs[k]); err != nil || docs[k].Balance == nil {
			st.problem("GET %s: %s", acctID(i), raw)
			return false
		}
	}
	amount = min(amount, *docs[0].Balance)
	batch := []json.RawMessage{
		json.RawMessage(fmt.Sprintf(`{"_id":%q,"balance":%d,"tx":%q}`, acctID(a), *docs[0].Balance-amount, tx)),
		json.RawMessage(fmt.Sprintf(`{"_id":%q,"balance":%d,"tx":%q}`, acctID(b), *docs[1].Balance+amount, tx)),
	}
	_, err := c.InsertMany(ctx, bankCol, batch)
	o, u := classify(err)
	if u != "" {
		st.unexpected.Add(1)
		st.unexpectedText.Store(u)
	}
	switch o {
	case acked:
		accts[a].lastAcked, accts[b].lastAcked = tx, tx
		st.transfers.Add(1)
		return true
	case unknown:
		accts[a].pending, accts[b].pending = tx, tx
		st.unknown.Add(1)
	}
	return false
}

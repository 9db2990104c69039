package shell

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/minidbgo/minidbgo/docstore"
	"github.com/minidbgo/minidbgo/httpd/client/api"
)

// The change feed: changes prints a page of it, watch follows it until
// Ctrl-C (docs/changes.md).

// changesRequest is a page of the change feed the backend reads.
type changesRequest struct {
	since uint64
	limit int             // 0: the database's page size
	sel   json.RawMessage // a filter on each change's current document, or nil
	// wait, when the page would be empty, waits for a change (until ctx
	// ends) and answers it.
	wait bool
}

// cmdChanges: changes <collection> [since N] [limit M].
func cmdChanges(s *Shell, ctx context.Context, _ string, args []arg) error {
	col := args[0].text
	if err := validName(col); err != nil {
		return err
	}
	usage := lookup("changes").synopsis()
	req := changesRequest{}
	rest := args[1:]
	for len(rest) > 0 {
		if len(rest) < 2 {
			return &usageError{msg: fmt.Sprintf("%s needs a number after it", rest[0].text), usage: usage}
		}
		word, val := strings.ToLower(rest[0].text), rest[1].text
		n, err := strconv.ParseUint(val, 10, 64)
		switch {
		case word != "since" && word != "limit":
			return &usageError{msg: fmt.Sprintf("unexpected %q: expected since or limit", rest[0].text), usage: usage}
		case err != nil:
			return &usageError{msg: fmt.Sprintf("%s %q: must be a non-negative integer", word, val), usage: usage}
		case word == "since":
			req.since = n
		case n == 0:
			return &usageError{msg: "limit must be at least 1", usage: usage}
		default:
			req.limit = int(min(n, 1<<31))
		}
		rest = rest[2:]
	}
	page, err := s.be.changes(ctx, col, req)
	if err != nil {
		return err
	}
	return s.out.value(page)
}

// cmdWatch: watch <collection> [filter]. It prints each change as it
// comes, one compact line each, until Ctrl-C, which ends the watch
// (not the shell).
func cmdWatch(s *Shell, ctx context.Context, col string, args []arg) error {
	req := changesRequest{sel: json.RawMessage(optArg(args, 0)), wait: true}
	since, err := s.be.feedEnd(ctx)
	if err != nil {
		return err
	}
	req.since = since
	// On stderr: standard output holds the changes alone (for jq).
	fmt.Fprintf(s.errw, "watching %s from seq %d; Ctrl-C stops\n", col, since)
	for {
		page, err := s.be.changes(ctx, col, req)
		if err != nil {
			if ctx.Err() != nil {
				return nil // Ctrl-C: the watch is over
			}
			return err
		}
		for _, c := range page.Results {
			b, err := json.Marshal(c)
			if err != nil {
				return err
			}
			s.out.line("%s", b)
		}
		req.since = page.LastSeq
	}
}

// changes reads a page of the embedded database's change feed, as the
// server's _changes does: the selector applies to each change's current
// document (skipping changes whose document is gone or does not match).
func (b *localBackend) changes(ctx context.Context, col string, req changesRequest) (api.Changes, error) {
	var sel *docstore.Selector
	if len(req.sel) > 0 {
		var err error
		if sel, err = b.db.CompileSelector(req.sel); err != nil {
			return api.Changes{}, err
		}
	}
	out := api.Changes{Results: []api.Change{}}
	since := req.since
	for {
		page, err := b.db.Changes(ctx, docstore.ChangesOptions{Collection: col, Since: since, Limit: req.limit})
		if err != nil {
			return api.Changes{}, err
		}
		out.OldestSeq = page.OldestSeq
		for _, c := range page.Changes {
			if sel != nil {
				if c.ID == "" {
					continue
				}
				d, err := b.db.Get(ctx, c.Collection, c.ID)
				if errors.Is(err, docstore.ErrNotFound) {
					continue
				}
				if err != nil {
					return api.Changes{}, err
				}
				if ok, err := sel.Match(d.JSON); err != nil || !ok {
					if err != nil {
						return api.Changes{}, err
					}
					continue
				}
			}
			out.Results = append(out.Results, api.Change{Seq: c.Seq, Collection: c.Collection, ID: c.ID, Op: string(c.Op), Rev: c.Rev})
		}
		out.LastSeq = page.LastSeq
		since = page.LastSeq
		if len(out.Results) > 0 || !req.wait {
			return out, nil
		}
		if len(page.Changes) > 0 {
			continue // all skipped by the selector: read on
		}
		if err := b.db.WaitChange(ctx, since); err != nil {
			return api.Changes{}, err
		}
	}
}

// feedEnd returns the embedded database's feed end (since=now).
func (b *localBackend) feedEnd(context.Context) (uint64, error) { return b.db.FeedSeq(), nil }

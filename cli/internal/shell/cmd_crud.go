package shell

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/minidbgo/minidbgo/httpd/api"
)

// maxBatch is insertMany's limit, the server's default: checked here so
// that both backends give the same message.
const maxBatch = 1000

type insertOneResult struct {
	ID      string `json:"_id"`
	Created bool   `json:"created"`
}

func cmdInsertOne(s *Shell, ctx context.Context, col string, args []arg) error {
	doc := []byte(args[0].text)
	res, err := s.be.insertOne(ctx, col, doc)
	if err != nil {
		return err
	}
	if s.out.seen != nil {
		s.out.seen(doc)
	}
	return s.out.value(insertOneResult{ID: res.ID, Created: res.Created})
}

type insertManyResult struct {
	Inserted int      `json:"inserted"`
	IDs      []string `json:"ids"`
}

func cmdInsertMany(s *Shell, ctx context.Context, col string, args []arg) error {
	var docs []json.RawMessage
	if err := json.Unmarshal([]byte(args[0].text), &docs); err != nil || args[0].text[0] != '[' {
		return &cmdError{code: "body_must_be_array", msg: "insertMany needs a JSON array of documents"}
	}
	if len(docs) > maxBatch {
		return &cmdError{code: "too_many_documents", msg: fmt.Sprintf("batch has %d documents, over the limit of %d", len(docs), maxBatch)}
	}
	res, err := s.be.insertMany(ctx, col, docs)
	if err != nil {
		return err
	}
	out := insertManyResult{Inserted: res.Inserted, IDs: make([]string, len(res.Results))}
	for i, r := range res.Results {
		out.IDs[i] = r.ID
	}
	if s.out.seen != nil {
		for _, d := range docs {
			s.out.seen(d)
		}
	}
	return s.out.value(out)
}

func optArg(args []arg, i int) []byte {
	if i < len(args) {
		return []byte(args[i].text)
	}
	return nil
}

func cmdFindOne(s *Shell, ctx context.Context, col string, args []arg) error {
	filter, proj := optArg(args, 0), optArg(args, 1)
	if id, ok := idFilter(filter); ok && proj == nil {
		doc, _, err := s.be.get(ctx, col, id)
		switch {
		case err == nil:
			s.out.doc(doc)
			return nil
		case isNotFound(err):
			if err := s.mustExist(ctx, col); err != nil {
				return err
			}
			s.out.line("null")
			return nil
		}
		return err
	}
	res, err := s.be.find(ctx, col, api.FindRequest{Filter: filter, Fields: proj, Limit: 1})
	if err != nil {
		return err
	}
	if len(res.Docs) == 0 {
		if err := s.mustExist(ctx, col); err != nil {
			return err
		}
		s.out.line("null")
		return nil
	}
	s.out.doc(res.Docs[0])
	return nil
}

// findCursor is a findMany in progress: its query, the user's limit, and
// where the next page starts.
type findCursor struct {
	col     string
	req     api.FindRequest // filter, sort, fields, skip
	limit   int             // the user's limit; 0: none
	printed int
	next    string // resume token; "" before the first page
}

// findOptions reads findMany's and explain's options object.
func findOptions(filter, opts []byte) (api.FindRequest, int, error) {
	req := api.FindRequest{Filter: filter}
	if opts == nil {
		return req, 0, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(opts, &m); err != nil {
		return req, 0, &cmdError{code: "invalid_options", msg: "options must be a JSON object like {\"sort\":{\"price\":-1},\"limit\":10}"}
	}
	limit := 0
	for k, v := range m {
		switch k {
		case "sort":
			req.Sort = v
		case "projection", "fields":
			if req.Fields != nil {
				return req, 0, &cmdError{code: "invalid_options", msg: "give projection or fields, not both"}
			}
			req.Fields = v
		case "limit", "skip":
			var n int
			if err := json.Unmarshal(v, &n); err != nil || n < 0 {
				return req, 0, &cmdError{code: "invalid_options", msg: fmt.Sprintf("option %s must be a whole number >= 0, got %s", k, v)}
			}
			if k == "limit" {
				limit = n
			} else {
				req.Skip = n
			}
		default:
			return req, 0, &cmdError{code: "invalid_options", msg: fmt.Sprintf("unknown option %q (want sort, limit, skip, projection)", k)}
		}
	}
	return req, limit, nil
}

func cmdFindMany(s *Shell, ctx context.Context, col string, args []arg) error {
	req, limit, err := findOptions(optArg(args, 0), optArg(args, 1))
	if err != nil {
		return err
	}
	s.cursor = nil
	return s.page(ctx, &findCursor{col: col, req: req, limit: limit})
}

func cmdIt(s *Shell, ctx context.Context, _ string, _ []arg) error {
	if s.cursor == nil {
		return &cmdError{code: "no_cursor", msg: "no more results: it continues the last findMany"}
	}
	return s.page(ctx, s.cursor)
}

// page prints the next page of a findMany (every remaining page when
// pageSize is 0) and remembers the cursor for it when more remain.
func (s *Shell) page(ctx context.Context, fc *findCursor) error {
	shown := 0
	for {
		req := fc.req
		if fc.next != "" {
			req.Cursor, req.Skip = fc.next, 0
		}
		want := s.pageSize - shown
		if s.pageSize == 0 {
			want = 0 // the server's page
		}
		if fc.limit > 0 {
			left := fc.limit - fc.printed
			if want == 0 || left < want {
				want = left
			}
		}
		req.Limit = want
		res, err := s.be.find(ctx, fc.col, req)
		if err != nil {
			s.cursor = nil
			return err
		}
		for _, d := range res.Docs {
			s.out.doc(d)
		}
		if fc.printed == 0 && len(res.Docs) == 0 && fc.next == "" {
			if err := s.mustExist(ctx, fc.col); err != nil {
				return err
			}
		}
		fc.printed += len(res.Docs)
		shown += len(res.Docs)
		fc.next = res.Cursor
		if fc.next == "" || len(res.Docs) == 0 || (fc.limit > 0 && fc.printed >= fc.limit) {
			s.cursor = nil
			return nil
		}
		if s.pageSize > 0 && shown >= s.pageSize {
			s.cursor = fc
			s.hint(`Type "it" for more`)
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

type matchResult struct {
	Matched  int64 `json:"matched"`
	Modified int64 `json:"modified"`
}

type deleteResult struct {
	Deleted int64 `json:"deleted"`
}

// firstID returns the _id of the first document matching filter.
func (s *Shell) firstID(ctx context.Context, col string, filter []byte) (string, bool, error) {
	res, err := s.be.find(ctx, col, api.FindRequest{Filter: filter, Fields: json.RawMessage(`{"_id":1}`), Limit: 1})
	if err != nil || len(res.Docs) == 0 {
		return "", false, err
	}
	var d struct {
		ID string `json:"_id"`
	}
	if err := json.Unmarshal(res.Docs[0], &d); err != nil {
		return "", false, err
	}
	return d.ID, true, nil
}

// andID returns {"$and": [{"_id": id}, filter]}: filter narrowed to one
// document, which updateMany and deleteMany re-check under its lock.
func andID(id string, filter []byte) json.RawMessage {
	idJSON, _ := json.Marshal(id)
	var b bytes.Buffer
	b.WriteString(`{"$and":[{"_id":`)
	b.Write(idJSON)
	b.WriteString(`},`)
	b.Write(filter)
	b.WriteString(`]}`)
	return b.Bytes()
}

// cmdUpdateOne updates the first match. With {"_id": "..."} it reads the
// document and updates it at that revision (retrying if it changed), so
// it can tell whether anything changed; with another filter and update
// operators it runs updateMany on that filter narrowed to the first
// match's _id, so the filter is re-checked atomically. A replacement
// document found by another filter replaces the match by _id.
func cmdUpdateOne(s *Shell, ctx context.Context, col string, args []arg) error {
	filter, update := []byte(args[0].text), []byte(args[1].text)
	id, byID := idFilter(filter)
	if !byID {
		first, ok, err := s.firstID(ctx, col, filter)
		if err != nil {
			return err
		}
		if !ok {
			if err := s.mustExist(ctx, col); err != nil {
				return err
			}
			return s.out.value(matchResult{})
		}
		if isUpdateDoc(update) {
			res, err := s.be.updateMany(ctx, col, andID(first, filter), update)
			if err != nil {
				return err
			}
			return s.out.value(matchResult{Matched: res.Matched, Modified: res.Modified})
		}
		id = first
	}
	for attempt := 0; ; attempt++ {
		old, rev, err := s.be.get(ctx, col, id)
		if isNotFound(err) {
			if err := s.mustExist(ctx, col); err != nil {
				return err
			}
			return s.out.value(matchResult{})
		}
		if err != nil {
			return err
		}
		doc, err := s.be.update(ctx, col, id, update, rev)
		if err != nil {
			code, _ := errorCode(err)
			if code == "precondition_failed" && attempt < 5 {
				continue // changed since we read it
			}
			if isNotFound(err) {
				return s.out.value(matchResult{})
			}
			return err
		}
		res := matchResult{Matched: 1}
		if !bytes.Equal(old, doc) {
			res.Modified = 1
		}
		return s.out.value(res)
	}
}

func cmdUpdateMany(s *Shell, ctx context.Context, col string, args []arg) error {
	res, err := s.be.updateMany(ctx, col, json.RawMessage(args[0].text), json.RawMessage(args[1].text))
	if err != nil {
		return err
	}
	if res.Matched == 0 {
		if err := s.mustExist(ctx, col); err != nil {
			return err
		}
	}
	return s.out.value(matchResult{Matched: res.Matched, Modified: res.Modified})
}

func cmdDeleteOne(s *Shell, ctx context.Context, col string, args []arg) error {
	filter := []byte(args[0].text)
	if id, ok := idFilter(filter); ok {
		err := s.be.delete(ctx, col, id)
		switch {
		case err == nil:
			return s.out.value(deleteResult{Deleted: 1})
		case isNotFound(err):
			if err := s.mustExist(ctx, col); err != nil {
				return err
			}
			return s.out.value(deleteResult{})
		}
		return err
	}
	first, ok, err := s.firstID(ctx, col, filter)
	if err != nil {
		return err
	}
	if !ok {
		if err := s.mustExist(ctx, col); err != nil {
			return err
		}
		return s.out.value(deleteResult{})
	}
	n, err := s.be.deleteMany(ctx, col, andID(first, filter))
	if err != nil {
		return err
	}
	return s.out.value(deleteResult{Deleted: n})
}

func cmdDeleteMany(s *Shell, ctx context.Context, col string, args []arg) error {
	n, err := s.be.deleteMany(ctx, col, json.RawMessage(args[0].text))
	if err != nil {
		return err
	}
	if n == 0 {
		if err := s.mustExist(ctx, col); err != nil {
			return err
		}
	}
	return s.out.value(deleteResult{Deleted: n})
}

func cmdCount(s *Shell, ctx context.Context, col string, args []arg) error {
	n, err := s.be.count(ctx, col, json.RawMessage(optArg(args, 0)))
	if err != nil {
		return err
	}
	if n == 0 {
		if err := s.mustExist(ctx, col); err != nil {
			return err
		}
	}
	s.out.line("%d", n)
	return nil
}

func cmdDistinct(s *Shell, ctx context.Context, col string, args []arg) error {
	vals, err := s.be.distinct(ctx, col, args[0].text, json.RawMessage(optArg(args, 1)))
	if err != nil {
		return err
	}
	if len(vals) == 0 {
		if err := s.mustExist(ctx, col); err != nil {
			return err
		}
	}
	return s.out.value(vals)
}

func cmdExplain(s *Shell, ctx context.Context, col string, args []arg) error {
	req, limit, err := findOptions(optArg(args, 0), optArg(args, 1))
	if err != nil {
		return err
	}
	req.Limit = limit
	e, err := s.be.explain(ctx, col, req)
	if err != nil {
		return err
	}
	if e.NReturned == 0 {
		if err := s.mustExist(ctx, col); err != nil {
			return err
		}
	}
	return s.out.value(e)
}

package shell

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/minidbgo/minidbgo/httpd/client/api"
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
	if doc[0] != '{' {
		return &cmdError{code: "document_must_be_object", msg: "document must be a JSON object, got an array (insertMany stores several)"}
	}
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
		s.out.docs(res.Docs)
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
	Matched    int64  `json:"matched"`
	Modified   int64  `json:"modified"`
	UpsertedID string `json:"upsertedId,omitempty"`
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

// updateOptions is updateOne's, updateMany's and replaceOne's optional
// third argument.
type updateOptions struct {
	Upsert bool `json:"upsert"`
}

func parseUpdateOptions(cmd string, raw []byte) (updateOptions, error) {
	var o updateOptions
	if raw == nil {
		return o, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return o, &cmdError{code: "invalid_options", msg: fmt.Sprintf(`%s options must be an object such as {"upsert": true}`, cmd)}
	}
	for k, v := range m {
		if k != "upsert" {
			return o, &cmdError{code: "invalid_options", msg: fmt.Sprintf("unknown option %q (want upsert)", k)}
		}
		if err := json.Unmarshal(v, &o.Upsert); err != nil {
			return o, &cmdError{code: "invalid_options", msg: fmt.Sprintf("option upsert must be true or false, got %s", v)}
		}
	}
	return o, nil
}

// needOperators refuses a replacement document where update operators are
// needed, naming replaceOne, as MongoDB does.
func needOperators(cmd string, update []byte) error {
	if isUpdateDoc(update) {
		return nil
	}
	return &cmdError{code: "invalid_update", msg: cmd + ` needs update operators such as {"$set": {...}}, not a replacement document; to replace a whole document use replaceOne`}
}

// cmdUpdateOne updates the first match. With {"_id": "..."} it reads the
// document and updates it at that revision (retrying if it changed), so
// it can tell whether anything changed; with another filter it runs
// updateMany on that filter narrowed to the first match's _id, so the
// filter is re-checked atomically. With {"upsert": true} and no match it
// creates the document from the filter (upsert), with $setOnInsert.
func cmdUpdateOne(s *Shell, ctx context.Context, col string, args []arg) error {
	filter, update := []byte(args[0].text), []byte(args[1].text)
	if err := needOperators("updateOne", update); err != nil {
		return err
	}
	opts, err := parseUpdateOptions("updateOne", optArg(args, 2))
	if err != nil {
		return err
	}
	noMatch := func() error {
		if opts.Upsert {
			res, err := s.be.upsert(ctx, col, filter, update)
			if err != nil {
				return err
			}
			return s.out.value(matchResult{Matched: res.Matched, Modified: res.Modified, UpsertedID: res.UpsertedID})
		}
		if err := s.mustExist(ctx, col); err != nil {
			return err
		}
		return s.out.value(matchResult{})
	}
	id, byID := idFilter(filter)
	if !byID {
		first, ok, err := s.firstID(ctx, col, filter)
		if err != nil {
			return err
		}
		if !ok {
			return noMatch()
		}
		res, err := s.be.updateMany(ctx, col, andID(first, filter), update)
		if err != nil {
			return err
		}
		return s.out.value(matchResult{Matched: res.Matched, Modified: res.Modified})
	}
	for attempt := 0; ; attempt++ {
		old, rev, err := s.be.get(ctx, col, id)
		if isNotFound(err) {
			return noMatch()
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
				return noMatch()
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

// cmdReplaceOne replaces the first document matching the filter with a
// whole new document (whose _id, if any, must be the match's), at the
// revision it read (retrying if it changed meanwhile). With
// {"upsert": true} and no match it inserts the document, with the
// filter's _id when the document has none.
func cmdReplaceOne(s *Shell, ctx context.Context, col string, args []arg) error {
	filter, doc := []byte(args[0].text), []byte(args[1].text)
	if isUpdateDoc(doc) {
		return &cmdError{code: "invalid_update", msg: `replaceOne needs a replacement document, not update operators; use updateOne for {"$set": ...}`}
	}
	opts, err := parseUpdateOptions("replaceOne", optArg(args, 2))
	if err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		id, byID := idFilter(filter)
		if !byID {
			first, ok, err := s.firstID(ctx, col, filter)
			if err != nil {
				return err
			}
			if ok {
				id, byID = first, true
			}
		}
		var old json.RawMessage
		var rev uint64
		if byID {
			old, rev, err = s.be.get(ctx, col, id)
			if err != nil && !isNotFound(err) {
				return err
			}
		}
		if old == nil {
			if !opts.Upsert {
				if err := s.mustExist(ctx, col); err != nil {
					return err
				}
				return s.out.value(matchResult{})
			}
			body, err := withID(doc, id)
			if err != nil {
				return err
			}
			res, err := s.be.insertOne(ctx, col, body)
			if err != nil {
				if code, _ := errorCode(err); code == "duplicate_key" && attempt < 5 {
					continue // created meanwhile: replace it
				}
				return err
			}
			return s.out.value(matchResult{UpsertedID: res.ID})
		}
		written, err := s.be.replace(ctx, col, id, doc, rev)
		if err != nil {
			code, _ := errorCode(err)
			if code == "precondition_failed" && attempt < 5 {
				continue // changed since we read it
			}
			return err
		}
		res := matchResult{Matched: 1}
		if !bytes.Equal(old, written) {
			res.Modified = 1
		}
		return s.out.value(res)
	}
}

// withID returns doc with _id set to id when id is not empty and doc has
// no _id (a replaceOne upsert takes the filter's _id).
func withID(doc []byte, id string) ([]byte, error) {
	if id == "" {
		return doc, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(doc, &m); err != nil {
		return nil, &cmdError{code: "document_must_be_object", msg: "replaceOne needs a JSON object as the document"}
	}
	if _, has := m["_id"]; has {
		return doc, nil
	}
	idJSON, _ := json.Marshal(id)
	t := bytes.TrimSpace(doc)
	var b bytes.Buffer
	b.WriteString(`{"_id":`)
	b.Write(idJSON)
	if rest := bytes.TrimSpace(t[1:]); len(rest) > 0 && rest[0] != '}' {
		b.WriteByte(',')
	}
	b.Write(t[1:])
	return b.Bytes(), nil
}

func cmdUpdateMany(s *Shell, ctx context.Context, col string, args []arg) error {
	update := []byte(args[1].text)
	if err := needOperators("updateMany", update); err != nil {
		return err
	}
	opts, err := parseUpdateOptions("updateMany", optArg(args, 2))
	if err != nil {
		return err
	}
	var res api.UpdateResult
	if opts.Upsert {
		res, err = s.be.upsert(ctx, col, json.RawMessage(args[0].text), update)
	} else {
		res, err = s.be.updateMany(ctx, col, json.RawMessage(args[0].text), update)
	}
	if err != nil {
		return err
	}
	if res.Matched == 0 && res.UpsertedID == "" {
		if err := s.mustExist(ctx, col); err != nil {
			return err
		}
	}
	return s.out.value(matchResult{Matched: res.Matched, Modified: res.Modified, UpsertedID: res.UpsertedID})
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

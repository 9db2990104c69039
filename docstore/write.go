package docstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/minidbgo/minidbgo/docstore/internal/jsondoc"
	"github.com/minidbgo/minidbgo/docstore/internal/keyenc"
	"github.com/minidbgo/minidbgo/storage"
)

// MaxIDBytes bounds an _id's length; it is part of every key of its
// document.
const MaxIDBytes = 1024

// WriteOptions are preconditions on a single-document write.
type WriteOptions struct {
	// IfMatch, when non-zero, requires the document to exist at exactly
	// this revision (HTTP If-Match).
	IfMatch uint64
	// IfNoneMatch requires the document not to exist (HTTP If-None-Match: *).
	IfNoneMatch bool
	// Upsert makes Update create the document (from the update applied to
	// {"_id": id}, with $setOnInsert) and MergePatch create it (from the
	// patch) when it does not exist.
	Upsert bool
	// Insert makes InsertOne insert-only: it fails with duplicate_key when
	// a document has the _id (MongoDB's insertOne) instead of replacing it.
	Insert bool
}

// WriteResult is the outcome of a single-document write.
type WriteResult struct {
	ID      string `json:"_id"`
	Rev     uint64 `json:"rev"`
	Created bool   `json:"created"`
	// Doc is the document as written (nil for deletes).
	Doc []byte `json:"-"`
}

// Document is a stored document.
type Document struct {
	ID   string
	Rev  uint64
	JSON []byte
}

// objectIDCounter makes generated ids unique within a process.
var objectIDCounter atomic.Uint32

var processRandom = func() [5]byte {
	var b [5]byte
	_, _ = rand.Read(b[:])
	return b
}()

func init() {
	var b [4]byte
	_, _ = rand.Read(b[:])
	objectIDCounter.Store(uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2]))
}

// NewID returns a new _id: 24 hex characters, time-ordered like a MongoDB
// ObjectId (4 bytes of seconds, 5 random bytes per process, a 3-byte
// counter).
func NewID() string {
	var b [12]byte
	t := uint32(time.Now().Unix())
	b[0], b[1], b[2], b[3] = byte(t>>24), byte(t>>16), byte(t>>8), byte(t)
	copy(b[4:9], processRandom[:])
	c := objectIDCounter.Add(1)
	b[9], b[10], b[11] = byte(c>>16), byte(c>>8), byte(c)
	return hex.EncodeToString(b[:])
}

// parseDoc parses a request body into a document with a string _id first.
// pathID, when set, must agree with a body _id.
func (db *DB) parseDoc(ctx context.Context, body []byte, pathID string, index int) (jsondoc.Value, string, error) {
	if len(body) > db.opts.MaxDocumentBytes {
		return jsondoc.Value{}, "", &Error{Code: CodeDocumentTooLarge, Index: index,
			Msg: fmt.Sprintf("document is %d bytes, over the %d-byte limit", len(body), db.opts.MaxDocumentBytes)}
	}
	v, err := jsondoc.ParseDocument(body, db.limits)
	if err != nil {
		return v, "", jsonError(err, index)
	}
	return db.normalizeDoc(ctx, v, pathID, index)
}

func (db *DB) normalizeDoc(ctx context.Context, v jsondoc.Value, pathID string, index int) (jsondoc.Value, string, error) {
	idv, has := v.Field("_id")
	var id string
	switch {
	case has && idv.Kind() != jsondoc.KindString:
		return v, "", &Error{Code: CodeInvalidID, Index: index,
			Msg: fmt.Sprintf("_id must be a string, got %s", jsondoc.TypeName(idv))}
	case has:
		id = idv.Str()
		if pathID != "" && id != pathID {
			return v, "", &Error{Code: CodeIDMismatch, Index: index,
				Msg: fmt.Sprintf("body _id %q does not match the path's %q", id, pathID)}
		}
	case pathID != "":
		id = pathID
	default:
		// The proposer of a replicated write fills in the _ids; one
		// still missing when the command is applied is generated from
		// the entry, the same on every node.
		id = newIDFor(ctx)
	}
	if id == "" || len(id) > MaxIDBytes {
		return v, "", &Error{Code: CodeInvalidID, Index: index,
			Msg: fmt.Sprintf("_id must be 1 to %d bytes, got %d", MaxIDBytes, len(id))}
	}
	return withIDFirst(v, id), id, nil
}

// withIDFirst returns the document with _id as its first member.
func withIDFirst(v jsondoc.Value, id string) jsondoc.Value {
	ms := v.Members()
	if len(ms) > 0 && ms[0].Key == "_id" && ms[0].Value.Kind() == jsondoc.KindString && ms[0].Value.Str() == id {
		return v
	}
	out := make([]jsondoc.Member, 0, len(ms)+1)
	out = append(out, jsondoc.Member{Key: "_id", Value: jsondoc.String(id)})
	for _, m := range ms {
		if m.Key != "_id" {
			out = append(out, m)
		}
	}
	return jsondoc.Object(out)
}

// jsonError turns a parse error into an Error with the parser's code.
func jsonError(err error, index int) error {
	var se *jsondoc.SyntaxError
	if errors.As(err, &se) {
		msg := se.Error()
		if index >= 0 {
			msg = fmt.Sprintf("document %d: %s", index, msg)
		}
		return &Error{Code: Code(se.Code), Msg: msg, Index: index, Err: err}
	}
	return &Error{Code: CodeInvalidJSON, Msg: err.Error(), Index: index, Err: err}
}

// InsertOne stores a document, replacing any with the same _id (the
// guide's POST semantics), and returns its _id, generated when absent.
func (db *DB) InsertOne(ctx context.Context, col string, body []byte, opts WriteOptions) (WriteResult, error) {
	doc, id, err := db.parseDoc(ctx, body, "", -1)
	if err != nil {
		return WriteResult{}, err
	}
	if p := db.proposer(ctx); p != nil {
		r, err := propose(ctx, p, &WriteCommand{Kind: CmdInsertOne, Col: col, Bodies: [][]byte{jsondoc.AppendJSON(nil, doc)}, Opts: opts})
		return r.One, err
	}
	return db.putDoc(ctx, col, id, doc, opts)
}

// Create stores a document only if no document has its _id (ErrExists).
func (db *DB) Create(ctx context.Context, col string, body []byte) (WriteResult, error) {
	return db.InsertOne(ctx, col, body, WriteOptions{IfNoneMatch: true})
}

// Replace stores body as the document with the given _id (an upsert); a
// body _id must agree.
func (db *DB) Replace(ctx context.Context, col, id string, body []byte, opts WriteOptions) (WriteResult, error) {
	if id == "" {
		return WriteResult{}, errf(CodeInvalidID, "_id must not be empty")
	}
	doc, id, err := db.parseDoc(ctx, body, id, -1)
	if err != nil {
		return WriteResult{}, err
	}
	if p := db.proposer(ctx); p != nil {
		r, err := propose(ctx, p, &WriteCommand{Kind: CmdReplace, Col: col, ID: id, Bodies: [][]byte{jsondoc.AppendJSON(nil, doc)}, Opts: opts})
		return r.One, err
	}
	return db.putDoc(ctx, col, id, doc, opts)
}

func (db *DB) putDoc(ctx context.Context, col, id string, doc jsondoc.Value, opts WriteOptions) (WriteResult, error) {
	op := &docOp{id: id, apply: func(old *jsondoc.Value, exists bool, oldRev uint64) (*jsondoc.Value, error) {
		if err := checkPreconditions(col, id, exists, oldRev, opts); err != nil {
			return nil, err
		}
		return &doc, nil
	}}
	if err := db.write(ctx, col, []*docOp{op}); err != nil {
		return WriteResult{}, err
	}
	return WriteResult{ID: id, Rev: op.rev, Created: op.created, Doc: op.json}, nil
}

func checkPreconditions(col, id string, exists bool, rev uint64, opts WriteOptions) error {
	if opts.Insert && exists {
		return duplicateKey(col, id, -1)
	}
	if opts.IfNoneMatch && exists {
		return &Error{Code: CodeExists, Index: -1, Msg: fmt.Sprintf("document %q already exists in %q", id, col)}
	}
	if opts.IfMatch != 0 {
		if !exists {
			return &Error{Code: CodePreconditionFailed, Index: -1, Msg: fmt.Sprintf("document %q does not exist; If-Match requires revision %d", id, opts.IfMatch)}
		}
		if rev != opts.IfMatch {
			return &Error{Code: CodePreconditionFailed, Index: -1, Msg: fmt.Sprintf("document %q is at revision %d, not %d", id, rev, opts.IfMatch)}
		}
	}
	return nil
}

// duplicateKey is the error of an insert-only write that meets an existing
// _id.
func duplicateKey(col, id string, index int) error {
	msg := fmt.Sprintf("duplicate key: a document with _id %q already exists in %q", id, col)
	if index >= 0 {
		msg = fmt.Sprintf("document %d: %s", index, msg)
	}
	return &Error{Code: CodeDuplicateKey, Index: index, Msg: msg}
}

// InsertMany stores up to MaxBatchDocs documents atomically: all or none.
// Each replaces any document with its _id (WriteResult.Created tells which
// did). A bad document fails the batch with an Error whose Index names it.
func (db *DB) InsertMany(ctx context.Context, col string, bodies [][]byte) ([]WriteResult, error) {
	return db.insertBatch(ctx, col, bodies, false)
}

// InsertNew stores up to MaxBatchDocs new documents atomically, like
// MongoDB's insertMany: when a document with one of their _ids exists, the
// batch fails with duplicate_key naming it (its Index is the document's
// position) and nothing is written.
func (db *DB) InsertNew(ctx context.Context, col string, bodies [][]byte) ([]WriteResult, error) {
	return db.insertBatch(ctx, col, bodies, true)
}

func (db *DB) insertBatch(ctx context.Context, col string, bodies [][]byte, insertOnly bool) ([]WriteResult, error) {
	if len(bodies) == 0 {
		return nil, errf(CodeBadRequest, "insertMany needs at least one document")
	}
	if len(bodies) > db.opts.MaxBatchDocs {
		return nil, &Error{Code: CodeTooManyDocuments, Index: -1,
			Msg: fmt.Sprintf("batch has %d documents, over the limit of %d", len(bodies), db.opts.MaxBatchDocs)}
	}
	ops := make([]*docOp, len(bodies))
	seen := make(map[string]int, len(bodies))
	p := db.proposer(ctx)
	var norm [][]byte // the documents with their _ids, for p
	for i, body := range bodies {
		doc, id, err := db.parseDoc(ctx, body, "", i)
		if err != nil {
			return nil, err
		}
		if j, dup := seen[id]; dup {
			return nil, &Error{Code: CodeDuplicateID, Index: i, Msg: fmt.Sprintf("document %d has the same _id %q as document %d", i, id, j)}
		}
		seen[id] = i
		if p != nil {
			norm = append(norm, jsondoc.AppendJSON(nil, doc))
			continue
		}
		d := doc
		ops[i] = &docOp{id: id, apply: func(_ *jsondoc.Value, exists bool, _ uint64) (*jsondoc.Value, error) {
			if insertOnly && exists {
				return nil, duplicateKey(col, id, i)
			}
			return &d, nil
		}}
	}
	if p != nil {
		kind := CmdInsertMany
		if insertOnly {
			kind = CmdInsertNew
		}
		r, err := propose(ctx, p, &WriteCommand{Kind: kind, Col: col, Bodies: norm})
		return r.Many, err
	}
	if err := db.write(ctx, col, ops); err != nil {
		return nil, err
	}
	out := make([]WriteResult, len(ops))
	for i, op := range ops {
		out[i] = WriteResult{ID: op.id, Rev: op.rev, Created: op.created}
	}
	return out, nil
}

// Get returns a document by _id.
func (db *DB) Get(ctx context.Context, col, id string) (Document, error) {
	if err := checkName("collection", col); err != nil {
		return Document{}, err
	}
	if err := ctxErr(ctx, "get"); err != nil {
		return Document{}, err
	}
	raw, err := db.engine.Get(keyenc.DocKey(nil, col, id))
	if errors.Is(err, storage.ErrNotFound) {
		return Document{}, &Error{Code: CodeNotFound, Index: -1, Msg: fmt.Sprintf("document %q not found in %q", id, col)}
	}
	if err != nil {
		return Document{}, err
	}
	rev, js, err := decodeStored(raw)
	if err != nil {
		return Document{}, err
	}
	if expired, err := db.expiryView(db.getCollection(col)).expired(js); err != nil || expired {
		if err != nil {
			return Document{}, err
		}
		return Document{}, &Error{Code: CodeNotFound, Index: -1, Msg: fmt.Sprintf("document %q not found in %q", id, col)}
	}
	return Document{ID: id, Rev: rev, JSON: js}, nil
}

// Delete removes a document.
func (db *DB) Delete(ctx context.Context, col, id string, opts WriteOptions) error {
	if err := checkName("collection", col); err != nil {
		return err
	}
	if db.getCollection(col) == nil {
		return &Error{Code: CodeNotFound, Index: -1, Msg: fmt.Sprintf("document %q not found in %q", id, col)}
	}
	if p := db.proposer(ctx); p != nil {
		_, err := propose(ctx, p, &WriteCommand{Kind: CmdDelete, Col: col, ID: id, Opts: opts})
		return err
	}
	op := &docOp{id: id, apply: func(old *jsondoc.Value, exists bool, oldRev uint64) (*jsondoc.Value, error) {
		if !exists {
			return nil, &Error{Code: CodeNotFound, Index: -1, Msg: fmt.Sprintf("document %q not found in %q", id, col)}
		}
		if err := checkPreconditions(col, id, true, oldRev, opts); err != nil {
			return nil, err
		}
		return nil, nil
	}}
	return db.write(ctx, col, []*docOp{op})
}

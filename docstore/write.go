package docstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/minidbgo/minidbgo/docstore/internal/jsondoc"
	"github.com/minidbgo/minidbgo/docstore/internal/keyenc"
	"github.com/minidbgo/minidbgo/docstore/internal/query"
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

// docOp is one document change inside an atomic write.
type docOp struct {
	id string
	// apply computes the new document from the old; it returns nil to
	// delete, errSkip to leave the document alone. It runs under the
	// document's lock. old is parsed only when needOld is set (or indexes
	// need it); exists tells whether there is an old version.
	apply   func(old *jsondoc.Value, exists bool, oldRev uint64) (*jsondoc.Value, error)
	needOld bool
	// results
	rev     uint64
	created bool
	existed bool
	json    []byte
}

var errSkip = errors.New("skip")

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
func (db *DB) parseDoc(body []byte, pathID string, index int) (jsondoc.Value, string, error) {
	if len(body) > db.opts.MaxDocumentBytes {
		return jsondoc.Value{}, "", &Error{Code: "document_too_large", Index: index,
			Msg: fmt.Sprintf("document is %d bytes, over the %d-byte limit", len(body), db.opts.MaxDocumentBytes)}
	}
	v, err := jsondoc.ParseDocument(body, db.limits)
	if err != nil {
		return v, "", jsonError(err, index)
	}
	return db.normalizeDoc(v, pathID, index)
}

func (db *DB) normalizeDoc(v jsondoc.Value, pathID string, index int) (jsondoc.Value, string, error) {
	idv, has := v.Field("_id")
	var id string
	switch {
	case has && idv.Kind() != jsondoc.KindString:
		return v, "", &Error{Code: "invalid_id", Index: index,
			Msg: fmt.Sprintf("_id must be a string, got %s", jsondoc.TypeName(idv))}
	case has:
		id = idv.Str()
		if pathID != "" && id != pathID {
			return v, "", &Error{Code: "id_mismatch", Index: index,
				Msg: fmt.Sprintf("body _id %q does not match the path's %q", id, pathID)}
		}
	case pathID != "":
		id = pathID
	default:
		id = NewID()
	}
	if id == "" || len(id) > MaxIDBytes {
		return v, "", &Error{Code: "invalid_id", Index: index,
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
		return &Error{Code: se.Code, Msg: msg, Index: index, Err: err}
	}
	return &Error{Code: "invalid_json", Msg: err.Error(), Index: index, Err: err}
}

// InsertOne stores a document, replacing any with the same _id (the
// guide's POST semantics), and returns its _id, generated when absent.
func (db *DB) InsertOne(ctx context.Context, col string, body []byte, opts WriteOptions) (WriteResult, error) {
	doc, id, err := db.parseDoc(body, "", -1)
	if err != nil {
		return WriteResult{}, err
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
		return WriteResult{}, errf("invalid_id", "_id must not be empty")
	}
	doc, id, err := db.parseDoc(body, id, -1)
	if err != nil {
		return WriteResult{}, err
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
		return &Error{Code: "exists", Index: -1, Msg: fmt.Sprintf("document %q already exists in %q", id, col)}
	}
	if opts.IfMatch != 0 {
		if !exists {
			return &Error{Code: "precondition_failed", Index: -1, Msg: fmt.Sprintf("document %q does not exist; If-Match requires revision %d", id, opts.IfMatch)}
		}
		if rev != opts.IfMatch {
			return &Error{Code: "precondition_failed", Index: -1, Msg: fmt.Sprintf("document %q is at revision %d, not %d", id, rev, opts.IfMatch)}
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
	return &Error{Code: "duplicate_key", Index: index, Msg: msg}
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
		return nil, errf("bad_request", "insertMany needs at least one document")
	}
	if len(bodies) > db.opts.MaxBatchDocs {
		return nil, &Error{Code: "too_many_documents", Index: -1,
			Msg: fmt.Sprintf("batch has %d documents, over the limit of %d", len(bodies), db.opts.MaxBatchDocs)}
	}
	ops := make([]*docOp, len(bodies))
	seen := make(map[string]int, len(bodies))
	for i, body := range bodies {
		doc, id, err := db.parseDoc(body, "", i)
		if err != nil {
			return nil, err
		}
		if j, dup := seen[id]; dup {
			return nil, &Error{Code: "duplicate_id", Index: i, Msg: fmt.Sprintf("document %d has the same _id %q as document %d", i, id, j)}
		}
		seen[id] = i
		d := doc
		ops[i] = &docOp{id: id, apply: func(_ *jsondoc.Value, exists bool, _ uint64) (*jsondoc.Value, error) {
			if insertOnly && exists {
				return nil, duplicateKey(col, id, i)
			}
			return &d, nil
		}}
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
	if err == storage.ErrNotFound {
		return Document{}, &Error{Code: "not_found", Index: -1, Msg: fmt.Sprintf("document %q not found in %q", id, col)}
	}
	if err != nil {
		return Document{}, err
	}
	rev, js, err := decodeStored(raw)
	if err != nil {
		return Document{}, err
	}
	return Document{ID: id, Rev: rev, JSON: js}, nil
}

// Update applies MongoDB update operators (or, for a body without
// operators, a replacement) to one document, atomically.
func (db *DB) Update(ctx context.Context, col, id string, update []byte, opts WriteOptions) (WriteResult, error) {
	u, repl, err := db.parseUpdate(update)
	if err != nil {
		return WriteResult{}, err
	}
	op := &docOp{id: id, needOld: true, apply: func(old *jsondoc.Value, exists bool, oldRev uint64) (*jsondoc.Value, error) {
		if err := checkPreconditions(col, id, exists, oldRev, opts); err != nil {
			return nil, err
		}
		base := old
		if base == nil {
			if !opts.Upsert {
				return nil, &Error{Code: "not_found", Index: -1, Msg: fmt.Sprintf("document %q not found in %q", id, col)}
			}
			empty := jsondoc.Object([]jsondoc.Member{{Key: "_id", Value: jsondoc.String(id)}})
			return db.applyInsert(u, repl, empty, id)
		}
		return db.applyUpdate(u, repl, *base, id)
	}}
	if err := db.write(ctx, col, []*docOp{op}); err != nil {
		return WriteResult{}, err
	}
	return WriteResult{ID: id, Rev: op.rev, Created: op.created, Doc: op.json}, nil
}

func (db *DB) parseUpdate(update []byte) (*query.Update, *jsondoc.Value, error) {
	if len(update) > db.opts.MaxDocumentBytes {
		return nil, nil, errf("document_too_large", "update is %d bytes, over the %d-byte limit", len(update), db.opts.MaxDocumentBytes)
	}
	v, err := jsondoc.ParseDocument(update, db.limits)
	if err != nil {
		return nil, nil, jsonError(err, -1)
	}
	if !query.IsUpdateDoc(v) {
		return nil, &v, nil
	}
	u, err := query.ParseUpdate(v)
	if err != nil {
		return nil, nil, queryError("invalid_update", err)
	}
	return u, nil, nil
}

func (db *DB) applyUpdate(u *query.Update, repl *jsondoc.Value, old jsondoc.Value, id string) (*jsondoc.Value, error) {
	return db.applyUpdateEnv(u, repl, old, id, query.UpdateEnv{})
}

// applyUpdateEnv is applyUpdate with the filter that selected the document
// (for the positional operator $).
func (db *DB) applyUpdateEnv(u *query.Update, repl *jsondoc.Value, old jsondoc.Value, id string, env query.UpdateEnv) (*jsondoc.Value, error) {
	var nv jsondoc.Value
	if repl != nil {
		var err error
		nv, _, err = db.normalizeDoc(*repl, id, -1)
		if err != nil {
			return nil, err
		}
	} else {
		var err error
		nv, err = u.ApplyEnv(old, env)
		if err != nil {
			return nil, queryError("invalid_update", err)
		}
		if idv, _ := nv.Field("_id"); idv.Kind() != jsondoc.KindString || idv.Str() != id {
			return nil, errf("invalid_update", "an update may not change _id")
		}
	}
	return &nv, nil
}

// applyInsert is applyUpdate for a document an upsert creates: the
// update's $setOnInsert fields are set too.
func (db *DB) applyInsert(u *query.Update, repl *jsondoc.Value, seed jsondoc.Value, id string) (*jsondoc.Value, error) {
	if repl != nil {
		return db.applyUpdate(u, repl, seed, id)
	}
	nv, err := u.ApplyInsert(seed)
	if err != nil {
		return nil, queryError("invalid_update", err)
	}
	if idv, _ := nv.Field("_id"); idv.Kind() != jsondoc.KindString || idv.Str() != id {
		return nil, errf("invalid_update", "an update may not change _id")
	}
	return &nv, nil
}

func queryError(code string, err error) error {
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	return &Error{Code: code, Msg: err.Error(), Index: -1, Err: err}
}

// Delete removes a document.
func (db *DB) Delete(ctx context.Context, col, id string, opts WriteOptions) error {
	if err := checkName("collection", col); err != nil {
		return err
	}
	if db.getCollection(col) == nil {
		return &Error{Code: "not_found", Index: -1, Msg: fmt.Sprintf("document %q not found in %q", id, col)}
	}
	op := &docOp{id: id, apply: func(old *jsondoc.Value, exists bool, oldRev uint64) (*jsondoc.Value, error) {
		if !exists {
			return nil, &Error{Code: "not_found", Index: -1, Msg: fmt.Sprintf("document %q not found in %q", id, col)}
		}
		if err := checkPreconditions(col, id, true, oldRev, opts); err != nil {
			return nil, err
		}
		return nil, nil
	}}
	return db.write(ctx, col, []*docOp{op})
}

// write runs ops atomically: one batch holding the documents, their index
// changes and the collection's count delta.
//
// ctx is looked at before the batch commits: a cancelled write commits
// nothing.
func (db *DB) write(ctx context.Context, col string, ops []*docOp) error {
	if err := ctxErr(ctx, "write"); err != nil {
		return err
	}
	b := db.engine.NewBatch()
	c, release, err := db.ensureCollection(col, b)
	if err != nil {
		return err
	}
	defer release()
	c.mu.RLock()
	hasUnique := false
	for _, ix := range c.indexes {
		hasUnique = hasUnique || ix.spec.Unique
	}
	c.mu.RUnlock()
	var unlock func()
	if hasUnique {
		c.writeMu.Lock()
		unlock = c.writeMu.Unlock
	} else {
		ids := make([]string, len(ops))
		for i, op := range ops {
			ids[i] = op.id
		}
		unlock = db.lockDocs(col, ids)
	}
	defer func() { unlock() }() // unlock may be replaced below

	// Indexes are read under the document locks, so an index being built
	// concurrently is either seen here or backfills after this write.
	c.mu.RLock()
	indexes := append([]*index(nil), c.indexes...)
	c.mu.RUnlock()
	if !hasUnique {
		for _, ix := range indexes {
			if ix.spec.Unique {
				// A unique index appeared meanwhile: retry serialised.
				unlock()
				unlock = func() {}
				release()
				return db.write(ctx, col, ops)
			}
		}
	}

	var dDocs, dBytes int64
	uniqueAdded := map[string]string{}
	for i, op := range ops {
		key := keyenc.DocKey(nil, col, op.id)
		raw, err := db.engine.Get(key)
		var old *jsondoc.Value
		var oldRev uint64
		var oldJSON []byte
		if err == nil {
			oldRev, oldJSON, err = decodeStored(raw)
			if err != nil {
				return err
			}
			if len(indexes) > 0 || op.needOld {
				v, perr := parseStored(col, op.id, oldJSON)
				if perr != nil {
					return perr
				}
				old = &v
			}
		} else if err != storage.ErrNotFound {
			return err
		}
		nv, err := op.apply(old, oldJSON != nil, oldRev)
		if err == errSkip {
			continue
		}
		if err != nil {
			if e, ok := err.(*Error); ok && len(ops) > 1 && e.Index < 0 {
				e.Index = i
			}
			return err
		}
		op.existed = oldJSON != nil
		var newJSON []byte
		if nv != nil {
			newJSON = jsondoc.AppendJSON(nil, *nv)
			if len(newJSON) > db.opts.MaxDocumentBytes {
				return &Error{Code: "document_too_large", Index: -1,
					Msg: fmt.Sprintf("document %q would be %d bytes, over the %d-byte limit", op.id, len(newJSON), db.opts.MaxDocumentBytes)}
			}
			op.rev = db.nextRev()
			op.created = !op.existed
			op.json = newJSON
			b.Put(key, encodeStored(op.rev, newJSON))
		} else {
			b.Delete(key)
		}
		// Index maintenance: delete entries the old version had and the
		// new one lacks, add the new ones.
		for _, ix := range indexes {
			var oldKeys, newKeys [][]byte
			if old != nil {
				if oldKeys, err = ix.entries(col, *old, op.id); err != nil {
					oldKeys = nil // an over-wide old doc was never indexed fully
				}
			}
			if nv != nil {
				if newKeys, err = ix.entries(col, *nv, op.id); err != nil {
					return err
				}
				db.noteMultikey(c, ix, *nv, b)
			}
			for _, k := range oldKeys {
				if !containsKey(newKeys, k) {
					b.Delete(k)
				}
			}
			for _, k := range newKeys {
				if containsKey(oldKeys, k) {
					continue
				}
				if ix.checksUnique() {
					up := string(ix.uniquePrefix(k, op.id))
					if other, dup := uniqueAdded[up]; dup && other != op.id {
						return &Error{Code: "unique_violation", Index: i, Msg: fmt.Sprintf("unique index %q: documents %q and %q have the same values", ix.spec.Name, other, op.id)}
					}
					uniqueAdded[up] = op.id
					if err := db.checkUniqueExcept(ix, k, op.id, ops); err != nil {
						return err
					}
				}
				b.Put(k, nil)
			}
		}
		switch {
		case op.existed && nv == nil:
			dDocs--
			dBytes -= int64(len(oldJSON))
		case op.existed:
			dBytes += int64(len(newJSON) - len(oldJSON))
		case nv != nil:
			dDocs++
			dBytes += int64(len(newJSON))
		}
	}
	if err := ctxErr(ctx, "write"); err != nil {
		return err
	}
	db.addStatsDelta(c, b, dDocs, dBytes)
	if err := db.engine.Apply(b); err != nil {
		return err
	}
	c.persisted.Store(true)
	c.docs.Add(dDocs)
	c.bytes.Add(dBytes)
	db.afterWrite(c, len(ops))
	return nil
}

// checkUniqueExcept is checkUnique ignoring documents the same batch
// rewrites (their old entries are being replaced).
func (db *DB) checkUniqueExcept(ix *index, key []byte, id string, ops []*docOp) error {
	err := db.checkUnique(ix, key, id)
	var e *Error
	if err == nil || !errors.As(err, &e) || e.Code != "unique_violation" {
		return err
	}
	// The holder may be rewritten by this batch; re-check precisely.
	p := ix.uniquePrefix(key, id)
	it := db.engine.NewIter(&storage.IterOptions{Prefix: p})
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		other, derr := keyenc.DecodeIndexKeyID(it.Key(), len(ix.prefix), len(ix.paths), ix.desc)
		if derr != nil {
			return derr
		}
		if other == id {
			continue
		}
		inBatch := false
		for _, op := range ops {
			if op.id == other {
				inBatch = true
			}
		}
		if !inBatch {
			return err
		}
	}
	return nil
}

func containsKey(keys [][]byte, k []byte) bool {
	for _, x := range keys {
		if bytes.Equal(x, k) {
			return true
		}
	}
	return false
}

// MergePatch applies an RFC 7396 JSON merge patch to a document,
// atomically: each member of patch replaces the document's member of that
// name, a null removes it, and an object merges into an object member
// recursively (so a patch cannot store a null). A patch _id must agree
// with id. With opts.Upsert a missing document is created from the patch
// applied to {"_id": id}; without, it is not_found.
func (db *DB) MergePatch(ctx context.Context, col, id string, patch []byte, opts WriteOptions) (WriteResult, error) {
	if id == "" {
		return WriteResult{}, errf("invalid_id", "_id must not be empty")
	}
	if len(patch) > db.opts.MaxDocumentBytes {
		return WriteResult{}, errf("document_too_large", "merge patch is %d bytes, over the %d-byte limit", len(patch), db.opts.MaxDocumentBytes)
	}
	p, err := jsondoc.ParseDocument(patch, db.limits)
	if err != nil {
		return WriteResult{}, jsonError(err, -1)
	}
	for _, m := range p.Members() {
		if strings.HasPrefix(m.Key, "$") {
			return WriteResult{}, errf("invalid_patch", "merge patch field %q starts with $: update operators are not part of a merge patch (send them as application/json)", m.Key)
		}
	}
	if idv, has := p.Field("_id"); has {
		if idv.Kind() != jsondoc.KindString || idv.Str() != id {
			return WriteResult{}, &Error{Code: "id_mismatch", Index: -1,
				Msg: fmt.Sprintf("merge patch _id %s does not match the path's %q (a patch cannot change or remove _id)", jsondoc.AppendJSON(nil, idv), id)}
		}
	}
	op := &docOp{id: id, needOld: true, apply: func(old *jsondoc.Value, exists bool, oldRev uint64) (*jsondoc.Value, error) {
		if err := checkPreconditions(col, id, exists, oldRev, opts); err != nil {
			return nil, err
		}
		base := jsondoc.Object([]jsondoc.Member{{Key: "_id", Value: jsondoc.String(id)}})
		if old != nil {
			base = *old
		} else if !opts.Upsert {
			return nil, &Error{Code: "not_found", Index: -1, Msg: fmt.Sprintf("document %q not found in %q", id, col)}
		}
		// The merged document is checked like any stored document.
		nv, _, err := db.parseDoc(jsondoc.AppendJSON(nil, mergePatch(base, p)), id, -1)
		if err != nil {
			return nil, err
		}
		return &nv, nil
	}}
	if err := db.write(ctx, col, []*docOp{op}); err != nil {
		return WriteResult{}, err
	}
	return WriteResult{ID: id, Rev: op.rev, Created: op.created, Doc: op.json}, nil
}

// mergePatch is RFC 7396's MergePatch(target, patch).
func mergePatch(target, patch jsondoc.Value) jsondoc.Value {
	if patch.Kind() != jsondoc.KindObject {
		return patch
	}
	var ms []jsondoc.Member
	if target.Kind() == jsondoc.KindObject {
		ms = append(ms, target.Members()...)
	}
	for _, pm := range patch.Members() {
		at := -1
		for i, m := range ms {
			if m.Key == pm.Key {
				at = i
				break
			}
		}
		switch {
		case pm.Value.Kind() == jsondoc.KindNull:
			if at >= 0 {
				ms = append(ms[:at:at], ms[at+1:]...)
			}
		case at >= 0:
			ms[at].Value = mergePatch(ms[at].Value, pm.Value)
		default:
			ms = append(ms, jsondoc.Member{Key: pm.Key, Value: mergePatch(jsondoc.Missing(), pm.Value)})
		}
	}
	return jsondoc.Object(ms)
}

// UpsertResult reports UpsertMany: the documents it matched and modified,
// or, when none matched, the _id of the document it created.
type UpsertResult struct {
	ManyResult
	// UpsertedID is the _id of the created document; empty when the
	// filter matched.
	UpsertedID string `json:"upserted_id,omitempty"`
}

// UpsertMany is UpdateMany with MongoDB's upsert: when no document matches
// filter, it creates one from the filter's equality conditions ({"a": 1},
// {"a": {"$eq": 1}}, inside $and) with the update applied, its
// $setOnInsert fields included, and an _id from the filter or a new one.
// If another writer creates a document with that _id first, the update is
// retried against it; duplicate_key when it does not match the filter.
func (db *DB) UpsertMany(ctx context.Context, col string, filter, update []byte) (UpsertResult, error) {
	u, repl, err := db.parseUpdate(update)
	if err != nil {
		return UpsertResult{}, err
	}
	if repl != nil {
		return UpsertResult{}, errf("invalid_update", "an upsert needs update operators like {\"$set\": {...}}, not a replacement document")
	}
	for attempt := 0; ; attempt++ {
		res, err := db.UpdateMany(ctx, col, filter, update)
		if err != nil || res.Matched > 0 {
			return UpsertResult{ManyResult: res}, err
		}
		f, err := jsondoc.ParseDocument(filter, db.limits)
		if err != nil {
			return UpsertResult{}, jsonError(err, -1)
		}
		seed, err := upsertSeed(jsondoc.Object(nil), f)
		if err != nil {
			return UpsertResult{}, err
		}
		seedID := NewID()
		if idv, has := seed.Field("_id"); has && idv.Kind() == jsondoc.KindString {
			seedID = idv.Str()
		}
		seed, _, err = db.normalizeDoc(seed, seedID, -1)
		if err != nil {
			return UpsertResult{}, err
		}
		nv, err := db.applyInsert(u, nil, seed, seedID)
		if err != nil {
			return UpsertResult{}, err
		}
		wr, err := db.putDoc(ctx, col, seedID, *nv, WriteOptions{Insert: true})
		var de *Error
		if errors.As(err, &de) && de.Code == "duplicate_key" && attempt < 2 {
			continue // created meanwhile: update it if it matches
		}
		if err != nil {
			return UpsertResult{}, err
		}
		return UpsertResult{UpsertedID: wr.ID}, nil
	}
}

// upsertSeed adds the equality conditions of filter f to doc: the fields
// an upsert's new document starts with, as in MongoDB.
func upsertSeed(doc, f jsondoc.Value) (jsondoc.Value, error) {
	for _, m := range f.Members() {
		if m.Key == "$and" {
			for _, clause := range m.Value.Elems() {
				var err error
				if doc, err = upsertSeed(doc, clause); err != nil {
					return doc, err
				}
			}
			continue
		}
		if strings.HasPrefix(m.Key, "$") {
			continue // $or, $nor, …: no single value to start from
		}
		v := m.Value
		if v.Kind() == jsondoc.KindObject && query.IsUpdateDoc(v) { // an operator object
			eq, ok := v.Field("$eq")
			if !ok {
				continue
			}
			v = eq
		}
		segs, err := jsondoc.SplitPath(m.Key)
		if err != nil {
			return doc, errf("invalid_query", "filter.%s: invalid field path", m.Key)
		}
		if doc, err = doc.SetPath(segs, v); err != nil {
			return doc, errf("invalid_update", "cannot build the upsert document from filter field %q: %v", m.Key, err)
		}
	}
	return doc, nil
}

// Patch is PATCH /api/{col}/{id}: a body with update operators is an
// Update, any other body a MergePatch.
func (db *DB) Patch(ctx context.Context, col, id string, body []byte, opts WriteOptions) (WriteResult, error) {
	if len(body) <= db.opts.MaxDocumentBytes {
		if v, err := jsondoc.ParseDocument(body, db.limits); err == nil && query.IsUpdateDoc(v) {
			return db.Update(ctx, col, id, body, opts)
		}
	}
	return db.MergePatch(ctx, col, id, body, opts)
}

package docstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/minidbgo/minidbgo/docstore/internal/jsondoc"
	"github.com/minidbgo/minidbgo/docstore/internal/query"
)

// Update applies MongoDB update operators (or, for a body without
// operators, a replacement) to one document, atomically.
func (db *DB) Update(ctx context.Context, col, id string, update []byte, opts WriteOptions) (WriteResult, error) {
	u, repl, err := db.parseUpdate(update)
	if err != nil {
		return WriteResult{}, err
	}
	if p := db.proposer(ctx); p != nil {
		r, err := propose(ctx, p, &WriteCommand{Kind: CmdUpdate, Col: col, ID: id, Bodies: [][]byte{update}, Opts: opts})
		return r.One, err
	}
	intent := OpUpdate
	if repl != nil {
		intent = OpReplace
	}
	op := &docOp{id: id, op: intent, needOld: true, apply: func(old *jsondoc.Value, exists bool, oldRev uint64) (*jsondoc.Value, error) {
		if err := checkPreconditions(col, id, exists, oldRev, opts); err != nil {
			return nil, err
		}
		base := old
		if base == nil {
			if !opts.Upsert {
				return nil, &Error{Code: CodeNotFound, Index: -1, Msg: fmt.Sprintf("document %q not found in %q", id, col)}
			}
			empty := jsondoc.Object([]jsondoc.Member{{Key: "_id", Value: jsondoc.String(id)}})
			return db.applyInsert(u, repl, empty, id)
		}
		return db.applyUpdateEnv(u, repl, *base, id, query.UpdateEnv{Now: nowOf(ctx)})
	}}
	if err := db.write(ctx, col, []*docOp{op}); err != nil {
		return WriteResult{}, err
	}
	return WriteResult{ID: id, Rev: op.rev, Created: op.created, Doc: op.json}, nil
}

func (db *DB) parseUpdate(update []byte) (*query.Update, *jsondoc.Value, error) {
	if len(update) > db.opts.MaxDocumentBytes {
		return nil, nil, errf(CodeDocumentTooLarge, "update is %d bytes, over the %d-byte limit", len(update), db.opts.MaxDocumentBytes)
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
		return nil, nil, queryError(CodeInvalidUpdate, err)
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
		nv, _, err = db.normalizeDoc(context.Background(), *repl, id, -1) // id is set: nothing is generated
		if err != nil {
			return nil, err
		}
	} else {
		var err error
		nv, err = u.ApplyEnv(old, env)
		if err != nil {
			return nil, queryError(CodeInvalidUpdate, err)
		}
		if idv, _ := nv.Field("_id"); idv.Kind() != jsondoc.KindString || idv.Str() != id {
			return nil, errf(CodeInvalidUpdate, "an update may not change _id")
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
		return nil, queryError(CodeInvalidUpdate, err)
	}
	if idv, _ := nv.Field("_id"); idv.Kind() != jsondoc.KindString || idv.Str() != id {
		return nil, errf(CodeInvalidUpdate, "an update may not change _id")
	}
	return &nv, nil
}

func queryError(code Code, err error) error {
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	return &Error{Code: code, Msg: err.Error(), Index: -1, Err: err}
}

// MergePatch applies an RFC 7396 JSON merge patch to a document,
// atomically: each member of patch replaces the document's member of that
// name, a null removes it, and an object merges into an object member
// recursively (so a patch cannot store a null). A patch _id must agree
// with id. With opts.Upsert a missing document is created from the patch
// applied to {"_id": id}; without, it is not_found.
func (db *DB) MergePatch(ctx context.Context, col, id string, patch []byte, opts WriteOptions) (WriteResult, error) {
	if id == "" {
		return WriteResult{}, errf(CodeInvalidID, "_id must not be empty")
	}
	if len(patch) > db.opts.MaxDocumentBytes {
		return WriteResult{}, errf(CodeDocumentTooLarge, "merge patch is %d bytes, over the %d-byte limit", len(patch), db.opts.MaxDocumentBytes)
	}
	p, err := jsondoc.ParseDocument(patch, db.limits)
	if err != nil {
		return WriteResult{}, jsonError(err, -1)
	}
	for _, m := range p.Members() {
		if strings.HasPrefix(m.Key, "$") {
			return WriteResult{}, errf(CodeInvalidPatch, "merge patch field %q starts with $: update operators are not part of a merge patch (send them as application/json)", m.Key)
		}
	}
	if idv, has := p.Field("_id"); has {
		if idv.Kind() != jsondoc.KindString || idv.Str() != id {
			return WriteResult{}, &Error{Code: CodeIDMismatch, Index: -1,
				Msg: fmt.Sprintf("merge patch _id %s does not match the path's %q (a patch cannot change or remove _id)", jsondoc.AppendJSON(nil, idv), id)}
		}
	}
	if p := db.proposer(ctx); p != nil {
		r, err := propose(ctx, p, &WriteCommand{Kind: CmdMergePatch, Col: col, ID: id, Bodies: [][]byte{patch}, Opts: opts})
		return r.One, err
	}
	op := &docOp{id: id, op: OpUpdate, needOld: true, apply: func(old *jsondoc.Value, exists bool, oldRev uint64) (*jsondoc.Value, error) {
		if err := checkPreconditions(col, id, exists, oldRev, opts); err != nil {
			return nil, err
		}
		base := jsondoc.Object([]jsondoc.Member{{Key: "_id", Value: jsondoc.String(id)}})
		if old != nil {
			base = *old
		} else if !opts.Upsert {
			return nil, &Error{Code: CodeNotFound, Index: -1, Msg: fmt.Sprintf("document %q not found in %q", id, col)}
		}
		// The merged document is checked like any stored document.
		nv, _, err := db.parseDoc(ctx, jsondoc.AppendJSON(nil, mergePatch(base, p)), id, -1)
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
		return UpsertResult{}, errf(CodeInvalidUpdate, "an upsert needs update operators like {\"$set\": {...}}, not a replacement document")
	}
	if p := db.proposer(ctx); p != nil {
		r, err := propose(ctx, p, &WriteCommand{Kind: CmdUpsertMany, Col: col, Bodies: [][]byte{filter, update}})
		return r.Upsert, err
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
		seedID := newIDFor(ctx)
		if idv, has := seed.Field("_id"); has && idv.Kind() == jsondoc.KindString {
			seedID = idv.Str()
		}
		seed, _, err = db.normalizeDoc(ctx, seed, seedID, -1)
		if err != nil {
			return UpsertResult{}, err
		}
		nv, err := db.applyInsert(u, nil, seed, seedID)
		if err != nil {
			return UpsertResult{}, err
		}
		// The insert is the command's last batch: it stores the applied
		// index, so a crash after it cannot make a re-run, finding the
		// document written (its revision the entry's), insert another.
		st := applyStateOf(ctx)
		if st != nil {
			st.single = true
		}
		wr, err := db.putDoc(ctx, col, seedID, *nv, WriteOptions{Insert: true})
		if st != nil && !st.stored {
			st.single = false
		}
		var de *Error
		if errors.As(err, &de) && de.Code == CodeDuplicateKey && attempt < 2 {
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
			return doc, errf(CodeInvalidQuery, "filter.%s: invalid field path", m.Key)
		}
		if doc, err = doc.SetPath(segs, v); err != nil {
			return doc, errf(CodeInvalidUpdate, "cannot build the upsert document from filter field %q: %v", m.Key, err)
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

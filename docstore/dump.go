package docstore

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/minidbgo/minidbgo/docstore/internal/jsondoc"
	"github.com/minidbgo/minidbgo/docstore/internal/keyenc"
	"github.com/minidbgo/minidbgo/storage"
)

// The dump format is NDJSON, one object per line:
//
//	{"dump":1,"seq":1234}
//	{"collection":"users","index":{"name":"age_1","fields":[{"path":"age"}]}}
//	{"collection":"users","doc":{"_id":"u1","age":36}}
//
// The header line says the format version (1) and the change feed's seq
// the dump's snapshot was taken at: the dump holds exactly the writes of
// the changes up to seq, so a follower of the source that loaded it goes on
// from since=seq. Restore checks the version and otherwise ignores the
// header (dumps without one, from earlier releases, restore too): the
// records of the source are not carried over, the restore's own writes are
// recorded. Index lines come before a collection's documents, so a restore
// builds indexes as it loads. An empty collection without indexes is a
// line with only "collection". Export writes bare documents, one per line.

// DumpStats reports a dump or restore.
type DumpStats struct {
	Collections int   `json:"collections"`
	Documents   int64 `json:"documents"`
	Indexes     int   `json:"indexes"`
	Bytes       int64 `json:"bytes"`
	// Seq is, for Dump, the feed seq its snapshot was taken at (the
	// header's "seq"); for Restore, the seq of the dump's header (the
	// source's), 0 without one.
	Seq uint64 `json:"seq"`
}

// dumpVersion is the dump format's version, in its header.
const dumpVersion = 1

// Dump writes every collection, from one consistent snapshot, as NDJSON.
// Memory is bounded by one document whatever the database's size.
func (db *DB) Dump(ctx context.Context, w io.Writer) (DumpStats, error) {
	snap := db.engine.NewSnapshot()
	defer snap.Close()
	bw := bufio.NewWriterSize(w, 64<<10)
	st := DumpStats{Seq: snap.Seq()}
	header := fmt.Appendf(nil, `{"dump":%d,"seq":%d}`+"\n", dumpVersion, st.Seq)
	if _, err := bw.Write(header); err != nil {
		return st, err
	}
	st.Bytes += int64(len(header))
	// Collections and their index specs, from the snapshot's metadata.
	it := snap.NewIter(&storage.IterOptions{Prefix: keyenc.MetaPrefix()})
	type colMeta struct {
		name string
		meta collectionMeta
	}
	var cols []colMeta
	for ok := it.First(); ok; ok = it.Next() {
		if err := ctxErr(ctx, "dump"); err != nil {
			it.Close()
			return st, err
		}
		name, _, err := keyenc.DecodeString(it.Key()[1:])
		if err != nil {
			it.Close()
			return st, err
		}
		var m collectionMeta
		if err := json.Unmarshal(it.Value(), &m); err != nil {
			it.Close()
			return st, err
		}
		cols = append(cols, colMeta{name, m})
	}
	if err := it.Close(); err != nil {
		return st, err
	}
	line := make([]byte, 0, 4096)
	// emit writes {"collection":col} or {"collection":col,"field":value}.
	emit := func(colJSON []byte, field string, value []byte) error {
		line = append(line[:0], `{"collection":`...)
		line = append(line, colJSON...)
		if field != "" {
			line = append(line, `,"`...)
			line = append(line, field...)
			line = append(line, `":`...)
			line = append(line, value...)
		}
		line = append(line, "}\n"...)
		n, err := bw.Write(line)
		st.Bytes += int64(n)
		return err
	}
	for _, c := range cols {
		st.Collections++
		colJSON, _ := json.Marshal(c.name)
		for _, spec := range c.meta.Indexes {
			// A building index is dumped too: restore builds it.
			specJSON, _ := json.Marshal(spec)
			if err := emit(colJSON, "index", specJSON); err != nil {
				return st, err
			}
			st.Indexes++
		}
		exp := db.specView(c.meta.Indexes)
		dit := snap.NewIter(&storage.IterOptions{Prefix: keyenc.DocPrefix(c.name)})
		// lines says whether the collection has a line yet: an empty
		// one (or one whose documents have all expired) still exists,
		// and with no index and no document it gets a line of its own,
		// so restore recreates it.
		lines := len(c.meta.Indexes) > 0
		for ok := dit.First(); ok; ok = dit.Next() {
			if st.Documents%checkEvery == 0 {
				if err := ctxErr(ctx, "dump"); err != nil {
					dit.Close()
					return st, err
				}
			}
			_, js, err := decodeStored(dit.Value())
			var expired bool
			if err == nil {
				expired, err = exp.expired(js)
			}
			if expired {
				continue // an expired document is gone for readers
			}
			if err == nil {
				err = emit(colJSON, "doc", js)
			}
			if err != nil {
				dit.Close()
				return st, err
			}
			st.Documents++
			lines = true
		}
		if err := dit.Close(); err != nil {
			return st, err
		}
		if !lines {
			if err := emit(colJSON, "", nil); err != nil {
				return st, err
			}
		}
	}
	return st, bw.Flush()
}

// Restore reads what Dump wrote and stores it: documents are upserted in
// batches, indexes created. Objects may be separated by newlines or not.
// A bad object stops the restore with an Error whose Index is the 1-based
// line it starts on; objects before it are stored.
func (db *DB) Restore(ctx context.Context, r io.Reader) (DumpStats, error) {
	var st DumpStats
	lr := newValueReader(r, db.opts.MaxDocumentBytes+4096)
	seenCols := map[string]bool{}
	var pendingCol string
	var pending [][]byte
	var pendingBytes int
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		if _, err := db.upsertMany(ctx, pendingCol, pending); err != nil {
			return err
		}
		st.Documents += int64(len(pending))
		pending, pendingBytes = pending[:0], 0
		return nil
	}
	for {
		line, n, err := lr.next()
		if err == io.EOF {
			break
		}
		if isCtxErr(err) {
			return st, err
		}
		if err != nil {
			return st, &Error{Code: CodeBadRequest, Index: n, Msg: fmt.Sprintf("line %d: %v", n, err), Err: err}
		}
		st.Bytes += int64(len(line)) + 1
		v, err := jsondoc.ParseDocument(line, db.limits)
		if err != nil {
			return st, lineError(n, jsonError(err, -1))
		}
		colV, hasCol := v.Field("collection")
		if verV, ok := v.Field("dump"); ok && !hasCol {
			if verV.Kind() != jsondoc.KindNumber || verV.NumberLiteral() != fmt.Sprint(dumpVersion) {
				return st, lineError(n, errf(CodeBadRequest, "dump format %s is not supported (this release reads format %d)", jsondoc.AppendJSON(nil, verV), dumpVersion))
			}
			if seqV, ok := v.Field("seq"); ok && seqV.Kind() == jsondoc.KindNumber {
				st.Seq, _ = strconv.ParseUint(seqV.NumberLiteral(), 10, 64)
			}
			continue
		}
		if colV.Kind() != jsondoc.KindString || !ValidName(colV.Str()) {
			return st, lineError(n, errf(CodeBadRequest, "\"collection\" must be a valid collection name"))
		}
		col := colV.Str()
		if !seenCols[col] {
			seenCols[col] = true
			st.Collections++
		}
		if ixV, ok := v.Field("index"); ok {
			if err := flush(); err != nil {
				return st, lineError(n, err)
			}
			spec, err := ParseIndexSpec(indexSpecBody(ixV))
			if err != nil {
				return st, lineError(n, err)
			}
			if err := db.CreateIndex(ctx, col, spec, nil); err != nil {
				return st, lineError(n, err)
			}
			st.Indexes++
			continue
		}
		docV, ok := v.Field("doc")
		if !ok && len(v.Members()) == 1 {
			if err := flush(); err != nil {
				return st, lineError(n, err)
			}
			if err := db.createCollection(col); err != nil {
				return st, lineError(n, err)
			}
			continue
		}
		if !ok || docV.Kind() != jsondoc.KindObject {
			return st, lineError(n, errf(CodeBadRequest, "a dump line needs \"doc\" (an object) or \"index\""))
		}
		if col != pendingCol || len(pending) >= db.opts.MaxBatchDocs || pendingBytes >= streamBatchBytes {
			if err := flush(); err != nil {
				return st, lineError(n, err)
			}
			pendingCol = col
		}
		pending = append(pending, jsondoc.AppendJSON(nil, docV))
		pendingBytes += len(pending[len(pending)-1])
	}
	if err := flush(); err != nil {
		return st, err
	}
	return st, nil
}

// indexSpecBody converts a dumped spec ({"name","fields":[{"path","desc"}],
// "unique"}) into the form ParseIndexSpec reads.
func indexSpecBody(v jsondoc.Value) []byte {
	var spec IndexSpec
	_ = json.Unmarshal(jsondoc.AppendJSON(nil, v), &spec)
	fields := make([]string, 0, len(spec.Fields))
	for _, f := range spec.Fields {
		if f.Desc {
			fields = append(fields, "-"+f.Path)
		} else {
			fields = append(fields, f.Path)
		}
	}
	body := map[string]any{"name": spec.Name, "fields": fields, "unique": spec.Unique}
	if spec.ExpireAfterSeconds != nil {
		body["expireAfterSeconds"] = *spec.ExpireAfterSeconds
	}
	b, _ := json.Marshal(body)
	return b
}

func lineError(n int, err error) error {
	if isCtxErr(err) {
		return err // the caller's context ended: not the line's fault
	}
	var e *Error
	if errors.As(err, &e) {
		return &Error{Code: e.Code, Index: n, Msg: fmt.Sprintf("line %d: %s", n, e.Msg), Err: err}
	}
	return &Error{Code: CodeBadRequest, Index: n, Msg: fmt.Sprintf("line %d: %v", n, err), Err: err}
}

// upsertMany is InsertMany without the create-only duplicate check:
// later lines with the same _id win.
func (db *DB) upsertMany(ctx context.Context, col string, bodies [][]byte) ([]WriteResult, error) {
	// Keep the last version of each _id within the chunk.
	ids := make(map[string]int, len(bodies))
	var keep [][]byte
	for _, b := range bodies {
		v, err := jsondoc.ParseDocument(b, db.limits)
		if err != nil {
			return nil, jsonError(err, -1)
		}
		idv, _ := v.Field("_id")
		if idv.Kind() == jsondoc.KindString {
			if i, ok := ids[idv.Str()]; ok {
				keep[i] = b
				continue
			}
			ids[idv.Str()] = len(keep)
		}
		keep = append(keep, b)
	}
	return db.InsertMany(ctx, col, keep)
}

// Export writes one collection's documents as NDJSON, from a snapshot.
func (db *DB) Export(ctx context.Context, col string, w io.Writer) (int64, error) {
	if err := checkName("collection", col); err != nil {
		return 0, err
	}
	if db.getCollection(col) == nil {
		return 0, errf(CodeNotFound, "collection %q not found", col)
	}
	exp := db.expiryView(db.getCollection(col))
	snap := db.engine.NewSnapshot()
	defer snap.Close()
	bw := bufio.NewWriterSize(w, 64<<10)
	it := snap.NewIter(&storage.IterOptions{Prefix: keyenc.DocPrefix(col)})
	var n int64
	for ok := it.First(); ok; ok = it.Next() {
		if n%checkEvery == 0 {
			if err := ctxErr(ctx, "export"); err != nil {
				it.Close()
				return n, err
			}
		}
		_, js, err := decodeStored(it.Value())
		var expired bool
		if err == nil {
			expired, err = exp.expired(js)
		}
		if err != nil {
			it.Close()
			return n, err
		}
		if expired {
			continue
		}
		if _, err := bw.Write(js); err != nil {
			it.Close()
			return n, err
		}
		if err := bw.WriteByte('\n'); err != nil {
			it.Close()
			return n, err
		}
		n++
	}
	if err := it.Close(); err != nil {
		return n, err
	}
	return n, bw.Flush()
}

// streamBatchBytes bounds the bytes of a Restore's or an Import's batch
// (besides Options.MaxBatchDocs documents): a stream holds at most this
// plus one document, whatever its documents' sizes.
const streamBatchBytes = 1 << 20

// Import reads NDJSON documents into a collection (upserting), in batches.
// A bad line stops it with an Error whose Index is the line number.
func (db *DB) Import(ctx context.Context, col string, r io.Reader) (int64, error) {
	if err := checkName("collection", col); err != nil {
		return 0, err
	}
	lr := newValueReader(r, db.opts.MaxDocumentBytes+1)
	var pending [][]byte
	var pendingBytes int
	var n int64
	firstLine := 0
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		if _, err := db.upsertMany(ctx, col, pending); err != nil {
			var e *Error
			if errors.As(err, &e) && e.Index >= 0 {
				return lineError(firstLine+e.Index, err)
			}
			return err
		}
		n += int64(len(pending))
		pending, pendingBytes = pending[:0], 0
		return nil
	}
	for {
		line, ln, err := lr.next()
		if err == io.EOF {
			break
		}
		if isCtxErr(err) {
			return n, err
		}
		if err != nil {
			code := CodeBadRequest
			if errors.Is(err, errNotObject) {
				code = CodeDocumentMustBeObject
			}
			return n, &Error{Code: code, Index: ln, Msg: fmt.Sprintf("line %d: %v", ln, err), Err: err}
		}
		if _, err := jsondoc.ParseDocument(line, db.limits); err != nil {
			return n, lineError(ln, jsonError(err, -1))
		}
		if len(pending) == 0 {
			firstLine = ln
		}
		pending = append(pending, bytes.Clone(line))
		pendingBytes += len(line)
		if len(pending) >= db.opts.MaxBatchDocs || pendingBytes >= streamBatchBytes {
			if err := flush(); err != nil {
				return n, err
			}
		}
	}
	return n, flush()
}

// errNotObject is what valueReader reports for a value that is not an
// object.
var errNotObject = errors.New("expected a JSON object")

// valueReader splits a stream into top-level JSON objects, whether or not
// newlines separate them (curl -d @file strips newlines), with a bound on
// each object's size. It tracks only nesting and strings; each object is
// then parsed strictly.
type valueReader struct {
	r     *bufio.Reader
	max   int
	line  int // 1-based line of the next byte
	count int // objects read
	buf   []byte
}

func newValueReader(r io.Reader, max int) *valueReader {
	return &valueReader{r: bufio.NewReaderSize(r, 64<<10), max: max, line: 1}
}

// next returns the next object's bytes and the line it starts on.
func (v *valueReader) next() ([]byte, int, error) {
	// Skip whitespace.
	var c byte
	var err error
	for {
		c, err = v.r.ReadByte()
		if err != nil {
			return nil, v.line, err // io.EOF at the clean end
		}
		if c == '\n' {
			v.line++
			continue
		}
		if c == ' ' || c == '\t' || c == '\r' {
			continue
		}
		break
	}
	start := v.line
	v.count++
	if c != '{' {
		return nil, start, fmt.Errorf("value %d: %w, found %q", v.count, errNotObject, c)
	}
	v.buf = append(v.buf[:0], c)
	depth, inStr, esc := 1, false, false
	for depth > 0 {
		c, err = v.r.ReadByte()
		if err == io.EOF {
			return nil, start, fmt.Errorf("value %d: unexpected end of input inside an object", v.count)
		}
		if err != nil {
			return nil, start, err
		}
		v.buf = append(v.buf, c)
		if len(v.buf) > v.max {
			return nil, start, fmt.Errorf("value %d: object longer than %d bytes", v.count, v.max)
		}
		if c == '\n' {
			v.line++
		}
		switch {
		case esc:
			esc = false
		case inStr && c == '\\':
			esc = true
		case c == '"':
			inStr = !inStr
		case inStr:
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
		}
	}
	return v.buf, start, nil
}

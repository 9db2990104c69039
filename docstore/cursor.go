package docstore

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"

	"github.com/minidbgo/minidbgo/docstore/internal/jsondoc"
	"github.com/minidbgo/minidbgo/docstore/internal/query"
)

// A cursor token carries its whole query, so the server keeps no state
// between pages and a token alone continues the query (MongoDB's
// getMore), while a token sent with another query is refused:
//
//	token = base64url(state | mac)
//	state = JSON {"v": 1, "c": collection, "f": filter, "s": sort,
//	              "p": projection, "n": page size, "x": plan,
//	              "k": last index or document key   (a streaming plan)
//	              "o": last sort fields, "i": last _id  (an in-memory sort)}
//	mac   = HMAC-SHA256(cursorKey, "minidbgo cursor v1" 0x00 | state)[:16]
//
// The filter, sort and projection are canonical (compact JSON, the sort
// rebuilt from its parsed fields, a "fields" string turned into its
// projection object), so the same query written another way is the same
// query. The plan is the access path the first page chose (the index with
// its fields, and whether the sort is by index or in memory); later pages
// read the same path, even if an index was created or dropped since, and a
// cursor whose index is gone or changed is invalid_cursor.
//
// cursorKey is 32 random bytes drawn when the DB is opened and never
// stored: a token is only accepted by the DB that issued it, a changed or
// truncated token fails the MAC before anything in it is read, and after
// a restart every older cursor is invalid_cursor (restart the query, as
// with a MongoDB cursor after a restart). Nothing is kept per cursor, so
// any number of open cursors costs no server memory and none expires.

const cursorVersion = 1

// cursorMACLen is the bytes of the HMAC a token keeps: 128 bits.
const cursorMACLen = 16

// cursorState is what a cursor token carries.
type cursorState struct {
	V      int             `json:"v"`
	Col    string          `json:"c"`
	Filter json.RawMessage `json:"f"`
	Sort   json.RawMessage `json:"s,omitempty"`
	Proj   json.RawMessage `json:"p,omitempty"`
	Limit  int             `json:"n"`
	Plan   string          `json:"x"`
	Key    []byte          `json:"k,omitempty"`
	SortAt json.RawMessage `json:"o,omitempty"`
	ID     string          `json:"i,omitempty"`
}

// queryForm is a query's canonical filter, sort and projection: two
// queries are the same query when their forms are equal.
type queryForm struct {
	filter, sort, proj []byte
}

func (a queryForm) equal(b queryForm) bool {
	return bytes.Equal(a.filter, b.filter) && bytes.Equal(a.sort, b.sort) && bytes.Equal(a.proj, b.proj)
}

// sortForm is a sort's canonical JSON, {"path": 1 or -1, ...}; nil
// without a sort.
func sortForm(s *query.Sort) []byte {
	if s == nil {
		return nil
	}
	ms := make([]jsondoc.Member, 0, len(s.Fields()))
	for _, f := range s.Fields() {
		dir := jsondoc.Int(1)
		if f.Desc {
			dir = jsondoc.Int(-1)
		}
		ms = append(ms, jsondoc.Member{Key: f.Path, Value: dir})
	}
	return jsondoc.AppendJSON(nil, jsondoc.Object(ms))
}

func newCursorKey() [32]byte {
	var k [32]byte
	_, _ = rand.Read(k[:]) // crypto/rand.Read never fails
	return k
}

func (db *DB) cursorMAC(state []byte) []byte {
	m := hmac.New(sha256.New, db.cursorKey[:])
	m.Write([]byte("minidbgo cursor v1\x00"))
	m.Write(state)
	return m.Sum(nil)[:cursorMACLen]
}

// sealCursor encodes and authenticates a cursor state.
func (db *DB) sealCursor(st *cursorState) string {
	st.V = cursorVersion
	raw, _ := json.Marshal(st)
	return base64.RawURLEncoding.EncodeToString(append(raw, db.cursorMAC(raw)...))
}

// errBadCursor is the answer for any token that is not one this DB
// issued, intact. It says nothing of what the token decoded to.
func errBadCursor() error {
	return errf(CodeInvalidCursor, "cursor is not valid: it was changed or cut short, or was issued before the server restarted; restart the query without a cursor")
}

// openCursor authenticates a token issued for collection col and returns
// the state it carries.
func (db *DB) openCursor(col, tok string) (*cursorState, error) {
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimSpace(tok))
	if err != nil || len(raw) <= cursorMACLen {
		return nil, errBadCursor()
	}
	state, mac := raw[:len(raw)-cursorMACLen], raw[len(raw)-cursorMACLen:]
	if !hmac.Equal(mac, db.cursorMAC(state)) {
		return nil, errBadCursor()
	}
	var st cursorState
	if err := json.Unmarshal(state, &st); err != nil || st.V != cursorVersion || len(st.Filter) == 0 {
		return nil, errBadCursor()
	}
	if st.Col != col {
		return nil, errf(CodeInvalidCursor, "cursor was issued for a query on another collection; send it to the collection it came from")
	}
	return &st, nil
}

// cursorAlone reports whether q gives a cursor and no query of its own,
// so the cursor's query applies.
func cursorAlone(q Query) bool {
	return len(bytes.TrimSpace(q.Filter)) == 0 && len(bytes.TrimSpace(q.Sort)) == 0 &&
		strings.TrimSpace(q.SortString) == "" && len(bytes.TrimSpace(q.Projection)) == 0 &&
		strings.TrimSpace(q.Fields) == ""
}

// NextToken returns a token that resumes the query after the last
// document returned, or "" when no results remain. Call it after Next
// returned false. The token carries the query (see cursorState): it alone
// continues the query.
func (c *Cursor) NextToken() string {
	if !c.more || c.last == nil {
		return ""
	}
	st := cursorState{Col: c.p.col, Filter: c.form.filter, Sort: c.form.sort, Proj: c.form.proj, Limit: c.limit, Plan: c.p.signature()}
	c.pg.mark(&st, c.last)
	return c.db.sealCursor(&st)
}

// sortFieldsOf copies the top-level fields a sort reads.
func sortFieldsOf(doc jsondoc.Value, s *query.Sort) []byte {
	var ms []jsondoc.Member
	seen := map[string]bool{}
	for _, f := range s.Fields() {
		top := f.Path
		if i := bytes.IndexByte([]byte(top), '.'); i >= 0 {
			top = top[:i]
		}
		if seen[top] {
			continue
		}
		seen[top] = true
		if v, ok := doc.Field(top); ok {
			ms = append(ms, jsondoc.Member{Key: top, Value: v})
		}
	}
	return jsondoc.AppendJSON(nil, jsondoc.Object(ms))
}

// EndPageBefore ends the page before the current document, with which
// the page of NextToken then starts: a server ends a page early so when it
// has no memory for more. It reports false, and changes nothing, when the
// current document is the page's first: a page is never empty.
func (c *Cursor) EndPageBefore() bool {
	if c.closed || c.err != nil || c.ended || c.returned < 2 {
		return false
	}
	c.last, c.prev = c.prev, nil
	c.returned--
	c.stats.NReturned--
	c.more, c.ended = true, true
	c.cur, c.curID = nil, ""
	return true
}

// Doc returns the current document's JSON (projected).
func (c *Cursor) Doc() []byte { return c.cur }

// ID returns the current document's _id.
func (c *Cursor) ID() string { return c.curID }

// Err returns the error that stopped the cursor.
func (c *Cursor) Err() error { return c.err }

// Explain returns the plan and the work done so far.
func (c *Cursor) Explain() Explanation { return c.stats }

// Close releases the cursor's snapshot and iterators.
func (c *Cursor) Close() error {
	if c.closed {
		return nil
	}
	c.closed = true
	if c.m.src != nil {
		if err := c.m.src.close(); err != nil && c.err == nil {
			c.err = err
		}
	}
	if c.snap != nil {
		_ = c.snap.Close()
	}
	c.pg.close()
	return c.err
}

package httpd

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/minidbgo/minidbgo/docstore"
	"github.com/minidbgo/minidbgo/httpd/client/api"
)

func TestCollections(t *testing.T) {
	e := newEnv(t, envOptions{})
	r := mustStatus(t, e.do("GET", "/api/_collections", nil), http.StatusOK)
	require.Equal(t, "[]\n", string(r.body))
	e.seed()
	mustStatus(t, e.do("POST", "/api/users", `{"_id":"u1"}`), http.StatusCreated)
	var cols []api.Collection
	mustStatus(t, e.do("GET", "/api/_collections", nil), http.StatusOK).json(t, &cols)
	require.Len(t, cols, 2)
	require.Equal(t, "products", cols[0].Name)
	require.Equal(t, int64(4), cols[0].DocCount)
	require.Positive(t, cols[0].ByteSize)
	require.Equal(t, api.Collection{Name: "users", DocCount: 1, ByteSize: int64(len(`{"_id":"u1"}`))}, cols[1])

	var c api.Collection
	mustStatus(t, e.do("GET", "/api/users", nil), http.StatusOK).json(t, &c)
	require.Equal(t, cols[1], c)
	errorBody(t, e.do("GET", "/api/nope", nil), http.StatusNotFound, "not_found")
	errorBody(t, e.do("GET", "/api/n.pe", nil), http.StatusBadRequest, "invalid_name")

	r = mustStatus(t, e.do("DELETE", "/api/users", nil), http.StatusOK)
	require.JSONEq(t, `{"collection":"users","dropped":true}`, string(r.body))
	errorBody(t, e.do("DELETE", "/api/users", nil), http.StatusNotFound, "not_found")
	errorBody(t, e.do("GET", "/api/users/u1", nil), http.StatusNotFound, "not_found")
	mustStatus(t, e.do("GET", "/api/_collections", nil), http.StatusOK).json(t, &cols)
	require.Len(t, cols, 1)
}

func TestIndexes(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.seed()
	r := mustStatus(t, e.do("GET", "/api/products/_indexes", nil), http.StatusOK)
	require.Equal(t, "[]\n", string(r.body))
	errorBody(t, e.do("GET", "/api/nope/_indexes", nil), http.StatusNotFound, "not_found")

	var ix api.Index
	mustStatus(t, e.do("POST", "/api/products/_indexes", `{"fields":["category","-price"],"unique":false,"name":"cat_price"}`), http.StatusCreated).json(t, &ix)
	require.Equal(t, api.Index{Name: "cat_price", Fields: []api.IndexField{{Path: "category"}, {Path: "price", Desc: true}}}, ix)
	// The same again is 200; the same name with other fields 409.
	mustStatus(t, e.do("POST", "/api/products/_indexes", `{"fields":["category","-price"],"name":"cat_price"}`), http.StatusOK)
	errorBody(t, e.do("POST", "/api/products/_indexes", `{"fields":["name"],"name":"cat_price"}`), http.StatusConflict, "exists")
	errorBody(t, e.do("POST", "/api/products/_indexes", `{"fields":[]}`), http.StatusBadRequest, "bad_request")
	errorBody(t, e.do("POST", "/api/products/_indexes", `{"fields":["a"],"name":"bad name"}`), http.StatusBadRequest, "invalid_name")
	errorBody(t, e.do("POST", "/api/products/_indexes", `{"fields":["a"],"colour":1}`), http.StatusBadRequest, "bad_request")

	// A unique index: building it over duplicates fails, writes that
	// would break it are 409.
	errorBody(t, e.do("POST", "/api/products/_indexes", `{"fields":["category"],"unique":true}`), http.StatusConflict, "unique_violation")
	mustStatus(t, e.do("POST", "/api/products/_indexes", `{"fields":["name"],"unique":true}`), http.StatusCreated).json(t, &ix)
	require.Equal(t, "name_1", ix.Name)
	require.True(t, ix.Unique)
	errorBody(t, e.do("POST", "/api/products", `{"_id":"p9","name":"lamp"}`), http.StatusConflict, "unique_violation")
	errorBody(t, e.do("POST", "/api/products/_insertMany", `[{"_id":"p8","name":"x"},{"_id":"p9","name":"x"}]`), http.StatusConflict, "unique_violation")

	var list []api.Index
	mustStatus(t, e.do("GET", "/api/products/_indexes", nil), http.StatusOK).json(t, &list)
	require.Len(t, list, 2)

	r = mustStatus(t, e.do("DELETE", "/api/products/_indexes/name_1", nil), http.StatusOK)
	require.JSONEq(t, `{"collection":"products","index":"name_1","dropped":true}`, string(r.body))
	errorBody(t, e.do("DELETE", "/api/products/_indexes/name_1", nil), http.StatusNotFound, "not_found")
	errorBody(t, e.do("DELETE", "/api/products/_indexes/bad%20name", nil), http.StatusBadRequest, "invalid_name")
	errorBody(t, e.do("DELETE", "/api/nope/_indexes/x", nil), http.StatusNotFound, "not_found")
	mustStatus(t, e.do("POST", "/api/products", `{"_id":"p9","name":"lamp"}`), http.StatusCreated)
}

func TestExportImport(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.seed()
	r := mustStatus(t, e.do("GET", "/api/products/_export", nil), http.StatusOK)
	require.Equal(t, "application/x-ndjson", r.header.Get("Content-Type"))
	lines := strings.Split(strings.TrimSpace(string(r.body)), "\n")
	require.Len(t, lines, 4)
	require.JSONEq(t, `{"_id":"p1","name":"lamp","category":"home","price":20}`, lines[0])
	errorBody(t, e.do("GET", "/api/nope/_export", nil), http.StatusNotFound, "not_found")

	// Import what was exported into another collection, as NDJSON and as
	// curl -d sends it (newlines stripped, form content type).
	var ir api.ImportResult
	mustStatus(t, e.do("POST", "/api/copy/_import", r.body, "Content-Type", "application/x-ndjson"), http.StatusOK).json(t, &ir)
	require.Equal(t, int64(4), ir.Imported)
	stripped := bytes.ReplaceAll(r.body, []byte("\n"), nil)
	mustStatus(t, e.do("POST", "/api/copy2/_import", stripped, "Content-Type", "application/x-www-form-urlencoded"), http.StatusOK).json(t, &ir)
	require.Equal(t, int64(4), ir.Imported)
	r2 := mustStatus(t, e.do("GET", "/api/copy2/_export", nil), http.StatusOK)
	require.Equal(t, string(r.body), string(r2.body))

	er := errorBody(t, e.do("POST", "/api/copy3/_import", "{\"_id\":\"a\"}\n{\"_id\":\"b\",\"x\":1,\"x\":2}\n", "Content-Type", "application/x-ndjson"), http.StatusBadRequest, "duplicate_key")
	require.Equal(t, 2, *er.Index, "the line number")
	errorBody(t, e.do("POST", "/api/copy/_import", "{}", "Content-Type", "text/csv"), http.StatusUnsupportedMediaType, "unsupported_media_type")
	errorBody(t, e.do("POST", "/api/b%21d/_import", "{}"), http.StatusBadRequest, "invalid_name")
}

func TestDumpRestore(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.seed()
	mustStatus(t, e.do("POST", "/api/products/_indexes", `{"fields":["category"]}`), http.StatusCreated)
	mustStatus(t, e.do("POST", "/api/users", `{"_id":"u1","n":1.50}`), http.StatusCreated)
	dump := mustStatus(t, e.do("GET", "/api/dumpDB", nil), http.StatusOK)
	require.Equal(t, "application/x-ndjson", dump.header.Get("Content-Type"))
	sc := bufio.NewScanner(bytes.NewReader(dump.body))
	n := 0
	for sc.Scan() {
		n++
	}
	require.Equal(t, 1+1+4+1, n, "the header, an index line and five documents")

	// Restore into an empty server, newline-stripped as curl -d @file sends it.
	e2 := newEnv(t, envOptions{})
	var st api.DumpStats
	mustStatus(t, e2.do("POST", "/api/restoreDB", bytes.ReplaceAll(dump.body, []byte("\n"), nil),
		"Content-Type", "application/x-www-form-urlencoded"), http.StatusOK).json(t, &st)
	require.Equal(t, api.DumpStats{Collections: 2, Documents: 5, Indexes: 1, Bytes: st.Bytes}, st)
	dump2 := mustStatus(t, e2.do("GET", "/api/dumpDB", nil), http.StatusOK)
	require.Equal(t, dumpBody(t, dump.body), dumpBody(t, dump2.body))

	// And as NDJSON, and with no content type: idempotent.
	mustStatus(t, e2.do("POST", "/api/restoreDB", dump.body, "Content-Type", "application/x-ndjson"), http.StatusOK)
	mustStatus(t, e2.do("POST", "/api/restoreDB", dump.body, "Content-Type", ""), http.StatusOK)
	require.Equal(t, dumpBody(t, dump.body), dumpBody(t, e2.do("GET", "/api/dumpDB", nil).body))

	before := e2.state()
	er := errorBody(t, e2.do("POST", "/api/restoreDB", "\n\n{\"collection\":\"x\",\"what\":1}"), http.StatusBadRequest, "bad_request")
	require.Equal(t, 3, *er.Index)
	errorBody(t, e2.do("POST", "/api/restoreDB", `{"collection":"x","doc":{"a":`), http.StatusBadRequest, "bad_request")
	errorBody(t, e2.do("POST", "/api/restoreDB", `[1]`), http.StatusBadRequest, "bad_request")
	errorBody(t, e2.do("POST", "/api/restoreDB", `{}`, "Content-Type", "text/plain"), http.StatusUnsupportedMediaType, "unsupported_media_type")
	require.Equal(t, before, e2.state())
	// An empty body restores nothing.
	mustStatus(t, e2.do("POST", "/api/restoreDB", ``), http.StatusOK).json(t, &st)
	require.Equal(t, api.DumpStats{}, st)
}

// TestCreateIndexWhileBuilding asks for an index that is still building:
// the answer is 202 with its progress, at once, not a 200 claiming it
// exists; listing shows the progress too.
func TestCreateIndexWhileBuilding(t *testing.T) {
	e := newEnv(t, envOptions{})
	var docs []string
	for i := range 1200 {
		docs = append(docs, fmt.Sprintf(`{"_id":"%04d","k":%d}`, i, i))
	}
	for i := 0; i < len(docs); i += 400 {
		mustStatus(t, e.do("POST", "/api/c/_insertMany", "["+strings.Join(docs[i:i+400], ",")+"]"), http.StatusCreated)
	}
	spec, err := docstore.ParseIndexSpec([]byte(`{"name":"k_1","fields":["k"]}`))
	require.NoError(t, err)
	paused, resume, built := make(chan struct{}), make(chan struct{}), make(chan error)
	go func() {
		var once sync.Once
		built <- e.db.CreateIndex(context.Background(), "c", spec, func(int64) {
			once.Do(func() { close(paused); <-resume })
		})
	}()
	<-paused
	var ix api.Index
	mustStatus(t, e.do("POST", "/api/c/_indexes", `{"name":"k_1","fields":["k"]}`), http.StatusAccepted).json(t, &ix)
	require.True(t, ix.Building)
	require.Equal(t, &api.IndexProgress{Indexed: 500, Total: 1200}, ix.Progress)
	var list []api.Index
	mustStatus(t, e.do("GET", "/api/c/_indexes", nil), http.StatusOK).json(t, &list)
	require.Len(t, list, 1)
	require.Equal(t, ix, list[0])
	// Another index under that name is still a conflict.
	errorBody(t, e.do("POST", "/api/c/_indexes", `{"name":"k_1","fields":["-k"]}`), http.StatusConflict, "exists")
	close(resume)
	require.NoError(t, <-built)
	var done api.Index
	mustStatus(t, e.do("POST", "/api/c/_indexes", `{"name":"k_1","fields":["k"]}`), http.StatusOK).json(t, &done)
	require.Equal(t, api.Index{Name: "k_1", Fields: []api.IndexField{{Path: "k"}}}, done)
}

// dumpBody checks that a dump starts with its header line (the format and
// the feed seq its snapshot was taken at) and returns the rest, which two
// dumps of the same documents share whatever their seqs.
func dumpBody(t *testing.T, dump []byte) string {
	t.Helper()
	header, body, _ := strings.Cut(string(dump), "\n")
	require.Regexp(t, `^\{"dump":1,"seq":\d+\}$`, header)
	return body
}

package badinput

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
)

// Setup describes the server the rows of Rows run against.
type Setup struct {
	// StaleETag is p1's ETag from before Seed rewrote it.
	StaleETag string
	// MaxBodyBytes is the server's body limit (MAX_BODY_MB).
	MaxBodyBytes int64
	// MaxBatch is the server's _insertMany limit (MAX_BATCH).
	MaxBatch int
}

// Rows returns the rows of RELIABILITY.md §4 that a server with the
// default configuration answers (1–21 and 29–31), then the rows added
// here, for a database prepared by Seed. Rows 22–25 need API keys and a
// rate limit (AuthRows), 14 and 26–28 a raw connection (RawRows).
func Rows(s Setup) []Row {
	deepArrays := strings.Repeat("[", 10001)
	deepObjects := strings.Repeat(`{"a":`, 65) + "1" + strings.Repeat("}", 65)
	// The body limit plus one byte.
	overLimit := `{"a":"` + strings.Repeat("x", int(s.MaxBodyBytes)-7) + `"}`
	long := strings.Repeat("x", 1025)
	return []Row{
		{N: 1, Name: "truncated JSON", Method: "POST", Path: "/api/products", Body: `{"a":`, Status: 400, Code: "invalid_json", Also: message("at byte 5")},
		{N: 2, Name: "empty PUT body", Method: "PUT", Path: "/api/products/p1", Body: ``, Status: 400, Code: "empty_body"},
		{N: 3, Name: "two values", Method: "POST", Path: "/api/products", Body: `{"a":1}{"b":2}`, Status: 400, Code: "trailing_data"},
		{N: 4, Name: "duplicate key", Method: "POST", Path: "/api/products", Body: `{"a":1,"a":2}`, Status: 400, Code: "duplicate_key"},
		{N: 5, Name: "raw 0xFF in a string", Method: "POST", Path: "/api/products", Body: "{\"a\":\"\xff\"}", Status: 400, Code: "invalid_utf8"},
		{N: 6, Name: "lone surrogate", Method: "POST", Path: "/api/products", Body: `{"a":"\ud800"}`, Status: 400, Code: "invalid_utf8"},
		{N: 7, Name: "10,001 nested [", Method: "POST", Path: "/api/products", Body: `{"a":` + deepArrays, Status: 400, Code: "too_deep"},
		{N: 7, Name: "10,001 nested [ at the top", Method: "POST", Path: "/api/products", Body: deepArrays, Status: 400, Code: "too_deep"},
		{N: 8, Name: "65 nested objects", Method: "POST", Path: "/api/products", Body: deepObjects, Status: 400, Code: "too_deep"},
		{N: 9, Name: "1e400", Method: "POST", Path: "/api/products", Body: `{"a":1e400}`, Status: 400, Code: "number_out_of_range"},
		{N: 10, Name: "9007199254740993 is kept exactly", Writes: true, Exchange: exactNumber},
		{N: 11, Name: "NaN", Method: "POST", Path: "/api/products", Body: `{"a":NaN}`, Status: 400, Code: "invalid_json"},
		{N: 11, Name: "Infinity", Method: "POST", Path: "/api/products", Body: `{"a":Infinity}`, Status: 400, Code: "invalid_json"},
		{N: 11, Name: "-Infinity", Method: "POST", Path: "/api/products", Body: `{"a":-Infinity}`, Status: 400, Code: "invalid_json"},
		{N: 12, Name: "top-level []", Method: "POST", Path: "/api/products", Body: `[]`, Status: 400, Code: "document_must_be_object"},
		{N: 12, Name: `top-level "x"`, Method: "POST", Path: "/api/products", Body: `"x"`, Status: 400, Code: "document_must_be_object"},
		{N: 12, Name: "top-level null", Method: "PUT", Path: "/api/products/p1", Body: `null`, Status: 400, Code: "document_must_be_object"},
		{N: 13, Name: "body limit + 1", Method: "POST", Path: "/api/products", Body: overLimit, Status: 413, Code: "body_too_large"},
		{N: 15, Name: "text/plain write", Method: "POST", Path: "/api/products", Body: `{"a":1}`, Header: []string{"Content-Type", "text/plain"}, Status: 415, Code: "unsupported_media_type"},
		{N: 15, Name: "text/plain PUT", Method: "PUT", Path: "/api/products/p9", Body: `{"a":1}`, Header: []string{"Content-Type", "text/plain; charset=utf-8"}, Status: 415, Code: "unsupported_media_type"},
		{N: 15, Name: "multipart _insertMany", Method: "POST", Path: "/api/products/_insertMany", Body: `[{}]`, Header: []string{"Content-Type", "multipart/form-data; boundary=x"}, Status: 415, Code: "unsupported_media_type"},
		{N: 15, Name: "malformed content type", Method: "POST", Path: "/api/products", Body: `{}`, Header: []string{"Content-Type", "/;;"}, Status: 415, Code: "unsupported_media_type"},
		{N: 16, Name: "1 MiB field name", Method: "POST", Path: "/api/wide", Body: `{"` + strings.Repeat("k", 1<<20) + `":1}`, Status: 400},
		{N: 16, Name: "100k fields", Method: "POST", Path: "/api/wide", Body: manyFields(100000), Status: 400},
		{N: 17, Name: "body _id differs from the path's", Method: "PUT", Path: "/api/products/p1", Body: `{"_id":"p2","name":"x"}`, Status: 400, Code: "id_mismatch"},
		{N: 18, Name: "..%2F..%2Fetc", Method: "POST", Path: "/api/..%2F..%2Fetc", Body: `{"a":1}`, Status: 400, Code: "invalid_name"},
		{N: 18, Name: "..%2F..%2Fetc (GET)", Method: "GET", Path: "/api/..%2F..%2Fetc/passwd", Status: 400, Code: "invalid_name"},
		{N: 18, Name: "..%2Fetc in _find", Method: "POST", Path: "/api/..%2Fetc/_find", Body: `{}`, Status: 400, Code: "invalid_name"},
		{N: 19, Name: "%00 in a name", Method: "POST", Path: "/api/prod%00ucts", Body: `{"a":1}`, Status: 400, Code: "invalid_name"},
		{N: 19, Name: "%00 at the end", Method: "GET", Path: "/api/products%00/p1", Status: 400, Code: "invalid_name"},
		{N: 19, Name: "empty name", Method: "GET", Path: "/api//p1", Status: 400, Code: "invalid_name"},
		{N: 19, Name: "65 characters", Method: "POST", Path: "/api/" + strings.Repeat("c", 65), Body: `{"a":1}`, Status: 400, Code: "invalid_name"},
		{N: 19, Name: "65 characters, index", Method: "DELETE", Path: "/api/products/_indexes/" + strings.Repeat("i", 65), Status: 400, Code: "invalid_name"},
		{N: 20, Name: "unknown path", Method: "GET", Path: "/api/products/p1/extra", Status: 404, Code: "route_not_found"},
		{N: 20, Name: "unknown root", Method: "GET", Path: "/admin", Status: 404, Code: "route_not_found"},
		{N: 21, Name: "wrong method", Method: "PUT", Path: "/api/products", Body: `{}`, Status: 405, Code: "method_not_allowed", Also: header("Allow", "GET, HEAD, POST, DELETE")},
		{N: 21, Name: "wrong method on a static route", Method: "POST", Path: "/api/stats/x/y", Body: `{}`, Status: 404, Code: "route_not_found"},
		{N: 29, Name: "limit=-1", Method: "POST", Path: "/api/products/_search?limit=-1", Body: `{}`, Status: 400, Code: "invalid_parameter"},
		{N: 29, Name: "limit=1e9", Method: "POST", Path: "/api/products/_search?limit=1e9", Body: `{}`, Status: 400, Code: "invalid_parameter"},
		{N: 29, Name: "limit=abc", Method: "POST", Path: "/api/products/_search?limit=abc", Body: `{}`, Status: 400, Code: "invalid_parameter"},
		{N: 29, Name: "skip=-1", Method: "POST", Path: "/api/products/_search?skip=-1", Body: `{}`, Status: 400, Code: "invalid_parameter"},
		{N: 29, Name: "_find limit -1", Method: "POST", Path: "/api/products/_find", Body: `{"limit":-1}`, Status: 400, Code: "invalid_parameter"},
		{N: 29, Name: "_find limit 1e9", Method: "POST", Path: "/api/products/_find", Body: `{"limit":1e9}`, Status: 400, Code: "invalid_json"},
		{N: 29, Name: "a huge limit is capped", Method: "POST", Path: "/api/products/_search?limit=1000000000", Body: `{}`, Check: docCount(4)},
		{N: 30, Name: "stale If-Match (PUT)", Method: "PUT", Path: "/api/products/p1", Body: `{"name":"x"}`, Header: []string{"If-Match", s.StaleETag}, Status: 412, Code: "precondition_failed"},
		{N: 30, Name: "stale If-Match (PATCH)", Method: "PATCH", Path: "/api/products/p1", Body: `{"$set":{"x":1}}`, Header: []string{"If-Match", s.StaleETag}, Status: 412, Code: "precondition_failed"},
		{N: 30, Name: "stale If-Match (DELETE)", Method: "DELETE", Path: "/api/products/p1", Header: []string{"If-Match", s.StaleETag}, Status: 412, Code: "precondition_failed"},
		{N: 30, Name: "stale If-Match (POST)", Method: "POST", Path: "/api/products", Body: `{"_id":"p1"}`, Header: []string{"If-Match", s.StaleETag}, Status: 412, Code: "precondition_failed"},
		{N: 31, Name: "POST an existing id with If-None-Match: *", Method: "POST", Path: "/api/products", Body: `{"_id":"p1","name":"dup"}`, Header: []string{"If-None-Match", "*"}, Status: 412, Code: "exists"},
		{N: 31, Name: "PUT an existing id with If-None-Match: *", Method: "PUT", Path: "/api/products/p1", Body: `{"name":"dup"}`, Header: []string{"If-None-Match", "*"}, Status: 412, Code: "exists"},

		// Queries.
		{Name: "_find unknown operator $foo", Method: "POST", Path: "/api/products/_find", Body: `{"filter":{"price":{"$foo":1}}}`, Status: 400, Code: "invalid_query"},
		{Name: "_find $where", Method: "POST", Path: "/api/products/_find", Body: `{"filter":{"$where":"sleep(1000)"}}`, Status: 400, Code: "invalid_query"},
		{Name: "_find $in not an array", Method: "POST", Path: "/api/products/_find", Body: `{"filter":{"price":{"$in":5}}}`, Status: 400, Code: "invalid_query"},
		{Name: "_find $or not an array", Method: "POST", Path: "/api/products/_find", Body: `{"filter":{"$or":{}}}`, Status: 400, Code: "invalid_query"},
		{Name: "_find filter is an array", Method: "POST", Path: "/api/products/_find", Body: `{"filter":[]}`, Status: 400, Code: "invalid_query"},
		{Name: "_find invalid $regex", Method: "POST", Path: "/api/products/_find", Body: `{"filter":{"name":{"$regex":"("}}}`, Status: 400, Code: "invalid_query"},
		{Name: "_find $size -1", Method: "POST", Path: "/api/products/_find", Body: `{"filter":{"tags":{"$size":-1}}}`, Status: 400, Code: "invalid_query"},
		{Name: "_find sort direction 2", Method: "POST", Path: "/api/products/_find", Body: `{"sort":{"price":2}}`, Status: 400, Code: "invalid_sort"},
		{Name: "_find sort on one field twice", Method: "POST", Path: "/api/products/_find", Body: `{"sort":"price,price"}`, Status: 400, Code: "invalid_sort"},
		{Name: "_find mixed projection", Method: "POST", Path: "/api/products/_find", Body: `{"fields":{"a":1,"b":0}}`, Status: 400, Code: "invalid_projection"},
		{Name: "_find unknown body field", Method: "POST", Path: "/api/products/_find", Body: `{"filtr":{}}`, Status: 400, Code: "invalid_body"},
		{Name: "_find limit as a string", Method: "POST", Path: "/api/products/_find", Body: `{"limit":"5"}`, Status: 400, Code: "invalid_json"},
		{Name: "_find garbage cursor", Method: "POST", Path: "/api/products/_find", Body: `{"cursor":"garbage"}`, Status: 400, Code: "invalid_cursor"},
		{Name: "_find a cursor of another query", Exchange: foreignCursor},
		{Name: "_find skip 2^63-1 with an unindexed sort", Method: "POST", Path: "/api/products/_find", Body: `{"skip":` + strconv.Itoa(math.MaxInt) + `,"sort":{"name":-1}}`, Status: 400, Code: "bad_request"},
		{Name: "_explain skip 2^63-1 with an unindexed sort", Method: "POST", Path: "/api/products/_explain", Body: `{"skip":` + strconv.Itoa(math.MaxInt) + `,"sort":{"name":-1}}`, Status: 400, Code: "bad_request"},
		{Name: "_find skip 2^63-1", Method: "POST", Path: "/api/products/_find", Body: `{"skip":` + strconv.Itoa(math.MaxInt) + `}`, Check: docCount(0)},
		{Name: "_search ?sort=price:up", Method: "POST", Path: "/api/products/_search?sort=price:up", Body: `{}`, Status: 400, Code: "invalid_sort"},
		{Name: "_search ?cursor=%ff", Method: "POST", Path: "/api/products/_search?cursor=%ff", Body: `{}`, Status: 400, Code: "invalid_cursor"},
		{Name: "_search ?skip=2^64", Method: "POST", Path: "/api/products/_search?skip=18446744073709551616", Body: `{}`, Status: 400, Code: "invalid_parameter"},
		{Name: "_search unknown operator", Method: "POST", Path: "/api/products/_search", Body: `{"price":{"$bogus":1}}`, Status: 400, Code: "invalid_query"},
		{Name: "_count a filter without its key", Method: "POST", Path: "/api/products/_count", Body: `{"price":{"$gt":1}}`, Status: 400, Code: "invalid_body"},
		{Name: "_explain unknown operator", Method: "POST", Path: "/api/products/_explain", Body: `{"filter":{"price":{"$bogus":1}}}`, Status: 400, Code: "invalid_query"},

		// Updates.
		{Name: "PATCH $inc on a string", Method: "PATCH", Path: "/api/products/p1", Body: `{"$inc":{"name":1}}`, Status: 400, Code: "invalid_update"},
		{Name: "PATCH $inc by a string", Method: "PATCH", Path: "/api/products/p1", Body: `{"$inc":{"price":"1"}}`, Status: 400, Code: "invalid_update"},
		{Name: "PATCH $mul past float64", Method: "PATCH", Path: "/api/products/p1", Body: `{"$mul":{"price":1e308}}`, Status: 400, Code: "invalid_update"},
		{Name: "PATCH $set _id", Method: "PATCH", Path: "/api/products/p1", Body: `{"$set":{"_id":"p9"}}`, Status: 400, Code: "invalid_update"},
		{Name: "PATCH unknown operator $foo", Method: "PATCH", Path: "/api/products/p1", Body: `{"$foo":{"a":1}}`, Status: 400, Code: "invalid_update"},
		{Name: "PATCH $set and $unset on one field", Method: "PATCH", Path: "/api/products/p1", Body: `{"$set":{"a":1},"$unset":{"a":""}}`, Status: 400, Code: "invalid_update"},
		{Name: "PATCH $set an empty path segment", Method: "PATCH", Path: "/api/products/p1", Body: `{"$set":{"a.":1}}`, Status: 400, Code: "invalid_update"},
		{Name: "PATCH ?upsert=maybe", Method: "PATCH", Path: "/api/products/p1?upsert=maybe", Body: `{"$set":{"a":1}}`, Status: 400, Code: "invalid_parameter"},
		{Name: "PATCH a missing document", Method: "PATCH", Path: "/api/products/nosuch", Body: `{"$set":{"a":1}}`, Status: 404, Code: "not_found"},
		{Name: "_update $inc on a string", Method: "POST", Path: "/api/products/_update", Body: `{"filter":{"_id":"p1"},"update":{"$inc":{"name":1}}}`, Status: 400, Code: "invalid_update"},
		{Name: "_update a replacement document", Method: "POST", Path: "/api/products/_update", Body: `{"filter":{},"update":{"a":1}}`, Status: 400, Code: "invalid_update"},
		{Name: "_update without a filter", Method: "POST", Path: "/api/products/_update", Body: `{"update":{"$set":{"a":1}}}`, Status: 400, Code: "invalid_body"},
		{Name: "_update unknown operator in the filter", Method: "POST", Path: "/api/products/_update", Body: `{"filter":{"$bad":1},"update":{"$set":{"a":1}}}`, Status: 400, Code: "invalid_query"},
		{Name: "_delete without a filter", Method: "POST", Path: "/api/products/_delete", Body: `{}`, Status: 400, Code: "invalid_body"},
		{Name: "_delete unknown operator", Method: "POST", Path: "/api/products/_delete", Body: `{"filter":{"$bad":1}}`, Status: 400, Code: "invalid_query"},

		// Batches and streams.
		{Name: "_insertMany MAX_BATCH + 1 documents", Method: "POST", Path: "/api/products/_insertMany", Body: batch(s.MaxBatch + 1), Status: 413, Code: "too_many_documents"},
		{Name: "_insertMany one _id twice", Method: "POST", Path: "/api/products/_insertMany", Body: `[{"_id":"n1"},{"_id":"n1"}]`, Status: 400, Code: "duplicate_id", Also: index(1)},
		{Name: "_insertMany an array among the documents", Method: "POST", Path: "/api/products/_insertMany", Body: `[{"_id":"n1"},[],{"_id":"n3"}]`, Status: 400, Code: "document_must_be_object", Also: index(1)},
		{Name: "_insertMany 1e400 in the last document", Method: "POST", Path: "/api/products/_insertMany", Body: `[{"_id":"n1"},{"_id":"n2","a":1e400}]`, Status: 400, Code: "number_out_of_range", Also: index(1)},
		{Name: "_insertMany a numeric _id", Method: "POST", Path: "/api/products/_insertMany", Body: `[{"_id":"n1"},{"_id":5}]`, Status: 400, Code: "invalid_id", Also: index(1)},
		{Name: "_insertMany an object, not an array", Method: "POST", Path: "/api/products/_insertMany", Body: `{"_id":"n1"}`, Status: 400, Code: "body_must_be_array"},
		{Name: "_import bad JSON on line 2", Method: "POST", Path: "/api/products/_import", Body: "{\"_id\":\"i1\"}\n{\"_id\":\"i2\",}\n", Header: []string{"Content-Type", "application/x-ndjson"}, Status: 400, Code: "invalid_json", Also: index(2)},
		{Name: "_import an array on line 2", Method: "POST", Path: "/api/products/_import", Body: "{\"_id\":\"i1\"}\n[1]\n", Header: []string{"Content-Type", "application/x-ndjson"}, Status: 400, Code: "document_must_be_object", Also: index(2)},
		{Name: "restoreDB not a dump", Method: "POST", Path: "/api/restoreDB", Body: "garbage\n", Header: []string{"Content-Type", "application/x-ndjson"}, Status: 400, Also: index(1)},

		// Document ids.
		{Name: "_id a number", Method: "POST", Path: "/api/products", Body: `{"_id":123}`, Status: 400, Code: "invalid_id"},
		{Name: "_id empty", Method: "POST", Path: "/api/products", Body: `{"_id":""}`, Status: 400, Code: "invalid_id"},
		{Name: "_id an operator", Method: "POST", Path: "/api/products", Body: `{"_id":{"$gt":""}}`, Status: 400, Code: "invalid_id"},
		{Name: "_id of 1,025 bytes", Method: "POST", Path: "/api/products", Body: `{"_id":"` + long + `"}`, Status: 400, Code: "invalid_id"},
		{Name: "path id of 1,025 bytes", Method: "PUT", Path: "/api/products/" + long, Body: `{}`, Status: 400, Code: "invalid_id"},

		// Preconditions.
		{Name: "If-Match garbage (PUT)", Method: "PUT", Path: "/api/products/p2", Body: `{"a":1}`, Header: []string{"If-Match", "garbage"}, Status: 412, Code: "precondition_failed"},
		{Name: "If-Match a list of nothing (PATCH)", Method: "PATCH", Path: "/api/products/p2", Body: `{"$set":{"a":1}}`, Header: []string{"If-Match", ",,,"}, Status: 412, Code: "precondition_failed"},
		{Name: "If-Match an overflowing revision (DELETE)", Method: "DELETE", Path: "/api/products/p2", Header: []string{"If-Match", `"99999999999999999999999"`}, Status: 412, Code: "precondition_failed"},
		{Name: "If-None-Match an ETag on a write", Method: "PUT", Path: "/api/products/p2", Body: `{"a":1}`, Header: []string{"If-None-Match", `"1"`}, Status: 400, Code: "invalid_parameter"},

		// Indexes.
		{Name: "_indexes no fields", Method: "POST", Path: "/api/products/_indexes", Body: `{}`, Status: 400, Code: "bad_request"},
		{Name: "_indexes fields an object", Method: "POST", Path: "/api/products/_indexes", Body: `{"fields":{"price":2}}`, Status: 400, Code: "bad_request"},
		{Name: "_indexes unknown option", Method: "POST", Path: "/api/products/_indexes", Body: `{"fields":["price"],"sparse":true}`, Status: 400, Code: "bad_request"},
		{Name: "_indexes a field twice", Method: "POST", Path: "/api/products/_indexes", Body: `{"fields":["price","price"]}`, Status: 400, Code: "bad_request"},
		{Name: "_indexes an empty path", Method: "POST", Path: "/api/products/_indexes", Body: `{"fields":[""]}`, Status: 400, Code: "bad_request"},
		{Name: "_indexes unique not a boolean", Method: "POST", Path: "/api/products/_indexes", Body: `{"fields":["price"],"unique":"yes"}`, Status: 400, Code: "bad_request"},
		{Name: "_indexes name ../x", Method: "POST", Path: "/api/products/_indexes", Body: `{"fields":["price"],"name":"../x"}`, Status: 400, Code: "invalid_name"},
		{Name: "_indexes an existing name, other fields", Method: "POST", Path: "/api/products/_indexes", Body: `{"fields":["name"],"name":"by_price"}`, Status: 409, Code: "exists"},
		{Name: "_indexes unique over duplicates", RollsBack: true, Exchange: uniqueOverDuplicates},
		{Name: "DELETE an unknown index", Method: "DELETE", Path: "/api/products/_indexes/nosuch", Status: 404, Code: "not_found"},

		// HTTP.
		{Name: "OPTIONS", Method: "OPTIONS", Path: "/api/products", Status: 405, Code: "method_not_allowed", Also: header("Allow", "GET, HEAD, POST, DELETE")},
		{Name: "Content-Encoding gzip", Method: "POST", Path: "/api/products", Body: `{"a":1}`, Header: []string{"Content-Encoding", "gzip"}, Status: 415, Code: "unsupported_media_type"},
		{Name: "Content-Encoding br on _import", Method: "POST", Path: "/api/products/_import", Body: "{\"_id\":\"i1\"}\n", Header: []string{"Content-Type", "application/x-ndjson", "Content-Encoding", "identity, br"}, Status: 415, Code: "unsupported_media_type"},
		{Name: "a byte-order mark before the JSON", Method: "POST", Path: "/api/products", Body: "\ufeff{\"a\":1}", Status: 400, Code: "invalid_json"},
		// net/http counts the request line against MaxHeaderBytes (64 KiB in
		// minidbgo-server); on a kept-alive connection it reads up to 4 KiB
		// more before it counts, hence 100 KB.
		{Name: "a 100 KB query string", Method: "GET", Path: "/api/products/p1?x=" + strings.Repeat("y", 100<<10), Check: status(http.StatusRequestHeaderFieldsTooLarge)},
		{Name: "GET a missing document", Method: "GET", Path: "/api/products/nosuch", Status: 404, Code: "not_found"},
		{Name: "DELETE a missing collection", Method: "DELETE", Path: "/api/nosuchcol", Status: 404, Code: "not_found"},
		{Name: "_export a missing collection", Method: "GET", Path: "/api/nosuchcol/_export", Status: 404, Code: "not_found"},
	}
}

// manyFields returns a document of n fields.
func manyFields(n int) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"f%d":1`, i)
	}
	b.WriteString("}")
	return b.String()
}

// batch returns an _insertMany body of n documents.
func batch(n int) string {
	var b strings.Builder
	b.WriteString("[")
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"_id":"b%d"}`, i)
	}
	b.WriteString("]")
	return b.String()
}

// docCount checks a 200 whose body holds n documents (a _search array or
// a _find {"docs": [...]}).
func docCount(n int) func(Response) error {
	return func(r Response) error {
		if r.Status != http.StatusOK {
			return fmt.Errorf("want 200, got %s", r)
		}
		var docs []json.RawMessage
		if err := json.Unmarshal(r.Body, &docs); err != nil {
			var page struct{ Docs []json.RawMessage }
			if err := json.Unmarshal(r.Body, &page); err != nil {
				return fmt.Errorf("not a page of documents: %s", r)
			}
			docs = page.Docs
		}
		if len(docs) != n {
			return fmt.Errorf("want %d documents, got %d: %s", n, len(docs), r)
		}
		return nil
	}
}

// exactNumber is row 10: a number beyond 2^53 and a long fraction are
// stored and read back digit for digit.
func exactNumber(tg *Target) ([]Response, error) {
	w, err := tg.Do("PUT", "/api/numbers/n", `{"n":9007199254740993,"m":-0.1000000000000000000001}`)
	if err != nil {
		return nil, err
	}
	rs := []Response{w}
	if w.Status != http.StatusCreated && w.Status != http.StatusOK {
		return rs, fmt.Errorf("PUT: %s", w)
	}
	r, err := tg.Do("GET", "/api/numbers/n", "")
	if err != nil {
		return rs, err
	}
	rs = append(rs, r)
	if want := `{"_id":"n","n":9007199254740993,"m":-0.1000000000000000000001}` + "\n"; r.Status != http.StatusOK || string(r.Body) != want {
		return rs, fmt.Errorf("GET: want 200 %s, got %s", want, r)
	}
	return rs, nil
}

// foreignCursor sends a cursor from one query (a scan by _id) with
// another (a range over the by_price index): 400 invalid_cursor.
func foreignCursor(tg *Target) ([]Response, error) {
	first, err := tg.Do("POST", "/api/products/_find", `{"limit":1}`)
	if err != nil {
		return nil, err
	}
	rs := []Response{first}
	var page struct{ Cursor string }
	if first.Status != http.StatusOK || json.Unmarshal(first.Body, &page) != nil || page.Cursor == "" {
		return rs, fmt.Errorf("first page: want 200 with a cursor, got %s", first)
	}
	r, err := tg.Do("POST", "/api/products/_find", `{"filter":{"price":{"$gt":1}},"cursor":"`+page.Cursor+`"}`)
	if err != nil {
		return rs, err
	}
	rs = append(rs, r)
	_, err = CheckError(r, http.StatusBadRequest, "invalid_cursor")
	return rs, err
}

// uniqueOverDuplicates creates a unique index over a field two products
// share: 409 unique_violation, and the index is not left behind.
func uniqueOverDuplicates(tg *Target) ([]Response, error) {
	r, err := tg.Do("POST", "/api/products/_indexes", `{"fields":["category"],"unique":true,"name":"u_cat"}`)
	if err != nil {
		return nil, err
	}
	rs := []Response{r}
	if _, err := CheckError(r, http.StatusConflict, "unique_violation"); err != nil {
		return rs, err
	}
	l, err := tg.own("GET", "/api/products/_indexes", "", http.StatusOK)
	rs = append(rs, l)
	if err != nil {
		return rs, err
	}
	if bytes.Contains(l.Body, []byte("u_cat")) {
		return rs, fmt.Errorf("the failed index is listed: %s", l)
	}
	return rs, nil
}

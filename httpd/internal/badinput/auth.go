package badinput

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
)

// Keys are the API keys of a server with authentication on, one per
// scope.
type Keys struct {
	Read, Write, Admin string
}

// AuthRows returns rows 22–25 and the rows added here for a server with
// the keys k and a rate limit of burst requests per key, its database
// prepared by Seed (with Target.Key set to k.Admin). The rate limit's
// refill must be slow enough that burst+20 requests sent back to back
// exceed it.
func AuthRows(k Keys, burst int) []Row {
	bearer := func(key string) []string { return []string{"Authorization", "Bearer " + key} }
	return []Row{
		{N: 22, Name: "no Authorization", Method: "DELETE", Path: "/api/products/p1", Status: 401, Code: "unauthorized"},
		{N: 23, Name: "wrong key and ?api_key=: identical bodies", Exchange: func(tg *Target) ([]Response, error) {
			return identical401s(tg, []probe{
				{"/api/products/p1", nil},
				{"/api/products/p1", bearer("not-a-key-0000000000")},
				{"/api/products/p1", []string{"Authorization", "Basic " + k.Read}},
				{"/api/products/p1?api_key=" + k.Admin, nil},
			})
		}},
		{N: 24, Name: "read-scoped key deleting a document", Method: "DELETE", Path: "/api/products/p1", Header: bearer(k.Read), Status: 403, Code: "forbidden"},
		{N: 24, Name: "read-scoped key dropping a collection", Method: "DELETE", Path: "/api/products", Header: bearer(k.Read), Status: 403, Code: "forbidden"},
		{Name: "read-scoped key writing", Method: "POST", Path: "/api/products", Body: `{"_id":"p9"}`, Header: bearer(k.Read), Status: 403, Code: "forbidden"},
		{Name: "write-scoped key restoring a dump", Method: "POST", Path: "/api/restoreDB", Body: `{"collection":"products","doc":{"_id":"p9"}}` + "\n", Header: append(bearer(k.Write), "Content-Type", "application/x-ndjson"), Status: 403, Code: "forbidden"},
		{Name: "write-scoped key compacting", Method: "POST", Path: "/api/_compact", Header: bearer(k.Write), Status: 403, Code: "forbidden"},
		{Name: "a key in the query string beside a good one", Method: "GET", Path: "/api/products/p1?api_key=" + k.Admin, Header: bearer(k.Admin), Status: 401, Code: "unauthorized"},
		{N: 25, Name: "burst over the rate limit", Exchange: func(tg *Target) ([]Response, error) {
			var rs []Response
			for range burst + 20 {
				r, err := tg.Do("GET", "/api/products/p1", "", bearer(k.Read)...)
				if err != nil {
					return rs, err
				}
				rs = append(rs, r)
				if r.Status == http.StatusTooManyRequests {
					_, err := CheckError(r, http.StatusTooManyRequests, "rate_limited")
					return rs, err
				}
				if r.Status != http.StatusOK {
					return rs, fmt.Errorf("before the limit: %s", r)
				}
			}
			return rs, fmt.Errorf("no 429 in %d requests", len(rs))
		}},
	}
}

// probe is a path and its headers.
type probe struct {
	path string
	hdr  []string
}

// identical401s sends DELETE with each probe: each must be 401 with the
// same body but for the request id.
func identical401s(tg *Target, probes []probe) ([]Response, error) {
	var rs []Response
	var first []byte
	for _, p := range probes {
		r, err := tg.Do("DELETE", p.path, "", p.hdr...)
		if err != nil {
			return rs, err
		}
		rs = append(rs, r)
		if _, err := CheckError(r, http.StatusUnauthorized, "unauthorized"); err != nil {
			return rs, fmt.Errorf("%s %v: %w", p.path, p.hdr, err)
		}
		var body map[string]any
		if err := json.Unmarshal(r.Body, &body); err != nil {
			return rs, err
		}
		delete(body, "request_id")
		b, _ := json.Marshal(body)
		if first == nil {
			first = b
		} else if !bytes.Equal(first, b) {
			return rs, fmt.Errorf("401 bodies differ: %s and %s", first, b)
		}
	}
	return rs, nil
}

package api

import "encoding/json"

// Change is one result of the change feed (GET /api/_changes and
// /api/{col}/_changes): a committed write, in ascending Seq.
//
//	{"seq":42,"collection":"orders","_id":"o1","op":"update","rev":"7"}
//
// Op is one of "insert", "replace", "update", "delete", "expire" (the TTL
// reaper removed the document) and "drop" (the collection was dropped:
// ID is empty). Rev is the document's revision after the write (its ETag
// without quotes), absent for delete, expire and drop. Doc is present
// only with include_docs=true: the document as it is now (which may be
// later than this change), or JSON null when it no longer exists.
type Change struct {
	Seq        uint64          `json:"seq"`
	Collection string          `json:"collection"`
	ID         string          `json:"_id,omitempty"`
	Op         string          `json:"op"`
	Rev        uint64          `json:"rev,string,omitempty"` // a string: revisions exceed 2^53
	Doc        json.RawMessage `json:"doc,omitempty"`
}

// Changes is the body of a normal or longpoll change feed response: the
// changes after the request's since, and LastSeq, the since of the next
// request. LastSeq may be past the last result (changes a selector
// skipped, or the feed's end). OldestSeq is the oldest sequence still
// retained (0 when the feed is empty): a since older than the
// retained window is answered 410 history_lost.
type Changes struct {
	Results   []Change `json:"results"`
	LastSeq   uint64   `json:"last_seq"`
	OldestSeq uint64   `json:"oldest_seq"`
}

// ChangesRequest is the optional body of POST /api/_changes and
// /api/{col}/_changes: a selector in the filter language, applied to each
// change's current document (changes whose document is gone or does not
// match are skipped).
type ChangesRequest struct {
	Selector json.RawMessage `json:"selector,omitempty"`
}

// Package api holds the wire types of MiniDBGo's REST API: the JSON bodies
// the server (package httpd) writes and reads and the client (package
// client) sends and decodes. It belongs to the client's module
// (github.com/minidbgo/minidbgo/httpd/client), which the server imports
// and which depends on nothing but the standard library, so that clients
// need not link the database.
//
// Documents travel as raw JSON (json.RawMessage): the server never
// re-encodes them, so numbers keep every digit and keys their order.
package api

import "encoding/json"

// Error is the body of every error response:
//
//	{"error": "document \"p1\" not found in \"products\"", "status": 404,
//	 "code": "not_found", "request_id": "3f2a9c1e-000012"}
//
// Index, when present, is the position of the offending document in an
// _insertMany batch or the 1-based line of a restoreDB or _import stream.
type Error struct {
	Error     string `json:"error"`
	Status    int    `json:"status"`
	Code      string `json:"code"`
	RequestID string `json:"request_id"`
	Index     *int   `json:"index,omitempty"`
}

// Health is the body of GET /api/health.
type Health struct {
	Status  string `json:"status"` // "ok"
	Version string `json:"version,omitempty"`
}

// Ready is the body of GET /api/ready: Status is "ready", or "not_ready"
// with a Reason (HTTP 503).
type Ready struct {
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
}

// WriteResult is the body of a single-document write (POST /api/{col},
// PUT and PATCH /api/{col}/{id}): the document's _id, its new revision
// (also sent as the ETag) and whether the write created it.
type WriteResult struct {
	ID      string `json:"_id"`
	Rev     uint64 `json:"rev,string"` // a string: revisions exceed 2^53
	Created bool   `json:"created"`
}

// DeleteResult is the body of DELETE /api/{col}/{id}.
type DeleteResult struct {
	ID      string `json:"_id"`
	Deleted bool   `json:"deleted"`
}

// InsertManyResult is the body of POST /api/{col}/_insertMany: how many
// documents were created and how many replaced an existing document with
// their _id, and one result per document, in the order sent (its Created
// tells which).
type InsertManyResult struct {
	Inserted int           `json:"inserted"`
	Replaced int           `json:"replaced"`
	Results  []WriteResult `json:"results"`
}

// FindRequest is the body of POST /api/{col}/_find and _explain. Every
// field is optional. Sort is an object ({"price": -1, "_id": 1}) or a
// string ("-price,_id"); Fields is a projection object ({"name": 1}) or a
// string ("name,price" or "-secret"). Cursor, from a previous response,
// continues that query after its last page: alone (the cursor carries
// its query and page size), or with the same filter, sort and fields;
// any other query is 400 invalid_cursor.
type FindRequest struct {
	Filter json.RawMessage `json:"filter,omitempty"`
	Sort   json.RawMessage `json:"sort,omitempty"`
	Fields json.RawMessage `json:"fields,omitempty"`
	Limit  int             `json:"limit,omitempty"`
	Skip   int             `json:"skip,omitempty"`
	Cursor string          `json:"cursor,omitempty"`
}

// FindResult is the body of a _find response: one page of documents and a
// cursor for the next page, empty or absent on the last page.
type FindResult struct {
	Docs   []json.RawMessage `json:"docs"`
	Cursor string            `json:"cursor,omitempty"`
}

// CountRequest is the body of POST /api/{col}/_count (optional: no body
// counts every document).
type CountRequest struct {
	Filter json.RawMessage `json:"filter,omitempty"`
}

// CountResult is the body of a _count response.
type CountResult struct {
	Count int64 `json:"count"`
}

// DistinctRequest is the body of POST /api/{col}/_distinct. Field is the
// dot path whose values are wanted; Filter (optional) selects documents.
type DistinctRequest struct {
	Field  string          `json:"field"`
	Filter json.RawMessage `json:"filter,omitempty"`
}

// DistinctResult is the body of a _distinct response: the distinct values,
// in sort order.
type DistinctResult struct {
	Values []json.RawMessage `json:"values"`
}

// UpdateRequest is the body of POST /api/{col}/_update. Filter is
// required ({} matches every document); Update holds update operators.
// Upsert creates a document when none matches: the filter's equality
// fields with the update (and its $setOnInsert) applied.
type UpdateRequest struct {
	Filter json.RawMessage `json:"filter"`
	Update json.RawMessage `json:"update"`
	Upsert bool            `json:"upsert,omitempty"`
}

// UpdateResult is the body of an _update response. UpsertedID is the _id
// of the document an upsert created (then Matched is 0).
type UpdateResult struct {
	Matched    int64  `json:"matched"`
	Modified   int64  `json:"modified"`
	UpsertedID string `json:"upserted_id,omitempty"`
}

// DeleteManyRequest is the body of POST /api/{col}/_delete. Filter is
// required ({} deletes every document).
type DeleteManyRequest struct {
	Filter json.RawMessage `json:"filter"`
}

// DeleteManyResult is the body of a _delete response.
type DeleteManyResult struct {
	Deleted int64 `json:"deleted"`
}

// IndexRequest is the body of POST /api/{col}/_indexes. A field prefixed
// with "-" is descending. Name is generated from the fields when empty.
type IndexRequest struct {
	Fields []string `json:"fields"`
	Unique bool     `json:"unique,omitempty"`
	Name   string   `json:"name,omitempty"`
	// ExpireAfterSeconds makes a single-field index a TTL index: a
	// document expires that many seconds after the date in the field (an
	// RFC 3339 string or epoch milliseconds). 0 to 2147483647.
	ExpireAfterSeconds *int64 `json:"expireAfterSeconds,omitempty"`
}

// IndexField is one field of an index.
type IndexField struct {
	Path string `json:"path"`
	Desc bool   `json:"desc,omitempty"`
}

// Index describes a secondary index. Building is set while it is being
// filled from existing documents, with Progress; Multikey once an indexed
// path held an array.
type Index struct {
	Name     string         `json:"name"`
	Fields   []IndexField   `json:"fields"`
	Unique   bool           `json:"unique,omitempty"`
	Multikey bool           `json:"multikey,omitempty"`
	Building bool           `json:"building,omitempty"`
	Progress *IndexProgress `json:"progress,omitempty"`
	// ExpireAfterSeconds is set on a TTL index (see IndexRequest).
	ExpireAfterSeconds *int64 `json:"expireAfterSeconds,omitempty"`
}

// IndexProgress is how far a building index is: documents indexed so far
// out of the collection's documents.
type IndexProgress struct {
	Indexed int64 `json:"indexed"`
	Total   int64 `json:"total"`
}

// Dropped is the body of DELETE /api/{col} and DELETE
// /api/{col}/_indexes/{name}.
type Dropped struct {
	Collection string `json:"collection"`
	Index      string `json:"index,omitempty"`
	Dropped    bool   `json:"dropped"`
}

// Collection is one element of GET /api/_collections and the body of
// GET /api/{col}.
type Collection struct {
	Name     string `json:"name"`
	DocCount int64  `json:"docCount"`
	ByteSize int64  `json:"byteSize"`
}

// Explanation is the body of POST /api/{col}/_explain: the plan chosen
// and the work running the query's first page took.
type Explanation struct {
	Plan         string   `json:"plan"` // "COLLSCAN" or "IXSCAN"
	Index        string   `json:"index,omitempty"`
	IndexFields  []string `json:"indexFields,omitempty"`
	Ranges       int      `json:"ranges,omitempty"`
	SortByIndex  bool     `json:"sortByIndex"`
	InMemorySort bool     `json:"inMemorySort"`
	KeysExamined int64    `json:"keysExamined"`
	DocsExamined int64    `json:"docsExamined"`
	NReturned    int64    `json:"nReturned"`
}

// CreateCollectionRequest is the body of POST /api/_collections.
type CreateCollectionRequest struct {
	Name string `json:"name"`
}

// Whoami is GET /api/_whoami: the caller's API key scope ("read",
// "write" or "admin"; "admin" when authentication is off) and whether the
// server requires a key.
type Whoami struct {
	Role string `json:"role"`
	Auth bool   `json:"auth"`
}

// DumpStats is the body of POST /api/restoreDB: what was restored.
type DumpStats struct {
	Collections int   `json:"collections"`
	Documents   int64 `json:"documents"`
	Indexes     int   `json:"indexes"`
	Bytes       int64 `json:"bytes"`
}

// ImportResult is the body of POST /api/{col}/_import.
type ImportResult struct {
	Imported int64 `json:"imported"`
}

// CompactStatus is the body of POST /api/_compact (HTTP 202): "started"
// when this request started a compaction, "running" when one already was.
type CompactStatus struct {
	Status string `json:"status"`
}

// GCResult is the body of POST /api/debug/gc.
type GCResult struct {
	HeapAllocBeforeMB uint64 `json:"heap_alloc_before_mb"`
	HeapAllocAfterMB  uint64 `json:"heap_alloc_after_mb"`
}

// Stats is the body of GET /api/stats, exactly the guide's fields. The CPU
// figures are sampled in the background; MB are MiB.
type Stats struct {
	ProcessCPUPercent float64 `json:"process_cpu_percent"`
	ProcessRSSMB      uint64  `json:"process_rss_mb"`
	ProcessRSSLimitMB uint64  `json:"process_rss_limit_mb"`
	GoNumGoroutine    int     `json:"go_num_goroutine"`
	GoAllocMB         uint64  `json:"go_alloc_mb"`
	GoSysMB           uint64  `json:"go_sys_mb"`
	GoHeapAllocMB     uint64  `json:"go_heap_alloc_mb"`
	GoHeapInuseMB     uint64  `json:"go_heap_inuse_mb"`
	GoNumGC           uint32  `json:"go_num_gc"`
	SystemCPUPercent  float64 `json:"system_cpu_percent"`
}

// LevelMetrics is one LSM level in Metrics.
type LevelMetrics struct {
	Level int    `json:"level"`
	Files int    `json:"files"`
	Bytes uint64 `json:"bytes"`
}

// Metrics is the body of GET /api/metrics: the guide's five counters
// (puts, gets, deletes, flushes, compacts) first, then the engine's other
// counters and gauges, then the server's. Counters are totals since the
// server started.
type Metrics struct {
	Puts     uint64 `json:"puts"`
	Gets     uint64 `json:"gets"`
	Deletes  uint64 `json:"deletes"`
	Flushes  uint64 `json:"flushes"`
	Compacts uint64 `json:"compacts"`

	Batches            uint64 `json:"batches"`
	CommitGroups       uint64 `json:"commit_groups"`
	WALSyncs           uint64 `json:"wal_syncs"`
	WALBytes           uint64 `json:"wal_bytes"`
	BytesIn            uint64 `json:"bytes_in"`
	BytesFlushed       uint64 `json:"bytes_flushed"`
	ManualCompactions  uint64 `json:"manual_compactions"`
	TrivialMoves       uint64 `json:"trivial_moves"`
	CompactionBytesIn  uint64 `json:"compaction_bytes_in"`
	CompactionBytesOut uint64 `json:"compaction_bytes_out"`
	CompactionsRunning int64  `json:"compactions_running"`
	WriteStalls        uint64 `json:"write_stalls"`
	BusyRejections     uint64 `json:"busy_rejections"`
	L0Stalls           uint64 `json:"l0_stalls"`
	BackgroundErrors   uint64 `json:"background_errors"`
	ReadOnly           bool   `json:"read_only"`
	// Degraded is set once a damaged table was found (DamagedTables
	// counts them; GET /api/ready names them). CorruptionErrors counts
	// the corruption errors reads and compactions met, and
	// DegradedRejections the writes refused with code "degraded".
	Degraded           bool   `json:"degraded"`
	DamagedTables      int    `json:"damaged_tables"`
	CorruptionErrors   uint64 `json:"corruption_errors"`
	DegradedRejections uint64 `json:"degraded_rejections"`

	MemTableRecords    int            `json:"memtable_records"`
	MemTableBytes      int64          `json:"memtable_bytes"`
	ImmutableMemTables int            `json:"immutable_memtables"`
	Snapshots          int            `json:"snapshots"`
	BlockCacheHits     uint64         `json:"block_cache_hits"`
	BlockCacheMisses   uint64         `json:"block_cache_misses"`
	BlockCacheBytes    int64          `json:"block_cache_bytes"`
	BlockCacheCapacity int64          `json:"block_cache_capacity"`
	OpenTables         int            `json:"open_tables"`
	BloomSkips         uint64         `json:"bloom_skips"`
	TableReads         uint64         `json:"table_reads"`
	IteratorsCreated   uint64         `json:"iterators_created"`
	LastSeq            uint64         `json:"last_seq"`
	TotalTables        int            `json:"total_tables"`
	TotalTableBytes    uint64         `json:"total_table_bytes"`
	ReadAmplification  int            `json:"read_amplification"`
	Levels             []LevelMetrics `json:"levels"`

	// Server-side compaction requests (POST /api/_compact).
	CompactRunning   bool   `json:"compact_running"`
	CompactRequests  uint64 `json:"compact_requests"`
	CompactLastError string `json:"compact_last_error,omitempty"`
	CompactLastMS    int64  `json:"compact_last_ms"`

	// HTTP server.
	HTTPRequests     uint64 `json:"http_requests"`
	HTTPInFlight     int64  `json:"http_in_flight"`
	HTTPRejectedBusy uint64 `json:"http_rejected_busy"`
	HTTPRejectedRate uint64 `json:"http_rejected_rate"`
	// HTTPInflightBytes is the memory reserved by request bodies and
	// sorts in flight, against HTTPInflightLimit (MAX_INFLIGHT_MB);
	// HTTPRejectedMemory counts the requests answered 503 for want of it
	// and HTTPTooSlow the transfers ended below the minimum rate.
	HTTPInflightBytes  int64  `json:"http_inflight_bytes"`
	HTTPInflightLimit  int64  `json:"http_inflight_limit"`
	HTTPRejectedMemory uint64 `json:"http_rejected_memory"`
	HTTPTooSlow        uint64 `json:"http_too_slow"`
	HTTPServerErrors   uint64 `json:"http_server_errors"`
	// HTTPSlowRequests counts requests slower than SLOW_QUERY_MS.
	HTTPSlowRequests uint64 `json:"http_slow_requests"`
	UptimeSeconds    int64  `json:"uptime_seconds"`
}

// AggregateRequest is the body of POST /api/{col}/_aggregate (a bare
// array of stages is also accepted) and, with a pipeline, of _explain.
// Cursor, from a previous response, continues that pipeline: alone, or
// with the same pipeline.
type AggregateRequest struct {
	Pipeline json.RawMessage `json:"pipeline,omitempty"`
	Limit    int             `json:"limit,omitempty"`
	Cursor   string          `json:"cursor,omitempty"`
}

// AggExplanation is the body of POST /api/{col}/_explain for a
// pipeline: the scan's plan and cost (the leading $match, and a $sort its
// index gives in order, run in the scan), the stages, and how many
// leading stages the scan performs.
type AggExplanation struct {
	Source     Explanation `json:"source"`
	Stages     []string    `json:"stages"`
	PushedDown int         `json:"pushedDown"`
}

// Package docstore is MiniDBGo's document layer: collections of JSON
// documents with a string _id, MongoDB's query and update languages,
// secondary indexes and streaming dump/restore, over the storage engine.
// The server and the shell both use it, so neither holds query or storage
// logic of its own.
//
// # Basics
//
//	db, err := docstore.Open("data/MiniDBGo", nil)
//	res, err := db.InsertOne(ctx, "users", []byte(`{"name":"Ada","age":36}`), docstore.WriteOptions{})
//	doc, err := db.Get(ctx, "users", res.ID)
//	cur, err := db.Find(ctx, "users", docstore.Query{Filter: []byte(`{"age":{"$gte":18}}`)})
//
// # Guarantees
//
// Every write of one document — and every InsertMany — is one atomic
// storage batch holding the document, its index entries, its
// collection's count delta and its change record, so after a crash they
// agree. Read-modify-write
// operations (Update, and Replace/Delete with a revision precondition)
// hold the document's lock, so concurrent updates are never lost. Each
// document has a revision, increasing with every write, that callers may
// require (WriteOptions.IfMatch).
//
// Counts always equal a full scan: DropCollection excludes the
// collection's writers and its count folds while it runs, and deletes the
// documents in batches that each carry their count delta, so a crash
// midway leaves a smaller, consistent collection that a second drop
// finishes.
//
// An index build interrupted by a crash or a shutdown resumes in the
// background at the next open. A unique index enforces nothing until its
// backfill is done, then everything; a duplicate fails the build and
// removes the index.
//
// Queries stream from a snapshot: memory is bounded by the page (and, for
// a sort no index provides, by skip+limit documents), never by the
// collection. Cursor tokens resume a query after the last document of a
// page.
//
// # Cancellation
//
// Every method that reads or writes takes a context.Context first. A scan
// (Find's cursor, Count, Distinct, UpdateMany, DeleteMany, an index
// backfill, Dump, Export) looks at it every few hundred keys; a write looks
// at it before it commits. A call whose context ends returns the
// context's error wrapped (errors.Is(err, context.Canceled) or
// context.DeadlineExceeded holds) and leaves nothing half-written:
//
//   - a single-document write or an InsertMany batch commits entirely or
//     not at all;
//   - UpdateMany and DeleteMany write the matching documents in batches
//     of up to 256, each batch atomically: when cancelled, the
//     batches committed before the cancellation stay written, none after
//     it is started, and no document is ever partly updated;
//   - a cancelled CreateIndex removes the index it was building;
//   - Restore and Import stop between batches (the batches before stay
//     written, as after a bad line);
//   - DropCollection looks at its context only before it starts: once
//     it deletes anything it runs to the end.
//
// # Change feed
//
// Every committed write appends one change record per document it writes
// (insert, replace, update, delete, expire; a DropCollection one drop
// record) in the write's own batch: the feed holds exactly the writes
// present, each once, after any crash. Changes reads it from a snapshot,
// in ascending Seq (commit order: a reader that has seen seq N never later
// finds a record below N); WaitChange blocks until a commit moves
// FeedSeq, on one broadcast channel shared by every waiter. Seqs are the
// engine's sequence numbers, so they are unique and ascending but not
// dense. A DropCollection interrupted by a crash records its drop only
// when a second drop finishes it. Under a durability mode that
// acknowledges before fsync (periodic, none) a crash can take back records
// a reader saw, and their seqs are given again to the next writes.
//
// Retention: a background trimmer deletes the records older than
// Options.ChangesRetention (default 24h) and those beyond the newest
// Options.ChangesRetentionRecords, oldest first. The engine has no range
// deletion, so it deletes them a key at a time, in batches of 1,000 records,
// each batch also moving the horizon: a Since below it gets
// CodeHistoryLost. With retention by records on, Open counts the records
// retained (a scan of their keys).
//
// # Keyspace
//
// Inside the engine (strings escaped by internal/keyenc):
//
//	'm' col                   metadata: {"indexes":[spec…]}, a spec with
//	                          "building":true is resumed at open
//	's' col <uint64 BE>       stats: varint docs | varint bytes; id 0 is
//	                          the folded base, others are deltas; the
//	                          counts are their sum
//	'd' col id                document: rev uint64 BE | JSON
//	'f' <seq BE>              change record (no body): op u8 | uvarint rev |
//	                          uvarint commit time (Unix ms) | uvarint
//	                          len(col) | col | id
//	'h'                       feed horizon: uint64 BE, the highest seq
//	                          trimmed by retention
//	'i' col index values… id  index entry (empty value)
//	'x' col <ms BE> id        expiry: the document expires at ms (epoch
//	                          milliseconds; empty value), see expiry.go
//	'r' 'a'                   cluster: the applied Raft index, uint64 BE
//	'r' 'p'                   cluster: the progress of the multi-batch
//	                          command being applied: index | k | matched |
//	                          modified | deleted, 5 × uint64 BE; deleted
//	                          with the batch storing 'r' 'a' (command.go)
//	'r' 'n' name              cluster metadata (CmdSetMeta)
//
// # Expiry
//
// A document expires at its top-level "_expiresAt" date or N seconds
// after the date in a TTL index's field (IndexSpec.ExpireAfterSeconds),
// whichever is earliest. Reads never return an expired document; the
// reaper (every Options.TTLInterval, or ReapExpired) deletes them in
// batches through the normal write path.
//
// A change record's seq is the engine's sequence number of its batch
// entry, completed at commit time (storage.Batch.PutSeqKey): records sort
// in commit order. A collection's feed is the 'f' records filtered by
// collection (changes.go says why there is no second key).
//
// # Caveats
//
// A collection with a unique index serialises its writes, so that
// uniqueness can be checked without a race. A multikey index (one over an
// array field) returns a document only at its first index entry in the
// scanned range, so a cursor never repeats it across pages.
package docstore

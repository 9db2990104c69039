// Package manifest is the in-memory model of which SSTables are live at which
// level of the LSM tree, and the encoding of the edits that change it.
//
// A Version is an immutable snapshot of the live files. A VersionEdit is one
// atomic change: files added, files deleted, and the counters recovery needs
// (log number, next file number, last sequence number). The MANIFEST is a log
// of encoded edits, one per record; replaying it onto an empty Version with
// Apply rebuilds the current Version. The record framing (checksums, torn
// tails) is done by the WAL-style record writer, not here.
//
// # Edit encoding
//
// An edit is a sequence of fields. Every field starts with a uvarint tag that
// says how the rest of the field is laid out; integers are uvarints
// (encoding/binary) and byte strings are a uvarint length followed by that
// many bytes. The first field is always the format version:
//
//	edit    := version field*
//	version := tag=1  uvarint(1)
//	field   := tag=2  uvarint(LogNum)
//	         | tag=3  uvarint(NextFileNum)
//	         | tag=4  uvarint(LastSeq)
//	         | tag=5  uvarint(Level) uvarint(FileNum)                     DeletedFile
//	         | tag=6  uvarint(Level) uvarint(FileNum) uvarint(Size)       NewFile
//	                  bytes(Smallest) bytes(Largest)
//	                  uvarint(SmallestSeq) uvarint(LargestSeq)
//	bytes   := uvarint(n) byte{n}
//
// For example, the edit {LastSeq: 9, NewFiles: [{Level: 0, file 7 of 100
// bytes from a#5,SET to c#9,SET, seqs 5-9}]} encodes in 30 bytes:
//
//	+----+----+----+----+----+----+----+----+----+----------+----+----------+----+----+
//	| 01 | 01 | 04 | 09 | 06 | 00 | 07 | 64 | 09 | 61 trlr  | 09 | 63 trlr  | 05 | 09 |
//	+----+----+----+----+----+----+----+----+----+----------+----+----------+----+----+
//	 tag  ver  tag  seq  tag  lvl  num  size len  Smallest   len  Largest    seqs
//
// where trlr is the 8-byte internal-key trailer (see package base).
//
// Encode writes the scalar fields only when they are non-zero (zero means
// "unchanged"), then every DeletedFile, then every NewFile, in slice order.
// Decode accepts the fields in any order after the version, but each scalar
// at most once.
//
// The format is forward-checkable: a reader never guesses. Tag 0 is invalid
// (so a zero-filled record is rejected), an unknown tag or a version other
// than 1 is an error rather than something to skip, and a change to the layout
// of any field requires a new version number. Every length is checked against
// the bytes that remain, levels against NumLevels, sequence numbers against
// base.MaxSeqNum, and keys must be valid internal keys, so malformed input
// yields an error matching base.ErrCorruption and never a panic or an
// allocation larger than the input.
//
// No reference count is encoded: counts
// describe the running process, not the database.
//
// # Invariants
//
// Apply refuses (with an error matching base.ErrCorruption) to build a Version
// that breaks L1-L6, and CheckInvariants verifies them, plus what one Version
// can see of L7. In the names, "level 0" and "level n" refer to levels of the
// tree; L1 to L7 name the invariants.
//
//   - L1: every file has valid internal keys with Smallest <= Largest in
//     internal-key order (base.Compare), and SmallestSeq <= LargestSeq.
//   - L2: a file number appears at most once in a Version, across all levels.
//   - L3: level 0 is ordered by LargestSeq ascending (oldest first), with
//     ties broken by SmallestSeq and then FileNum. Level 0 files may overlap.
//   - L4: two level 0 files whose user-key ranges overlap have disjoint
//     sequence-number ranges, the later file holding the newer ones. So for
//     any user key, reading level 0 newest-first finds its newest version
//     first.
//   - L5: every level n >= 1 is sorted by Smallest.
//   - L6: the files of a level n >= 1 do not overlap, not even by one user
//     key: the largest user key of a file is strictly less than the smallest
//     user key of the next file. So a user key lives in at most one file per
//     level, and FindFile can binary search.
//   - L7: a file's reference count equals the number of Versions that
//     include it and currently hold at least one reference; it never goes
//     negative.
//
// A Version and its level slices are immutable once built: never append to
// or reorder Levels. With the build tag invariants (or under the race
// detector), Apply also re-checks the Version it starts from, which catches
// such mutation.
//
// # Reference counting
//
// The DB holds a reference on the current Version; iterators and compactions
// pin the Version they read. Install a new Version by Ref-ing it before
// Unref-ing the old one, so that the files they share never drop to zero
// references. When the last Version that includes a file is released, Unref
// calls obsolete for that file exactly once, and the DB may delete it. A file
// that was only ever part of Versions that were never Ref'd is never reported.
// A Version whose references dropped to zero is released for good; Ref-ing it
// again panics.
package manifest

// Package sstable implements the engine's immutable sorted tables: files of
// internal keys (ordered by base.Compare) mapped to values.
//
// # Basics
//
// A Writer turns a sorted stream of entries into a table; its memory is one
// data block, the index and 8 bytes per distinct user key. Open returns a
// Reader, which keeps the index, the bloom filter and the properties in
// memory and reads data blocks on demand through a shared block cache
// (package cache), keyed by (file number, block offset); a block missing
// from the cache is read into a pooled buffer and decompressed straight
// into cache memory. Reader.Get finds the
// newest version of a user key visible at a sequence number; Reader.NewIter
// returns a base.InternalIterator with optional user-key bounds;
// Reader.MayContain consults the bloom filter; Reader.Verify reads and checks
// the whole file.
//
//	w := sstable.NewWriter(f, sstable.WriterOptions{Compression: sstable.S2Compression, BloomBitsPerKey: 10})
//	for _, e := range sorted {
//		if err := w.Add(e.ikey, e.value); err != nil { w.Abort(); return err }
//	}
//	meta, err := w.Close()
//	...
//	r, err := sstable.Open(f, int64(meta.Size), sstable.ReaderOptions{Cache: c, FileNum: 7, FileName: "000007.sst"})
//	if r.MayContain(ukey) {
//		v, kind, found, err := r.Get(ukey, snapshotSeq)
//	}
//
// # File layout
//
// A table is a sequence of blocks, each followed by a 5-byte trailer, and a
// fixed-size footer:
//
//	+--------------+---------+-----+--------------+---------+
//	| data block 0 | trailer | ... | data block n | trailer |   data section
//	+--------------+---------+-----+--------------+---------+
//	| filter block | trailer |   (absent when BloomBitsPerKey is 0 or the table is empty)
//	+--------------+---------+
//	| index block  | trailer |
//	+--------------+---------+
//	| properties   | trailer |
//	+--------------+---------+
//	| footer (64 B)          |
//	+------------------------+
//
// Integers are little-endian unless stated otherwise; "uvarint" is
// encoding/binary's unsigned varint.
//
// # Block trailer
//
// Every block, whatever its kind, is stored as
//
//	+----------------------+---------+------------------------------------+
//	| stored bytes         | type 1B | CRC32C 4B (stored bytes ++ type)   |
//	+----------------------+---------+------------------------------------+
//
// where type is the Compression of the stored bytes: 0 none, 1 S2, 2 Zstd.
// A block handle (offset, length) points at the stored bytes; length
// excludes the trailer. The checksum is verified on every read.
//
// Stored bytes by type, once the checksum has passed:
//
//	none: the block itself
//	S2:   s2.Encode output (block format: uvarint decoded length, then S2 data)
//	Zstd: uvarint decoded length | one Zstandard frame (no frame checksum)
//
// The writer compresses only data blocks, stores a block uncompressed when
// compression would not save at least 12.5%, and never compresses a block
// larger than 4 MiB (a single huge entry). The reader therefore refuses a
// compressed block that claims to decode to more than 4 MiB: a
// decompression bomb is a corruption error, not an allocation.
//
// # Data and index blocks
//
// Data blocks (target size WriterOptions.BlockSize, uncompressed) and the
// index block share one format: entries with prefix-compressed keys, then
// the restart array:
//
//	+---------+---------+-----+---------+-----------+-----+-----------+-------------+
//	| entry 0 | entry 1 | ... | entry n | restart 0 | ... | restart r | r+1  uint32 |
//	+---------+---------+-----+---------+-----------+-----+-----------+-------------+
//	                                      uint32 offsets of restart entries, ascending
//
//	entry:
//	+-----------------+-------------------+------------------+------------------+--------+
//	| shared uvarint  | unshared uvarint  | valueLen uvarint | key[shared:]     | value  |
//	+-----------------+-------------------+------------------+------------------+--------+
//
// An entry's key is the first shared bytes of the previous entry's key
// followed by its own unshared bytes. Every RestartInterval-th entry (every
// entry in the index block) is a restart point: it has shared = 0, and its
// offset is in the restart array, which always has at least one element
// (offset 0), even in an empty block. Lookups binary-search the restart
// points, then scan forward. Keys are internal keys (user key + 8-byte
// trailer, see package base).
//
// In the index block there is one entry per data block, in order: the key
// is the last internal key of the data block (>= every key in it and < every
// key of the next one), and the value is the block's handle:
//
//	+----------------+----------------+
//	| offset uvarint | length uvarint |
//	+----------------+----------------+
//
// # Filter block
//
// A bloom filter (github.com/bits-and-blooms/bloom/v3) over the table's
// distinct user keys, with m = BloomBitsPerKey*n bits and
// k = round(BloomBitsPerKey*ln 2) hash functions. The filter's elements are
// not the user keys themselves but the 8-byte little-endian 64-bit FNV-1a
// hash of each, which lets the writer buffer 8 bytes per key until it knows
// n. The block is bloom/v3's MarshalBinary encoding (big-endian):
//
//	+----------+----------+---------------------+---------------------------+
//	| m uint64 | k uint64 | bit count uint64 =m | ceil(m/64) words, uint64  |
//	+----------+----------+---------------------+---------------------------+
//
// # Properties block
//
// A sequence of tagged values; readers skip unknown tags:
//
//	+-------------+----------------+-------------------+
//	| tag uvarint | length uvarint | value (length B)  |  ... repeated
//	+-------------+----------------+-------------------+
//
// Numeric values are one uvarint filling the value. Tags: 1 NumEntries,
// 2 NumDeletions, 3 NumDataBlocks, 4 RawKeyBytes, 5 RawValueBytes,
// 6 DataBytes, 7 IndexBytes, 8 FilterBytes, 9 Smallest (internal key bytes),
// 10 Largest (internal key bytes), 11 SmallestSeq, 12 LargestSeq,
// 13 Compression, 14 BloomBitsPerKey, 15 FormatVersion.
//
// # Footer
//
//	offset  size
//	     0    16   filter handle: offset uint64, length uint64 (both 0 = no filter)
//	    16    16   index handle: offset uint64, length uint64
//	    32    16   properties handle: offset uint64, length uint64
//	    48     4   format version uint32 (FormatVersion = 1)
//	    52     4   CRC32C of bytes [0, 52)
//	    56     8   magic uint64 0x017473736762646d ("mdbgsst\x01")
//
// A bad magic number, footer checksum or unknown version is a corruption
// error.
//
// # Caveats
//
// Every byte of a table lies in a checksummed region, and every decoder
// (blocks, handles, filter, properties, decompression) checks its lengths
// before using them, so damage is reported as a *base.CorruptionError
// (errors.Is(err, base.ErrCorruption)) with the file name and offset, never
// as a panic or a wrong value.
//
// Reader.Get returns a copy of the value. Keys and values returned by
// iterators alias a cached block, which lives outside the Go heap and is
// reference counted: they are immutable, and valid until the iterator's
// next positioning call or Close, after which the block's memory may be
// reused. A caller that keeps them copies them. Reader.Get searches the
// index through an in-memory array of 8 key bytes per index entry (see
// indexSearch); the file format is not affected.
package sstable

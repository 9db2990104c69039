// Package wal frames records for the write-ahead log and the MANIFEST. The
// format is LevelDB's log format: the file is a sequence of 32 KiB blocks
// (the last one may be short), and each record is cut into one or more
// chunks that never cross a block boundary.
//
//	file:   +---------+---------+---------+-- ... --+-------------+
//	        | block 0 | block 1 | block 2 |         | last block  |
//	        +---------+---------+---------+-- ... --+-------------+
//	         <-32 KiB->                               (may be short)
//
//	block:  +---------+---------+-- ... --+---------+---------------+
//	        | chunk   | chunk   |         | chunk   | zeros (0-6 B) |
//	        +---------+---------+-- ... --+---------+---------------+
//
//	chunk:  +----------+--------+---------+--- ... ---+
//	        | CRC32C 4B| Len 2B | Type 1B | Payload   |
//	        +----------+--------+---------+--- ... ---+
//	         <------- 7-byte header ----->  Len bytes
//
// All integers are little-endian. CRC is the CRC-32C (Castagnoli) of the
// type byte followed by the payload, masked as LevelDB masks it:
//
//	masked = ((crc >> 15) | (crc << 17)) + 0xa282ead8
//
// so that a log stored inside a record of another log does not contain
// checksums of itself. Type is one of
//
//	1 FULL    the whole record
//	2 FIRST   the first chunk of a record cut into several
//	3 MIDDLE  an interior chunk
//	4 LAST    the final chunk
//
// Type 0 is never written; a header of all zeros is what padding and
// preallocated space look like. A record of length 0 is a FULL chunk with
// an empty payload. When fewer than 7 bytes remain in a block, the writer
// fills them with zeros and starts the next chunk in the next block; when
// exactly 7 remain, it writes a chunk with an empty payload there.
//
// # Torn tails and corruption
//
// A writer that is killed appends a prefix of what it meant to write: it
// can leave a partial last chunk (a header or payload cut short by the end
// of the file), or a record whose FIRST chunk is on disk but whose LAST is
// not. A power cut can also leave zeros where a write extended the file
// but its sectors never reached the disk, or garbage that is not a chunk.
// None of that is corruption: the Reader returns every complete record and
// then io.EOF, and Reader.TailDropped says how many bytes it discarded.
//
// What no crash leaves is a complete chunk (a known type, a length that
// fits) whose checksum fails: the writer computes the checksum before it
// writes the header, and appends in order. Such a chunk is corruption
// wherever it is, the last record of the log included: Next returns a
// *base.CorruptionError naming the file and the chunk's offset, and
// errors.Is(err, base.ErrCorruption) holds. So are an unknown type byte in
// a chunk that checksums right with a known one, and a length that runs
// past the data when the bytes that are there checksum right (a damaged
// type or length field). One exception keeps a power cut from looking like
// damage: a failing chunk in which a whole 512-byte sector, aligned in the
// file, reads as zeros (up to the end of the file if that comes first) is
// taken for a torn write. (LevelDB's reader draws the same line: a short
// record at the end of the file is a torn write, a checksum mismatch is
// corruption.)
//
// When the Reader meets a chunk a crash can leave, it scans every byte
// offset of the rest of the input, block by block, for a chunk with a
// valid header and checksum. If it finds one, a complete record was written
// after the damage, so the damage is in the middle of the log: Next
// returns a *base.CorruptionError with the offset of the bad chunk. If it
// finds none, the damage is a torn tail and Next returns io.EOF.
// Reader.SetTolerateCorruption makes the first bad chunk end the log
// (io.EOF) in every case, for point-in-time recovery.
//
// # Caveats
//
// The scan cannot tell a torn write from damage if the torn record's own
// payload happens to contain a complete, correctly checksummed chunk (a
// record that embeds a log); such a tail is reported as corruption, never
// silently accepted. Likewise, after a power failure, unsynced pages can
// reach the disk out of order, leaving a hole followed by valid chunks, and
// a filesystem that extends a file before writing its data can expose stale
// bytes shaped like a complete chunk; both are reported as corruption and
// need point-in-time recovery. A damaged record that holds an aligned
// sector of zeros of its own is taken for a torn write, and so is damage
// to the header of the last chunk that turns it into garbage (a length
// running past the end whose bytes do not checksum, an unknown type that
// checksums with none).
//
// # Usage
//
//	w := wal.NewWriter(f)
//	off, err := w.WriteRecord(batchRepr)
//	err = w.Sync()
//
//	r := wal.NewReader(f, "000007.log")
//	for {
//		rec, err := r.Next()
//		if err == io.EOF {
//			break // r.TailDropped() bytes of torn tail were ignored
//		}
//		if err != nil {
//			return err // *base.CorruptionError or an I/O error
//		}
//		apply(rec)
//	}
package wal

// Package base holds the types every layer of the engine shares: internal
// keys, sequence numbers and key kinds.
//
// An internal key is a user key followed by an 8-byte little-endian trailer
// that packs the sequence number and the kind:
//
//	+---------------- ... ---+-------------------------------+
//	| user key               | trailer: seq<<8 | kind (8 B)  |
//	+---------------- ... ---+-------------------------------+
//
// Internal keys sort by user key ascending, then by trailer descending, so
// that the newest version of a user key comes first.
package base

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// SeqNum is a sequence number. Every record written to the engine gets the
// next one; a snapshot is a sequence number.
type SeqNum uint64

// MaxSeqNum is the largest sequence number that fits in a trailer.
const MaxSeqNum SeqNum = 1<<56 - 1

// Kind says what an internal key records.
type Kind uint8

// The kinds of internal key. KindSet sorts after KindDelete for equal
// sequence numbers, which never happens in practice.
const (
	KindDelete Kind = 0
	KindSet    Kind = 1
	// KindMax is used to build search keys that sort before every real
	// entry of the same user key and sequence number.
	KindMax Kind = 1
)

// String returns the kind's name.
func (k Kind) String() string {
	switch k {
	case KindDelete:
		return "DEL"
	case KindSet:
		return "SET"
	}
	return fmt.Sprintf("KIND(%d)", uint8(k))
}

// TrailerLen is the length of an internal key's trailer.
const TrailerLen = 8

// MakeTrailer packs a sequence number and kind.
func MakeTrailer(seq SeqNum, kind Kind) uint64 { return uint64(seq)<<8 | uint64(kind) }

// AppendInternalKey appends the internal key (ukey, seq, kind) to dst.
func AppendInternalKey(dst, ukey []byte, seq SeqNum, kind Kind) []byte {
	dst = append(dst, ukey...)
	return binary.LittleEndian.AppendUint64(dst, MakeTrailer(seq, kind))
}

// MakeInternalKey returns a new internal key.
func MakeInternalKey(ukey []byte, seq SeqNum, kind Kind) []byte {
	return AppendInternalKey(make([]byte, 0, len(ukey)+TrailerLen), ukey, seq, kind)
}

// MakeSearchKey returns the smallest internal key for ukey that is visible
// at sequence number seq: seeking to it finds the newest version with a
// sequence number <= seq.
func MakeSearchKey(ukey []byte, seq SeqNum) []byte {
	return MakeInternalKey(ukey, seq, KindMax)
}

// UserKey returns the user key part of a valid internal key.
func UserKey(ikey []byte) []byte { return ikey[:len(ikey)-TrailerLen] }

// Trailer returns the trailer of a valid internal key.
func Trailer(ikey []byte) uint64 {
	return binary.LittleEndian.Uint64(ikey[len(ikey)-TrailerLen:])
}

// Seq returns the sequence number of a valid internal key.
func Seq(ikey []byte) SeqNum { return SeqNum(Trailer(ikey) >> 8) }

// KindOf returns the kind of a valid internal key.
func KindOf(ikey []byte) Kind { return Kind(Trailer(ikey) & 0xff) }

// Valid reports whether ikey is long enough to be an internal key and has a
// known kind.
func Valid(ikey []byte) bool {
	return len(ikey) >= TrailerLen && KindOf(ikey) <= KindSet
}

// Compare orders internal keys: user key ascending, then trailer descending.
func Compare(a, b []byte) int {
	if c := bytes.Compare(UserKey(a), UserKey(b)); c != 0 {
		return c
	}
	ta, tb := Trailer(a), Trailer(b)
	switch {
	case ta > tb:
		return -1
	case ta < tb:
		return 1
	}
	return 0
}

// ErrCorruption is the sentinel every corruption error matches with
// errors.Is. The storage package re-exports it.
var ErrCorruption = errors.New("storage: corruption")

// CorruptionError reports on-disk bytes that failed validation: a bad
// checksum, an impossible length, an unknown format version.
type CorruptionError struct {
	File   string // file name, without directory
	Offset int64  // byte offset of the damaged record or block, -1 if unknown
	Err    error  // what was wrong
}

// Error names the file, the offset and the problem.
func (e *CorruptionError) Error() string {
	if e.Offset < 0 {
		return fmt.Sprintf("storage: corruption in %s: %v", e.File, e.Err)
	}
	return fmt.Sprintf("storage: corruption in %s at offset %d: %v", e.File, e.Offset, e.Err)
}

// Unwrap returns the underlying cause.
func (e *CorruptionError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrCorruption) true for every CorruptionError.
func (e *CorruptionError) Is(target error) bool { return target == ErrCorruption }

// Corruptf builds a CorruptionError.
func Corruptf(file string, offset int64, format string, args ...any) error {
	return &CorruptionError{File: file, Offset: offset, Err: fmt.Errorf(format, args...)}
}

// InternalIterator is the iterator every internal source implements:
// memtables, sstables, levels, and the merging iterator over them. Keys are
// internal keys. Key and Value remain valid until the next positioning call.
type InternalIterator interface {
	// SeekGE moves to the first entry whose internal key is >= key.
	SeekGE(key []byte) bool
	// First moves to the first entry.
	First() bool
	// Next moves to the following entry.
	Next() bool
	// Valid reports whether the iterator is positioned at an entry.
	Valid() bool
	// Key returns the current internal key.
	Key() []byte
	// Value returns the current value.
	Value() []byte
	// Err returns the first error the iterator met, if any. An iterator
	// that met an error is not Valid.
	Err() error
	// Close releases the iterator's resources.
	Close() error
}

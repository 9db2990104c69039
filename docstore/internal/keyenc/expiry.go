package keyenc

import "encoding/binary"

// expiryTag is the first byte of the expiry keys (see ExpiryKey).
const expiryTag = 'x'

// ExpiryPrefix returns the prefix of every expiry key of collection:
// 'x' | AppendString(collection).
func ExpiryPrefix(collection string) []byte {
	return AppendString([]byte{expiryTag}, collection)
}

// ExpiryKey appends to dst the expiry key of document id of collection,
// which expires at ms (epoch milliseconds):
// ExpiryPrefix(collection) | ms as 8 bytes big-endian | AppendString(id).
// The keys of a collection sort by expiry time.
func ExpiryKey(dst []byte, collection string, ms uint64, id string) []byte {
	dst = append(dst, expiryTag)
	dst = AppendString(dst, collection)
	dst = binary.BigEndian.AppendUint64(dst, ms)
	return AppendString(dst, id)
}

// ExpiryBound returns ExpiryPrefix(collection) | ms as 8 bytes
// big-endian: every expiry key of collection below it expires before ms.
func ExpiryBound(collection string, ms uint64) []byte {
	return binary.BigEndian.AppendUint64(ExpiryPrefix(collection), ms)
}

// DecodeExpiryKey returns the time and _id of an ExpiryKey whose
// ExpiryPrefix is prefixLen bytes long, or an error wrapping ErrMalformed.
func DecodeExpiryKey(key []byte, prefixLen int) (ms uint64, id string, err error) {
	if prefixLen < 0 || len(key) < prefixLen+8 {
		return 0, "", malformed("expiry key shorter than its prefix and time")
	}
	ms = binary.BigEndian.Uint64(key[prefixLen:])
	id, rest, err := DecodeString(key[prefixLen+8:])
	if err != nil {
		return 0, "", err
	}
	if len(rest) != 0 {
		return 0, "", malformed("%d bytes after the expiry key's id", len(rest))
	}
	return ms, id, nil
}

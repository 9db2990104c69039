package keyenc

import (
	"bytes"
	"encoding/binary"

	"github.com/minidbgo/minidbgo/docstore/internal/jsondoc"
)

// Key space tags, the first byte of every key (see the package comment).
const (
	docTag   = 'd'
	metaTag  = 'm'
	indexTag = 'i'
	statsTag = 's'
)

// DocKey appends the key of document id in collection to dst:
// 'd' | AppendString(collection) | AppendString(id).
func DocKey(dst []byte, collection, id string) []byte {
	dst = append(dst, docTag)
	dst = AppendString(dst, collection)
	return AppendString(dst, id)
}

// DocPrefix returns the prefix shared by all document keys of collection
// and by no other key: 'd' | AppendString(collection). The documents of
// "a" and of "ab" are disjoint ranges.
func DocPrefix(collection string) []byte {
	return AppendString([]byte{docTag}, collection)
}

// DocIDFromKey returns the _id of a DocKey of collection, or an error
// wrapping ErrMalformed if key is not one.
func DocIDFromKey(key []byte, collection string) (string, error) {
	if len(key) == 0 || key[0] != docTag {
		return "", malformed("not a document key")
	}
	rest, ok := matchString(key[1:], collection)
	if !ok {
		return "", malformed("document key not in collection %q", collection)
	}
	id, rest, err := DecodeString(rest)
	if err != nil {
		return "", err
	}
	if len(rest) != 0 {
		return "", malformed("%d bytes after the document id", len(rest))
	}
	return id, nil
}

// CollectionMetaKey returns the key of collection's metadata:
// 'm' | AppendString(collection).
func CollectionMetaKey(collection string) []byte {
	return AppendString([]byte{metaTag}, collection)
}

// MetaPrefix returns the prefix of every CollectionMetaKey, "m"; the
// collection name follows it as an AppendString form.
func MetaPrefix() []byte { return []byte{metaTag} }

// StatsPrefix returns the prefix of every statistics key of collection:
// 's' | AppendString(collection).
func StatsPrefix(collection string) []byte {
	return AppendString([]byte{statsTag}, collection)
}

// StatsKey returns the key of statistics record id of collection:
// StatsPrefix(collection) | id as 8 bytes big-endian. Id 0 is the folded
// base; the others are deltas, in the order they were written.
func StatsKey(collection string, id uint64) []byte {
	return binary.BigEndian.AppendUint64(StatsPrefix(collection), id)
}

// StatsIDFromKey returns the id of a StatsKey; false when key is too
// short to hold one.
func StatsIDFromKey(key []byte) (uint64, bool) {
	if len(key) < 8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(key[len(key)-8:]), true
}

// IndexCollectionPrefix returns the prefix of every index entry of
// collection: 'i' | AppendString(collection).
func IndexCollectionPrefix(collection string) []byte {
	return AppendString([]byte{indexTag}, collection)
}

// IndexPrefix returns the prefix of every entry of one index:
// 'i' | AppendString(collection) | AppendString(index).
func IndexPrefix(collection, index string) []byte {
	return AppendString(IndexCollectionPrefix(collection), index)
}

// IndexKey appends an index entry key to dst: IndexPrefix(collection,
// index), then each of values encoded by AppendValue, or by
// AppendValueDesc where desc[i] is true (a desc shorter than values means
// ascending for the rest), then AppendString(id).
func IndexKey(dst []byte, collection, index string, values []jsondoc.Value, desc []bool, id string) []byte {
	dst = append(dst, indexTag)
	dst = AppendString(dst, collection)
	dst = AppendString(dst, index)
	for i, v := range values {
		if i < len(desc) && desc[i] {
			dst = AppendValueDesc(dst, v)
		} else {
			dst = AppendValue(dst, v)
		}
	}
	return AppendString(dst, id)
}

// DecodeIndexKeyID returns the _id of an IndexKey whose IndexPrefix is
// prefixLen bytes long and which holds nfields values, desc telling which
// are descending. It checks the values' encodings without decoding them,
// and returns an error wrapping ErrMalformed if key is not such a key.
func DecodeIndexKeyID(key []byte, prefixLen int, nfields int, desc []bool) (id string, err error) {
	if prefixLen < 0 || prefixLen > len(key) {
		return "", malformed("index key shorter than its prefix")
	}
	b := key[prefixLen:]
	for i := range nfields {
		if b, err = SkipValue(b, i < len(desc) && desc[i]); err != nil {
			return "", err
		}
	}
	id, b, err = DecodeString(b)
	if err != nil {
		return "", err
	}
	if len(b) != 0 {
		return "", malformed("%d bytes after the index entry id", len(b))
	}
	return id, nil
}

// PrefixEnd returns the smallest key greater than every key that starts
// with prefix: an exclusive upper bound for a prefix scan. It returns nil,
// meaning no upper bound, when prefix is empty or all 0xFF bytes. The
// result does not share memory with prefix.
func PrefixEnd(prefix []byte) []byte {
	for i := len(prefix) - 1; i >= 0; i-- {
		if prefix[i] != 0xFF {
			end := bytes.Clone(prefix[:i+1])
			end[i]++
			return end
		}
	}
	return nil
}

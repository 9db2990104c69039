package keyenc

import (
	"bytes"
	"testing"
)

func TestExpiryKeys(t *testing.T) {
	k1 := ExpiryKey(nil, "a", 5, "z")
	k2 := ExpiryKey(nil, "a", 6, "a")
	k3 := ExpiryKey(nil, "a", 1<<40, "")
	if !(bytes.Compare(k1, k2) < 0 && bytes.Compare(k2, k3) < 0) {
		t.Fatalf("expiry keys must sort by time first")
	}
	for _, k := range [][]byte{k1, k2, k3} {
		if !bytes.HasPrefix(k, ExpiryPrefix("a")) || bytes.HasPrefix(k, ExpiryPrefix("ab")) {
			t.Fatalf("%q: wrong collection prefix", k)
		}
	}
	if bytes.HasPrefix(ExpiryKey(nil, "ab", 1, "x"), ExpiryPrefix("a")) {
		t.Fatalf("collection \"ab\" inside \"a\"'s range")
	}
	if !(bytes.Compare(k2, ExpiryBound("a", 7)) < 0 && bytes.Compare(ExpiryBound("a", 6), k2) <= 0) {
		t.Fatalf("ExpiryBound must split the keys at a time")
	}
	ms, id, err := DecodeExpiryKey(ExpiryKey(nil, "c", 42, "id\x00x"), len(ExpiryPrefix("c")))
	if err != nil || ms != 42 || id != "id\x00x" {
		t.Fatalf("decode: %d %q %v", ms, id, err)
	}
	for _, bad := range [][]byte{ExpiryPrefix("c"), append(ExpiryKey(nil, "c", 1, "i"), 7)} {
		if _, _, err := DecodeExpiryKey(bad, len(ExpiryPrefix("c"))); err == nil {
			t.Fatalf("%q: decoded a malformed key", bad)
		}
	}
}

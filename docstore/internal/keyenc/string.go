package keyenc

import (
	"bytes"
	"errors"
	"fmt"
)

// ErrMalformed is wrapped by every error about bytes that are not a valid
// encoding.
var ErrMalformed = errors.New("keyenc: malformed encoding")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

const (
	escape     = 0x00 // starts an escape sequence
	escapedNul = 0xFF // escape, escapedNul is a 0x00 byte of the string
	terminator = 0x01 // escape, terminator ends the string
)

// AppendString appends the order-preserving, self-delimiting form of the
// byte string s to dst: each 0x00 becomes 0x00 0xFF and 0x00 0x01 ends it.
// Any bytes are allowed, and bytes.Compare on two forms agrees with
// strings.Compare on the strings.
func AppendString(dst []byte, s string) []byte {
	for {
		i := indexNul(s)
		if i < 0 {
			break
		}
		dst = append(dst, s[:i]...)
		dst = append(dst, escape, escapedNul)
		s = s[i+1:]
	}
	dst = append(dst, s...)
	return append(dst, escape, terminator)
}

func indexNul(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return i
		}
	}
	return -1
}

// DecodeString decodes an AppendString form at the start of b and returns
// the string and the bytes after it.
func DecodeString(b []byte) (s string, rest []byte, err error) {
	return decodeString(b, 0, true)
}

// decodeString decodes a string form whose bytes are XORed with mask
// (0x00 ascending, 0xFF descending). Without build it only skips.
func decodeString(b []byte, mask byte, build bool) (string, []byte, error) {
	var buf []byte
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], escape^mask)
		if j < 0 {
			return "", nil, malformed("unterminated string")
		}
		j += i
		if j+1 >= len(b) {
			return "", nil, malformed("truncated escape in string")
		}
		switch b[j+1] ^ mask {
		case terminator:
			if !build {
				return "", b[j+2:], nil
			}
			if buf == nil && mask == 0 {
				return string(b[:j]), b[j+2:], nil
			}
			buf = appendMasked(buf, b[i:j], mask)
			return string(buf), b[j+2:], nil
		case escapedNul:
			if build {
				buf = appendMasked(buf, b[i:j], mask)
				buf = append(buf, 0)
			}
			i = j + 2
		default:
			return "", nil, malformed("invalid escape 0x00 0x%02x in string", b[j+1]^mask)
		}
	}
}

func appendMasked(dst, src []byte, mask byte) []byte {
	if mask == 0 {
		return append(dst, src...)
	}
	for _, c := range src {
		dst = append(dst, c^mask)
	}
	return dst
}

// matchString reports whether b starts with AppendString(s) and returns
// the bytes after it, without allocating.
func matchString(b []byte, s string) ([]byte, bool) {
	for i := 0; i < len(s); i++ {
		if len(b) == 0 {
			return nil, false
		}
		if s[i] == 0 {
			if len(b) < 2 || b[0] != escape || b[1] != escapedNul {
				return nil, false
			}
			b = b[2:]
			continue
		}
		if b[0] != s[i] {
			return nil, false
		}
		b = b[1:]
	}
	if len(b) < 2 || b[0] != escape || b[1] != terminator {
		return nil, false
	}
	return b[2:], true
}

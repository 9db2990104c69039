package query

import (
	"regexp"
	"strings"
)

// maxRegexLen bounds a $regex pattern; RE2 runs in linear time, but its
// compiled size grows with the pattern.
const maxRegexLen = 4096

// compileRegex compiles a $regex pattern with MongoDB's $options: i (case
// insensitive), m (^ and $ match at line breaks), s (. matches newlines),
// x (extended: unescaped whitespace and #-comments outside character
// classes are ignored) and u (accepted; Go regexps are always Unicode).
// Patterns use Go's RE2 syntax, which lacks PCRE's backreferences and
// lookaround.
func compileRegex(pattern, options, at string) (*regexp.Regexp, error) {
	if len(pattern) > maxRegexLen {
		return nil, qerr(at, "$regex pattern is longer than %d bytes", maxRegexLen)
	}
	flags := ""
	for _, o := range options {
		switch o {
		case 'i', 'm', 's':
			if !strings.ContainsRune(flags, o) {
				flags += string(o)
			}
		case 'x':
			pattern = stripExtended(pattern)
		case 'u':
		default:
			return nil, qerr(at, "unsupported $options flag %q (use i, m, s, x)", o)
		}
	}
	if flags != "" {
		pattern = "(?" + flags + ")" + pattern
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, qerr(at, "invalid $regex: %v", err)
	}
	return re, nil
}

// stripExtended removes what the x option ignores: whitespace and
// comments from # to the end of the line, except when escaped or inside a
// character class.
func stripExtended(p string) string {
	var b strings.Builder
	inClass := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\\' && i+1 < len(p):
			b.WriteByte(c)
			b.WriteByte(p[i+1])
			i++
		case inClass:
			if c == ']' {
				inClass = false
			}
			b.WriteByte(c)
		case c == '[':
			inClass = true
			b.WriteByte(c)
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
		case c == '#':
			for i < len(p) && p[i] != '\n' {
				i++
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

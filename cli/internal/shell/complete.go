package shell

import (
	"context"
	"sort"
	"strings"
	"time"
)

// operators are the query and update operators offered when a key being
// completed starts with $.
var operators = []string{
	"$all", "$and", "$elemMatch", "$eq", "$exists", "$gt", "$gte", "$in", "$lt", "$lte",
	"$mod", "$ne", "$nin", "$nor", "$not", "$or", "$regex", "$size", "$type",
	"$addToSet", "$currentDate", "$each", "$inc", "$max", "$min", "$mul", "$pop", "$pull", "$pullAll",
	"$push", "$rename", "$set", "$slice", "$unset",
}

// complete returns the completions of the end of text (a statement typed
// so far, earlier lines included) and the partial word they complete.
// Candidates are whole words: the caller inserts what follows partial.
//
//   - the first word: command names;
//   - a collection argument (and use, stats, dumpAll, dropCollection):
//     collection names;
//   - help's argument: command names; dropIndex's: index names;
//     changes' since and limit;
//     distinct's field: field names seen;
//   - a key inside JSON ({"pr or , "pr): field names seen and, after $,
//     operators;
//   - db.<collection>.<method>(: collection names, then methods.
func (s *Shell) complete(ctx context.Context, text string) (cands []string, partial string) {
	if start, inKey, ok := jsonKeyContext(text); ok {
		if !inKey {
			return nil, ""
		}
		partial = text[start:]
		names := s.fieldNames()
		if strings.HasPrefix(partial, `"$`) {
			names = dollarWords(text)
		}
		for _, n := range names {
			if c := `"` + n + `"`; strings.HasPrefix(c, partial) {
				cands = append(cands, c)
			}
		}
		return cands, partial
	}
	words := strings.Fields(text)
	if len(text) > 0 && !isSpace(text[len(text)-1]) && len(words) > 0 {
		partial = words[len(words)-1]
		words = words[:len(words)-1]
	}
	if len(words) == 0 && strings.HasPrefix(partial, "db.") && !strings.Contains(partial, "(") {
		return s.completeDB(ctx, partial), partial
	}
	var pool []string
	suffix := " "
	switch {
	case len(words) == 0:
		pool = commandNames()
	case len(words) == 1 && strings.EqualFold(words[0], "show"):
		pool = []string{"collections"}
	case len(words) == 1 && strings.EqualFold(words[0], "help"):
		pool = commandNames()
	case len(words) == 1 && takesCollection(words[0]):
		pool = s.collectionNames(ctx)
	case len(words) >= 2 && len(words)%2 == 0 && strings.EqualFold(words[0], "changes"):
		pool = []string{"since", "limit"}
	case len(words) == 2 && strings.EqualFold(words[0], "distinct"):
		pool = s.fieldNames()
	case len(words) == 2 && strings.EqualFold(words[0], "dropIndex"):
		if ixs, err := s.be.listIndexes(ctx, words[1]); err == nil {
			for _, ix := range ixs {
				pool = append(pool, ix.Name)
			}
		}
	}
	for _, p := range pool {
		if strings.HasPrefix(p, partial) {
			cands = append(cands, p+suffix)
		}
	}
	sort.Strings(cands)
	return cands, partial
}

// takesCollection reports whether a command's first argument may be a
// collection name.
func takesCollection(name string) bool {
	c := lookup(name)
	if c == nil || len(c.params) == 0 {
		return false
	}
	p := c.params[0]
	return p.kind == pCollection || (p.kind == pWord && p.name == "collection")
}

// jsonKeyContext reports whether text ends inside a JSON value (ok), and
// if so whether it ends in an object key: either just after { or , (start
// = len(text), nothing typed) or inside a key string (start = its opening
// quote).
func jsonKeyContext(text string) (start int, inKey, ok bool) {
	type frame struct{ obj bool }
	var stack []frame
	inStr, esc := false, false
	strStart := 0
	lastSig := byte(0) // last significant byte outside strings
	sigBeforeStr := byte(0)
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case inStr && esc:
			esc = false
		case inStr && c == '\\':
			esc = true
		case inStr && c == '"':
			inStr = false
			lastSig = '"'
		case inStr:
		case c == '"':
			inStr, strStart, sigBeforeStr = true, i, lastSig
		case c == '{' || c == '[':
			stack = append(stack, frame{obj: c == '{'})
			lastSig = c
		case c == '}' || c == ']':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			lastSig = c
		case isSpace(c):
		default:
			lastSig = c
		}
	}
	if len(stack) == 0 {
		return 0, false, false
	}
	inObj := stack[len(stack)-1].obj
	if inStr {
		return strStart, inObj && (sigBeforeStr == '{' || sigBeforeStr == ','), true
	}
	if inObj && (lastSig == '{' || lastSig == ',') {
		return len(text), true, true
	}
	return 0, false, true
}

// completer adapts Shell.complete to the line editor: pending returns the
// lines of the statement typed before the current one.
type completer struct {
	s       *Shell
	pending func() string
}

// Do implements readline.AutoCompleter.
func (c *completer) Do(line []rune, pos int) ([][]rune, int) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	before := string(line[:pos])
	text := before
	if p := c.pending(); p != "" {
		text = p + "\n" + before
	}
	cands, partial := c.s.complete(ctx, text)
	n := len([]rune(partial))
	out := make([][]rune, len(cands))
	for i, cand := range cands {
		out[i] = []rune(cand)[n:]
	}
	return out, n
}

// completeDB completes the db form: db.pr → db.products., then
// db.products.fi → db.products.find( and db.products.findOne(.
func (s *Shell) completeDB(ctx context.Context, partial string) []string {
	var pool []string
	rest := partial[len("db."):]
	if i := strings.IndexByte(rest, '.'); i < 0 {
		for _, c := range s.collectionNames(ctx) {
			pool = append(pool, "db."+c+".")
		}
		pool = append(pool, "db.getCollectionNames()")
	} else {
		for _, m := range dbMethodNames() {
			pool = append(pool, "db."+rest[:i]+"."+m+"(")
		}
	}
	sort.Strings(pool)
	var out []string
	for _, c := range pool {
		if strings.HasPrefix(c, partial) {
			out = append(out, c)
		}
	}
	return out
}

package query

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/minidbgo/minidbgo/docstore/internal/jsondoc"
)

// TestGolden runs the files in testdata/ (update them with -rewrite).
// Directives:
//
//	docs                 input: one document per line; kept for later directives
//	match                input: [documents] then "filter {…}": the matching documents, or the error
//	update               input: [documents], optionally "filter {…}" (for $), then "update {…}": each updated
//	                     document, "(no match)", or an error per document; $currentDate reads goldenNow
//	project              input: [documents] then "project {…}": each projected document
//	sort                 input: [documents] then "sort {…}" or "sort a,-b": the documents in order (stable)
//	conditions           input: "filter {…}": Filter.Conditions, one path per line
//	lookup               input: one document, then "path a.b": Lookup's values
//	errors               input: lines "filter|update|project|sort …": "ok" or the error for each
func TestGolden(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		var docs []jsondoc.Value
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			in := parseInput(t, d)
			if len(in.docs) > 0 || d.Cmd == "docs" {
				if d.Cmd == "docs" {
					docs = in.docs
					return fmt.Sprintf("stored %d", len(docs))
				}
			} else {
				in.docs = docs
			}
			var out strings.Builder
			switch d.Cmd {
			case "match":
				f, err := ParseFilter(in.arg(t, "filter"))
				if err != nil {
					return "error: " + err.Error()
				}
				for _, doc := range in.docs {
					if f.Match(doc) {
						fmt.Fprintln(&out, doc)
					}
				}
				if out.Len() == 0 {
					return "(no match)"
				}
			case "update":
				u, err := ParseUpdate(in.arg(t, "update"))
				if err != nil {
					return "error: " + err.Error()
				}
				env := UpdateEnv{Now: goldenNow}
				if _, ok := in.raw["filter"]; ok {
					if env.Filter, err = ParseFilter(in.arg(t, "filter")); err != nil {
						return "error: " + err.Error()
					}
				}
				for _, doc := range in.docs {
					if env.Filter != nil && !env.Filter.Match(doc) {
						fmt.Fprintln(&out, "(no match)")
						continue
					}
					nv, err := u.ApplyEnv(doc, env)
					if err != nil {
						fmt.Fprintln(&out, "error:", err)
						continue
					}
					checkValid(t, nv)
					fmt.Fprintln(&out, nv)
				}
			case "project":
				p, err := ParseProjection(in.arg(t, "project"))
				if err != nil {
					return "error: " + err.Error()
				}
				for _, doc := range in.docs {
					fmt.Fprintln(&out, p.Apply(doc))
				}
			case "sort":
				var s *Sort
				var err error
				if raw := in.raw["sort"]; strings.HasPrefix(raw, "{") {
					s, err = ParseSort(in.arg(t, "sort"))
				} else {
					s, err = ParseSortString(raw)
				}
				if err != nil {
					return "error: " + err.Error()
				}
				sorted := slices.Clone(in.docs)
				slices.SortStableFunc(sorted, s.Compare)
				for _, doc := range sorted {
					fmt.Fprintln(&out, doc)
				}
			case "conditions":
				f, err := ParseFilter(in.arg(t, "filter"))
				if err != nil {
					return "error: " + err.Error()
				}
				return formatConditions(f.Conditions())
			case "lookup":
				if len(in.docs) != 1 {
					t.Fatalf("%s: lookup needs one document", d.Pos)
				}
				vals := Lookup(in.docs[0], in.raw["path"])
				if len(vals) == 0 {
					return "(none)"
				}
				for _, v := range vals {
					fmt.Fprintln(&out, v)
				}
			case "errors":
				for _, l := range in.lines {
					kind, raw, _ := strings.Cut(l, " ")
					var err error
					switch kind {
					case "filter":
						_, err = ParseFilter(mustParse(t, raw))
					case "update":
						_, err = ParseUpdate(mustParse(t, raw))
					case "project":
						_, err = ParseProjection(mustParse(t, raw))
					case "sort":
						if strings.HasPrefix(raw, "{") || strings.HasPrefix(raw, "[") {
							_, err = ParseSort(mustParse(t, raw))
						} else {
							_, err = ParseSortString(raw)
						}
					default:
						t.Fatalf("%s: unknown kind %q", d.Pos, kind)
					}
					if err == nil {
						fmt.Fprintln(&out, "ok")
					} else {
						fmt.Fprintln(&out, err)
					}
				}
			default:
				t.Fatalf("%s: unknown directive %q", d.Pos, d.Cmd)
			}
			return out.String()
		})
	})
}

// goldenNow is the clock of the update directive.
var goldenNow = time.Date(2026, 12, 6, 13, 14, 15, 123456789, time.UTC)

type goldenInput struct {
	docs  []jsondoc.Value
	raw   map[string]string // "filter" → its JSON text
	lines []string          // non-document lines, in order
}

func (in goldenInput) arg(t *testing.T, kind string) jsondoc.Value {
	raw, ok := in.raw[kind]
	if !ok {
		t.Fatalf("missing %q line", kind)
	}
	return mustParse(t, raw)
}

func parseInput(t *testing.T, d *datadriven.TestData) goldenInput {
	in := goldenInput{raw: map[string]string{}}
	for _, l := range strings.Split(d.Input, "\n") {
		l = strings.TrimSpace(l)
		switch {
		case l == "" || strings.HasPrefix(l, "#"):
		case strings.HasPrefix(l, "{"):
			in.docs = append(in.docs, mustParse(t, l))
		default:
			kind, rest, _ := strings.Cut(l, " ")
			in.raw[kind] = strings.TrimSpace(rest)
			in.lines = append(in.lines, l)
		}
	}
	return in
}

func mustParse(t testing.TB, s string) jsondoc.Value {
	t.Helper()
	v, err := jsondoc.Parse([]byte(s), jsondoc.Limits{})
	if err != nil {
		t.Fatalf("parse %s: %v", s, err)
	}
	return v
}

// checkValid asserts that v re-parses: no duplicate keys, valid JSON.
func checkValid(t testing.TB, v jsondoc.Value) {
	t.Helper()
	if _, err := jsondoc.Parse([]byte(v.String()), jsondoc.Limits{MaxDepth: 1 << 20}); err != nil {
		t.Fatalf("result %s does not re-parse: %v", v, err)
	}
}

func formatConditions(conds map[string]FieldCondition) string {
	if len(conds) == 0 {
		return "(none)"
	}
	paths := make([]string, 0, len(conds))
	for p := range conds {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var b strings.Builder
	for _, p := range paths {
		c := conds[p]
		var parts []string
		if c.Eq != nil {
			parts = append(parts, "eq="+c.Eq.String())
		}
		if c.In != nil {
			parts = append(parts, "in="+jsondoc.Array(c.In).String())
		}
		if c.Lower != nil || c.Upper != nil {
			r := "("
			if c.LowerInclusive {
				r = "["
			}
			if c.Lower != nil {
				r += c.Lower.String()
			}
			r += ", "
			if c.Upper != nil {
				r += c.Upper.String()
			}
			if c.UpperInclusive {
				r += "]"
			} else {
				r += ")"
			}
			parts = append(parts, "range="+r)
		}
		if c.ScalarUpper != nil {
			op := "<"
			if c.ScalarUpperInclusive {
				op = "<="
			}
			parts = append(parts, "scalar-upper"+op+c.ScalarUpper.String())
		}
		fmt.Fprintf(&b, "%s: %s\n", p, strings.Join(parts, " "))
	}
	return b.String()
}

package shell

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/minidbgo/minidbgo/docstore"
)

// defaultPage is findMany's page in an interactive shell (mongosh's batch
// size); `it` shows the next.
const defaultPage = 20

// Shell is one session: a backend, the collection chosen with `use`, the
// query `it` continues, and where output goes. It is driven by exec, one
// statement at a time, from the REPL, a script or a test. A Shell is not
// safe for concurrent use, except that the completer may read its names
// while a command runs.
type Shell struct {
	be   backend
	out  *printer
	errw io.Writer // errors, hints and progress
	// pageSize is findMany's page: 0 prints every result.
	pageSize int
	// progress draws progress bars on errw (a terminal).
	progress bool

	// stdinArg, when set, reads standard input for a JSON argument
	// typed as "-" (with -c, where stdin holds no statements).
	stdinArg func() ([]byte, error)

	current string      // the collection chosen with use
	cursor  *findCursor // what `it` continues

	mu     sync.Mutex // protects fields and cols
	fields map[string]bool
	cols   []string
}

// maxFieldNames bounds the field names kept for completion.
const maxFieldNames = 5000

func newShell(be backend, out *printer, errw io.Writer) *Shell {
	return &Shell{be: be, out: out, errw: errw, fields: map[string]bool{}}
}

// collectFields makes the shell remember the field names of the
// documents it prints and inserts, for completion.
func (s *Shell) collectFields() {
	s.out.seen = s.noteDoc
}

func (s *Shell) noteDoc(doc []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.fields) >= maxFieldNames {
		return
	}
	fieldPaths(doc, 3, func(p string) {
		if len(s.fields) < maxFieldNames {
			s.fields[p] = true
		}
	})
}

// fieldNames returns the field names seen, sorted.
func (s *Shell) fieldNames() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.fields))
	for f := range s.fields {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

// collectionNames returns the collections known from the last listing,
// plus the current one.
func (s *Shell) collectionNames(ctx context.Context) []string {
	cols, err := s.be.collections(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		s.cols = s.cols[:0]
		for _, c := range cols {
			s.cols = append(s.cols, c.Name)
		}
	}
	out := slices.Clone(s.cols)
	if s.current != "" && !slices.Contains(out, s.current) {
		out = append(out, s.current)
	}
	sort.Strings(out)
	return out
}

// prompt is the REPL's prompt: the current collection, like mongosh's.
func (s *Shell) prompt() string {
	if s.current != "" {
		return s.current + "> "
	}
	return "minidbgo> "
}

// exec runs one statement. Blank statements and comments (# or //) do
// nothing. It returns errExit for exit, a *usageError for a command typed
// wrongly, or the command's error.
func (s *Shell) exec(ctx context.Context, stmt string) error {
	orig := stmt
	stmt = strings.TrimSpace(stmt)
	if stmt == "" || strings.HasPrefix(stmt, "#") || strings.HasPrefix(stmt, "//") {
		return nil
	}
	lead := len(orig) - len(strings.TrimLeft(orig, " \t\r\n"))
	locate := func(i int) locator { return statementLocator(orig, lead+i) }
	if strings.HasSuffix(stmt, ";") && depth(stmt) == 0 {
		stmt = strings.TrimSpace(strings.TrimSuffix(stmt, ";"))
	}
	switch d := depth(stmt); {
	case d > 0:
		return &cmdError{code: "invalid_json", msg: fmt.Sprintf("unexpected end of input: %d unclosed bracket(s)", d)}
	case d < 0:
		return &cmdError{code: "invalid_json", msg: "unbalanced brackets: more closed than opened"}
	}
	if isDBCall(stmt) {
		return s.execDBCall(ctx, stmt, locate)
	}
	args, err := splitArgs(stmt, locate)
	if err != nil {
		return err
	}
	if len(args) == 0 {
		return nil
	}
	if args[0].json {
		return usagef("a command starts with its name, not JSON; type help for the list")
	}
	name := args[0].text
	if strings.EqualFold(name, "show") {
		if len(args) == 2 && strings.EqualFold(args[1].text, "collections") {
			name, args = "show collections", nil
		} else {
			return &usageError{msg: "show what? MiniDBGo has one database; try show collections", usage: "show collections"}
		}
	} else if strings.EqualFold(name, "cluster") {
		if len(args) < 2 || args[1].json || lookup("cluster "+args[1].text) == nil {
			return &usageError{msg: "cluster what? status, join, remove or transfer-leadership", usage: "cluster status"}
		}
		name, args = "cluster "+args[1].text, args[2:]
	} else {
		args = args[1:]
	}
	cmd := lookup(name)
	if cmd == nil {
		msg := fmt.Sprintf("unknown command %q; type help for the list", name)
		if sug := suggest(name); sug != "" {
			msg = fmt.Sprintf("unknown command %q; did you mean %s? (type help for the list)", name, sug)
		}
		return usagef("%s", msg)
	}
	col, rest, err := s.resolve(cmd, args)
	if err != nil {
		return err
	}
	return cmd.run(s, ctx, col, rest)
}

// resolve matches a command's arguments to its parameters: it finds the
// collection (typed, or the one chosen with use) and checks the count and
// the kinds of the rest.
func (s *Shell) resolve(cmd *command, given []arg) (string, []arg, error) {
	params := cmd.params
	col := ""
	if len(params) > 0 && params[0].kind == pCollection {
		params = params[1:]
		explicit := len(given) > 0 && !given[0].json &&
			(len(given) > len(params) || len(params) == 0 || params[0].kind == pJSON || len(given) > required(params))
		if explicit {
			col, given = given[0].text, given[1:]
		} else if s.current != "" {
			col = s.current
		} else {
			return "", nil, &usageError{msg: "which collection? name it, or choose one with use <collection>", usage: cmd.synopsis()}
		}
		if err := validName(col); err != nil {
			return "", nil, err
		}
	}
	given, err := s.checkArgs(cmd, params, given)
	return col, given, err
}

// checkArgs checks the count and the kinds of a command's arguments after
// the collection, reads a JSON argument typed as - from standard input,
// and turns the relaxed JSON arguments into strict JSON.
func (s *Shell) checkArgs(cmd *command, params []param, given []arg) ([]arg, error) {
	if len(given) < required(params) {
		return nil, &usageError{msg: fmt.Sprintf("%s needs %s", cmd.name, params[len(given)].placeholder()), usage: cmd.synopsis()}
	}
	if len(given) > len(params) {
		return nil, &usageError{msg: fmt.Sprintf("%s takes at most %d argument(s) after the collection; got %q", cmd.name, len(params), given[len(params)].text), usage: cmd.synopsis()}
	}
	for i, a := range given {
		p := params[i]
		if a.text == "-" && !a.json && (p.kind == pJSON || p.kind == pAny) {
			if s.stdinArg == nil {
				return nil, &usageError{msg: fmt.Sprintf("%s as - reads standard input, which only -c leaves free", p.placeholder()), usage: cmd.synopsis()}
			}
			b, err := s.stdinArg()
			if err != nil {
				return nil, &cmdError{code: "stdin_error", msg: fmt.Sprintf("reading %s from standard input: %v", p.name, err)}
			}
			text := strings.TrimSpace(string(b))
			loc := statementLocator(text, 0)
			a = arg{text: text, json: true, at: func(i int) string { return loc(i) + " of standard input" }}
			if a.text == "" || (a.text[0] != '{' && a.text[0] != '[') {
				a.json = false
				if p.kind == pJSON {
					return nil, &cmdError{code: "invalid_json", msg: fmt.Sprintf("%s from standard input must be a JSON object or array", p.name)}
				}
			}
			given[i] = a
		}
		switch {
		case p.kind == pJSON && !a.json:
			return nil, &usageError{msg: fmt.Sprintf("%s must be a JSON object, got %q", p.placeholder(), a.text), usage: cmd.synopsis()}
		case p.kind == pWord && a.json:
			return nil, &usageError{msg: fmt.Sprintf("%s must be a word, not JSON", p.placeholder()), usage: cmd.synopsis()}
		case a.json:
			at := a.at
			if at == nil {
				at = statementLocator(a.text, 0)
			}
			strict, err := relaxJSON(p.name, a.text, at)
			if err != nil {
				return nil, err
			}
			given[i].text = strict
		}
	}
	return given, nil
}

// mustExist returns the backend's not_found error when col does not
// exist. Reads on a missing collection fail instead of finding nothing,
// so that a misspelt name is noticed; it is checked only when a command
// found nothing, so existing collections cost no extra call.
func (s *Shell) mustExist(ctx context.Context, col string) error {
	_, err := s.be.collection(ctx, col)
	return err
}

// hint writes a line for the person at the terminal (not a result).
func (s *Shell) hint(format string, args ...any) {
	fmt.Fprintf(s.errw, format+"\n", args...)
}

// isNotFound reports whether err is the database's or the server's
// not_found.
func isNotFound(err error) bool {
	code, _ := errorCode(err)
	return code == "not_found" || errors.Is(err, docstore.ErrNotFound)
}

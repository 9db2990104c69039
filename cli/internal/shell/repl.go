package shell

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"

	"github.com/chzyer/readline"
)

// runScript runs the statements read from r (a -c argument or standard
// input): no prompts, stopping at the first failed statement. It returns
// the exit status: 0, 1 for a failed command, 2 for a usage error.
func (s *Shell) runScript(ctx context.Context, r io.Reader) int {
	br := bufio.NewReaderSize(r, 64<<10)
	var stmt strings.Builder
	for {
		line, rerr := br.ReadString('\n')
		if rerr != nil && rerr != io.EOF {
			printError(s.errw, rerr)
			return exitFailed
		}
		if line != "" || stmt.Len() > 0 {
			if stmt.Len() > 0 {
				stmt.WriteByte('\n')
			}
			stmt.WriteString(strings.TrimRight(line, "\r\n"))
			if depth(stmt.String()) <= 0 || rerr == io.EOF {
				err := s.exec(ctx, stmt.String())
				stmt.Reset()
				if errors.Is(err, errExit) {
					return exitOK
				}
				if err != nil {
					printError(s.errw, err)
					return exitCode(err)
				}
				if ctx.Err() != nil {
					printError(s.errw, ctx.Err())
					return exitSignal
				}
			}
		}
		if rerr == io.EOF {
			return exitOK
		}
	}
}

// terminal is the interactive shell's terminal: the files behind stdin and
// stdout (a pseudo-terminal in tests).
type terminal struct {
	in, out *os.File
}

// repl runs the interactive shell on a terminal with line editing,
// history and completion. Ctrl-C cancels the line being typed (or the
// command running, through interrupt); Ctrl-D or exit leaves.
func (s *Shell) repl(ctx context.Context, t terminal, history string, interrupt *interrupter) int {
	var (
		mu      sync.Mutex
		pending strings.Builder // lines of an unfinished statement
	)
	getPending := func() string {
		mu.Lock()
		defer mu.Unlock()
		return pending.String()
	}
	var raw *readline.State
	hist, err := loadHistory(history, historyLimit)
	if err != nil {
		printError(s.errw, fmt.Errorf("history %s: %w", history, err))
	}
	cfg := &readline.Config{
		Prompt:                 s.prompt(),
		HistoryLimit:           historyLimit,
		DisableAutoSaveHistory: true,
		AutoComplete:           &completer{s: s, pending: getPending},
		Stdin:                  t.in,
		Stdout:                 t.out,
		Stderr:                 t.out,
		FuncIsTerminal:         func() bool { return true },
		FuncGetWidth: func() int {
			w, _, err := readline.GetSize(int(t.out.Fd()))
			if err != nil || w <= 0 {
				return 80
			}
			return w
		},
		FuncMakeRaw: func() error {
			st, err := readline.MakeRaw(int(t.in.Fd()))
			raw = st
			return err
		},
		FuncExitRaw: func() error {
			if raw == nil {
				return nil
			}
			return readline.Restore(int(t.in.Fd()), raw)
		},
		FuncOnWidthChanged: func(func()) {},
	}
	interrupt.enterREPL()
	rl, err := readline.NewEx(cfg)
	if err != nil {
		printError(s.errw, fmt.Errorf("line editor: %w", err))
		return exitFailed
	}
	defer rl.Close()
	hist.install(rl)
	// SIGTERM (the root context) interrupts the line editor too.
	stop := context.AfterFunc(ctx, func() { _ = rl.Close() })
	defer stop()
	for {
		mu.Lock()
		cont := pending.Len() > 0
		mu.Unlock()
		if cont {
			rl.SetPrompt("... ")
		} else {
			rl.SetPrompt(s.prompt())
		}
		line, err := rl.Readline()
		if ctx.Err() != nil {
			return exitSignal
		}
		switch {
		case errors.Is(err, readline.ErrInterrupt):
			mu.Lock()
			pending.Reset()
			mu.Unlock()
			continue
		case errors.Is(err, io.EOF):
			return exitOK
		case err != nil:
			printError(s.errw, err)
			return exitFailed
		}
		mu.Lock()
		if pending.Len() > 0 {
			pending.WriteByte('\n')
		}
		pending.WriteString(line)
		stmt := pending.String()
		if depth(stmt) > 0 {
			mu.Unlock()
			continue
		}
		pending.Reset()
		mu.Unlock()
		if strings.TrimSpace(stmt) == "" {
			continue
		}
		if err := hist.add(rl, oneLine(stmt)); err != nil {
			printError(s.errw, fmt.Errorf("history %s: %w", history, err))
		}
		cctx, done := interrupt.start(ctx)
		err = s.exec(cctx, stmt)
		interrupted := cctx.Err() != nil
		done()
		switch {
		case errors.Is(err, errExit):
			return exitOK
		case err != nil && interrupted && ctx.Err() == nil:
			_, msg := errorCode(err)
			fmt.Fprintf(s.errw, "interrupted (%s)\n", msg)
		case err != nil:
			printError(s.errw, err)
		}
		if ctx.Err() != nil {
			return exitSignal
		}
	}
}

var lineBreaks = regexp.MustCompile(`\s*\n\s*`)

// oneLine joins a multi-line statement into one history entry (JSON
// strings hold no newlines, so this changes no value).
func oneLine(stmt string) string {
	return lineBreaks.ReplaceAllString(strings.TrimSpace(stmt), " ")
}

// historyLimit is how many statements the history keeps.
const historyLimit = 1000

// history is the shell's statement history: one line per statement (a
// multi-line statement joined by oneLine), in memory and appended to its
// file. It is kept here rather than by the line editor, whose own
// history, when a statement continues over several Readline calls after
// Up recalled an older entry, saves the last line typed ("}") instead of
// the statement.
type history struct {
	path    string // "" when history is off
	entries []string
	limit   int
}

// loadHistory reads the last limit statements of the file at path (""
// for none). A file longer than twice the limit is rewritten with them.
func loadHistory(path string, limit int) (*history, error) {
	h := &history{path: path, limit: limit}
	if path == "" {
		return h, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return h, err
	}
	lines := strings.Split(string(b), "\n")
	for _, l := range lines {
		if l = strings.TrimRight(l, "\r"); strings.TrimSpace(l) != "" {
			h.entries = append(h.entries, l)
		}
	}
	if len(h.entries) > limit {
		h.entries = h.entries[len(h.entries)-limit:]
		if len(lines) > 2*limit {
			err = os.WriteFile(path, []byte(strings.Join(h.entries, "\n")+"\n"), 0o600)
		}
	}
	return h, err
}

// install puts the entries into the line editor's history, for Up and
// Down, afresh (which also resets its position to the end).
func (h *history) install(rl *readline.Instance) {
	rl.ResetHistory()
	for _, e := range h.entries {
		_ = rl.SaveHistory(e) // no file: the editor's history is memory only
	}
}

// add records a statement: appended to the file and to the line editor's
// history, unless it repeats the previous one.
func (h *history) add(rl *readline.Instance, stmt string) error {
	if n := len(h.entries); n > 0 && h.entries[n-1] == stmt {
		h.install(rl)
		return nil
	}
	h.entries = append(h.entries, stmt)
	if len(h.entries) > h.limit {
		h.entries = h.entries[len(h.entries)-h.limit:]
	}
	h.install(rl)
	if h.path == "" {
		return nil
	}
	f, err := os.OpenFile(h.path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = f.WriteString(stmt + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// interrupter turns SIGINT into cancellation: of the running command in
// an interactive shell (Ctrl-C outside the line editor's raw mode), of
// everything (root) otherwise.
type interrupter struct {
	root context.CancelFunc

	mu     sync.Mutex // protects the fields below
	repl   bool
	cancel context.CancelFunc
}

// enterREPL makes SIGINT cancel commands rather than the session.
func (i *interrupter) enterREPL() {
	if i == nil {
		return
	}
	i.mu.Lock()
	i.repl = true
	i.mu.Unlock()
}

// start returns the context of one command.
func (i *interrupter) start(ctx context.Context) (context.Context, func()) {
	if i == nil {
		return ctx, func() {}
	}
	cctx, cancel := context.WithCancel(ctx)
	i.mu.Lock()
	i.cancel = cancel
	i.mu.Unlock()
	return cctx, func() {
		i.mu.Lock()
		i.cancel = nil
		i.mu.Unlock()
		cancel()
	}
}

// interrupt cancels the running command, if any, in a REPL, and the
// whole session otherwise.
func (i *interrupter) interrupt() {
	i.mu.Lock()
	defer i.mu.Unlock()
	switch {
	case !i.repl:
		i.root()
	case i.cancel != nil:
		i.cancel()
	}
}

// historyPath returns where the history lives: $MINIDBGO_HISTORY, else
// minidbgo/history in the user's configuration directory ("" and no
// error when history is off). The directory is created private.
func historyPath(setting string, getenv func(string) string) (string, error) {
	switch setting {
	case "off", "none", "/dev/null":
		return "", nil
	case "":
		dir := userConfigDir(getenv)
		if dir == "" {
			return "", errors.New("no configuration directory (set HOME or MINIDBGO_HISTORY)")
		}
		setting = filepath.Join(dir, "minidbgo", "history")
	}
	if err := os.MkdirAll(filepath.Dir(setting), 0o700); err != nil {
		return "", err
	}
	// The line editor creates the file world-readable; a history holds
	// documents, so create it private first.
	f, err := os.OpenFile(setting, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return "", err
	}
	return setting, f.Close()
}

// userConfigDir is os.UserConfigDir, reading the given environment.
func userConfigDir(getenv func(string) string) string {
	switch runtime.GOOS {
	case "windows":
		return getenv("AppData")
	case "darwin", "ios":
		if h := getenv("HOME"); h != "" {
			return filepath.Join(h, "Library", "Application Support")
		}
		return ""
	}
	if d := getenv("XDG_CONFIG_HOME"); d != "" && filepath.IsAbs(d) {
		return d
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".config")
	}
	return ""
}

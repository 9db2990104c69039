package cluster

import (
	"bytes"
	"context"
	"io"
	"log"
	"log/slog"
	"slices"
	"strings"

	"github.com/hashicorp/go-hclog"
)

// raftLogger is hashicorp/raft's logger (an hclog.Logger) writing to the
// node's slog.Logger: Raft's lines (elections, leader changes, peers,
// snapshots) go to the server's log, in its format (LOG_FORMAT), at its
// level (LOG_LEVEL: Raft's info lines show at info, its debug and trace
// lines at debug), each with "module":"raft" (or raft.<name> for a
// logger Named from it).
type raftLogger struct {
	l    *slog.Logger
	name string
	args []any // With's
}

func newRaftLogger(l *slog.Logger) hclog.Logger { return &raftLogger{l: l, name: "raft"} }

// slogLevel maps an hclog level to slog's; Trace is below Debug.
func slogLevel(lv hclog.Level) slog.Level {
	switch lv {
	case hclog.Trace:
		return slog.LevelDebug - 4
	case hclog.Debug:
		return slog.LevelDebug
	case hclog.Warn:
		return slog.LevelWarn
	case hclog.Error:
		return slog.LevelError
	}
	return slog.LevelInfo
}

func (r *raftLogger) enabled(lv hclog.Level) bool {
	return r.l.Enabled(context.Background(), slogLevel(lv))
}

// Log writes msg with hclog's alternating key/value args, which slog
// takes alike.
func (r *raftLogger) Log(lv hclog.Level, msg string, args ...any) {
	if lv == hclog.Off || !r.enabled(lv) {
		return
	}
	all := make([]any, 0, 2+len(r.args)+len(args))
	all = append(all, "module", r.name)
	all = append(all, r.args...)
	all = append(all, args...)
	r.l.Log(context.Background(), slogLevel(lv), msg, all...)
}

// Trace, Debug, Info, Warn and Error log at their level; the Is methods
// say whether the server's log shows that level.
func (r *raftLogger) Trace(msg string, args ...any) { r.Log(hclog.Trace, msg, args...) }
func (r *raftLogger) Debug(msg string, args ...any) { r.Log(hclog.Debug, msg, args...) }
func (r *raftLogger) Info(msg string, args ...any)  { r.Log(hclog.Info, msg, args...) }
func (r *raftLogger) Warn(msg string, args ...any)  { r.Log(hclog.Warn, msg, args...) }
func (r *raftLogger) Error(msg string, args ...any) { r.Log(hclog.Error, msg, args...) }

func (r *raftLogger) IsTrace() bool { return r.enabled(hclog.Trace) }
func (r *raftLogger) IsDebug() bool { return r.enabled(hclog.Debug) }
func (r *raftLogger) IsInfo() bool  { return r.enabled(hclog.Info) }
func (r *raftLogger) IsWarn() bool  { return r.enabled(hclog.Warn) }
func (r *raftLogger) IsError() bool { return r.enabled(hclog.Error) }

// ImpliedArgs are the key/value pairs With added.
func (r *raftLogger) ImpliedArgs() []any { return r.args }

// With returns a logger that adds args to every line.
func (r *raftLogger) With(args ...any) hclog.Logger {
	return &raftLogger{l: r.l, name: r.name, args: append(slices.Clip(r.args), args...)}
}

// Name is the logger's "module".
func (r *raftLogger) Name() string { return r.name }

// Named returns a logger whose module is this one's plus "." + name.
func (r *raftLogger) Named(name string) hclog.Logger {
	return &raftLogger{l: r.l, name: r.name + "." + name, args: r.args}
}

// ResetNamed returns a logger whose module is name.
func (r *raftLogger) ResetNamed(name string) hclog.Logger {
	return &raftLogger{l: r.l, name: name, args: r.args}
}

// SetLevel does nothing: the level is the server's (LOG_LEVEL).
func (r *raftLogger) SetLevel(hclog.Level) {}

// GetLevel returns the lowest hclog level the server's log shows.
func (r *raftLogger) GetLevel() hclog.Level {
	for _, lv := range []hclog.Level{hclog.Trace, hclog.Debug, hclog.Info, hclog.Warn, hclog.Error} {
		if r.enabled(lv) {
			return lv
		}
	}
	return hclog.Off
}

// StandardLogger returns a log.Logger writing through StandardWriter.
func (r *raftLogger) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(r.StandardWriter(opts), "", 0)
}

// StandardWriter logs each line written to it, at Info or at the level
// opts forces.
func (r *raftLogger) StandardWriter(opts *hclog.StandardLoggerOptions) io.Writer {
	lv := hclog.Info
	if opts != nil && opts.ForceLevel != hclog.NoLevel {
		lv = opts.ForceLevel
	}
	return lineWriter(func(line string) { r.Log(lv, line) })
}

// lineWriter calls itself with each line of what is written (one Write
// call is one log.Logger line).
type lineWriter func(string)

func (w lineWriter) Write(p []byte) (int, error) {
	for line := range strings.SplitSeq(string(bytes.TrimRight(p, "\n")), "\n") {
		w(line)
	}
	return len(p), nil
}

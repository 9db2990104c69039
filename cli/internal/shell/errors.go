package shell

import (
	"errors"
	"fmt"
	"io"

	"github.com/minidbgo/minidbgo/docstore"
	"github.com/minidbgo/minidbgo/httpd"
	"github.com/minidbgo/minidbgo/httpd/client"
	"github.com/minidbgo/minidbgo/storage"
)

// Exit statuses of Run.
const (
	exitOK     = 0
	exitFailed = 1 // a command failed
	exitUsage  = 2 // a usage error: bad flags, unknown command, wrong arguments
	exitSignal = 130
)

// cmdError is a failed command the shell itself detects (bad JSON, bad
// options): a machine code like the server's, and a message.
type cmdError struct {
	code string
	msg  string
}

func (e *cmdError) Error() string { return e.msg }

// usageError is a command typed wrongly: an unknown command or the wrong
// arguments. usage, when set, is the command's synopsis.
type usageError struct {
	msg   string
	usage string
}

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// errExit asks the shell to stop (the exit command).
var errExit = errors.New("exit")

// errorCode returns the machine code and message of a command's error:
// the database's or the server's code when there is one.
func errorCode(err error) (code, msg string) {
	if err == nil {
		return "", ""
	}
	var (
		ce *cmdError
		he *client.Error
	)
	switch {
	case errors.As(err, &ce):
		return ce.code, ce.msg
	case errors.As(err, &he):
		return he.Code, he.Message
	case !embeddedFailure(err):
		return "", err.Error()
	}
	// The database's and the engine's failures read as the server answers
	// them through --url (httpd.ErrorAnswer). An internal error adds its
	// cause: in embedded mode there is no server log to look in.
	a := httpd.ErrorAnswer(err)
	if a.Code == "internal" {
		return a.Code, a.Error + ": " + err.Error()
	}
	return a.Code, a.Error
}

// embeddedFailure reports whether err came from the database in embedded
// mode (a docstore or storage error) rather than from the shell itself.
func embeddedFailure(err error) bool {
	var de *docstore.Error
	return errors.As(err, &de) || errors.Is(err, storage.ErrBusy) || errors.Is(err, storage.ErrReadOnly) ||
		errors.Is(err, storage.ErrClosed) || errors.Is(err, storage.ErrCorruption)
}

// printError writes err to w the way every command reports failure:
//
//	error (not_found): document "p9" not found in "products"
//	usage: findOne [collection] [filter] [projection]
func printError(w io.Writer, err error) {
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(w, "error: %s\n", ue.msg)
		if ue.usage != "" {
			fmt.Fprintf(w, "usage: %s\n", ue.usage)
		}
		return
	}
	code, msg := errorCode(err)
	if code == "" {
		fmt.Fprintf(w, "error: %s\n", msg)
		return
	}
	fmt.Fprintf(w, "error (%s): %s\n", code, msg)
}

// exitCode is Run's status for a command's error.
func exitCode(err error) int {
	var ue *usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	return exitFailed
}

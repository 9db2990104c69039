package shell

import (
	"errors"
	"fmt"
	"io"

	"github.com/minidbgo/minidbgo/docstore"
	"github.com/minidbgo/minidbgo/httpd/client"
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
		de *docstore.Error
		he *client.Error
	)
	switch {
	case errors.As(err, &ce):
		return ce.code, ce.msg
	case errors.As(err, &he):
		return he.Code, he.Message
	case errors.As(err, &de):
		msg := de.Msg
		if msg == "" {
			msg = de.Code
		}
		return de.Code, msg
	}
	return "", err.Error()
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

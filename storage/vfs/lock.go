package vfs

import (
	"fmt"
	"strconv"
	"strings"
)

// LockError is the error Lock returns when another process holds the lock;
// it matches ErrLocked under errors.Is, and errors.As gives the holder.
type LockError struct {
	Name string // the lock file
	PID  int    // the holder's process id; 0 when unknown
}

// Error names the lock file and its holder.
func (e *LockError) Error() string {
	if e.PID > 0 {
		return fmt.Sprintf("lock %s: held by pid %d: %v", e.Name, e.PID, ErrLocked)
	}
	return fmt.Sprintf("lock %s: held by another process: %v", e.Name, ErrLocked)
}

// Unwrap makes a LockError match ErrLocked.
func (e *LockError) Unwrap() error { return ErrLocked }

// lockedError is the error Lock returns when pid holds the lock on name; pid
// is 0 when the holder is unknown.
func lockedError(name string, pid int) error { return &LockError{Name: name, PID: pid} }

// pidRecord is what a lock file holds: the holder's pid and a newline.
func pidRecord(pid int) []byte {
	return []byte(strconv.Itoa(pid) + "\n")
}

// parsePID parses a lock file's contents, returning 0 if they are not a pid.
func parsePID(b []byte) int {
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

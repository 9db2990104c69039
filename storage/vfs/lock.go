package vfs

import (
	"fmt"
	"strconv"
	"strings"
)

// lockedError is the error Lock returns when pid holds the lock on name; pid
// is 0 when the holder is unknown.
func lockedError(name string, pid int) error {
	if pid > 0 {
		return fmt.Errorf("lock %s: held by pid %d: %w", name, pid, ErrLocked)
	}
	return fmt.Errorf("lock %s: held by another process: %w", name, ErrLocked)
}

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

//go:build killpoints && unix

package storage

import (
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// killpoints maps a point's name to its odds, from MINIDBGO_KILLPOINT:
// "name:odds[,name:odds...]" (odds 1 kills on the first pass).
var killpoints = parseKillpoints(os.Getenv("MINIDBGO_KILLPOINT"))

func parseKillpoints(s string) map[string]uint64 {
	m := map[string]uint64{}
	for _, part := range strings.Split(s, ",") {
		name, odds, ok := strings.Cut(strings.TrimSpace(part), ":")
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(odds, 10, 64)
		if err != nil || n == 0 {
			continue
		}
		m[name] = n
	}
	return m
}

// killpoint SIGKILLs the process, with probability 1/odds, when name is
// enabled by MINIDBGO_KILLPOINT. Test builds only (-tags killpoints).
func killpoint(name string) {
	odds, ok := killpoints[name]
	if !ok || rand.Uint64N(odds) != 0 {
		return
	}
	os.Stderr.WriteString(`{"msg":"killpoint","point":"` + name + `"}` + "\n")
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {} // the signal is on its way
}

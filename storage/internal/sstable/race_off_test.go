//go:build !race

package sstable

// raceEnabled shrinks the heaviest tests under the race detector, which
// slows them down tenfold; the plain run covers them in full.
const raceEnabled = false

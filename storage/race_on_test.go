//go:build race

package storage

// raceEnabled shrinks the heaviest tests under the race detector.
const raceEnabled = true

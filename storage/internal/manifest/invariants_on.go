//go:build invariants || race

package manifest

// invariantsEnabled turns on the expensive self-checks.
const invariantsEnabled = true

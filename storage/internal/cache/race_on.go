//go:build race

package cache

// poisonFreed overwrites freed block memory, so that a use after free
// reads garbage (and fails checksums or comparisons) in race-enabled test
// runs instead of passing by luck.
const poisonFreed = true

//go:build race

package cache

import "bytes"

// poisonFreed overwrites freed block memory with poison, so that a use
// after free reads garbage (and fails checksums or comparisons) in
// race-enabled test runs instead of passing by luck.
const poisonFreed = true

var poison = bytes.Repeat([]byte{0xdb}, maxSlabSize)

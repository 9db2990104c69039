//go:build !race

package cache

const poisonFreed = false

var poison []byte

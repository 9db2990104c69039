//go:build !unix

package cache

// mapRegion returns nil: without mmap, blocks live on the Go heap.
func mapRegion(int) []byte { return nil }

func unmap([]byte) {}

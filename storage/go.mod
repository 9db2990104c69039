module github.com/minidbgo/minidbgo/storage

go 1.26

require (
	github.com/bits-and-blooms/bloom/v3 v3.7.1
	github.com/klauspost/compress v1.20.4
	github.com/stretchr/testify v1.12.1
)

require (
	github.com/bits-and-blooms/bitset v1.24.2 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
)

module github.com/minidbgo/minidbgo/docstore

go 1.26

require (
	github.com/cockroachdb/datadriven v1.0.3
	github.com/minidbgo/minidbgo/storage v0.0.0
	github.com/stretchr/testify v1.12.1
)

require (
	github.com/bits-and-blooms/bitset v1.24.2 // indirect
	github.com/bits-and-blooms/bloom/v3 v3.7.1 // indirect
	github.com/klauspost/compress v1.20.4 // indirect
	github.com/pmezard/go-difflib v1.0.0 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
)

replace github.com/minidbgo/minidbgo/storage => ../storage

// Package loadtest is the home of minidbgo-load, MiniDBGo's load generator
// and engine benchmark. The module has no public API: the binary lives in
// cmd/minidbgo-load and the machinery in internal/.
//
//	internal/runner    closed-loop workers, latency histogram, HTTP client
//	internal/workload  seeded request generators and db_bench-style engine workloads
//	internal/target    servers to measure: embedded, child process, trivial baseline
//	internal/report    text, JSON and Markdown reports; progress; machine description
//	internal/soak      the soak test: long mixed load on a child server, RSS and 5xx checks
//
// See the package comment of cmd/minidbgo-load for usage.
package loadtest

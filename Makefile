# MiniDBGo workspace. `make test` is what CI runs.
MODULES := storage docstore httpd httpd/client cli loadtest
GO      ?= go
PKGS     = $(foreach m,$(MODULES),./$(m)/...)

.PHONY: test race vet fmt-check lint bench bench-storage bench-load standalone fuzz run agg-diff bench-agg cluster-test

# Tests that measure reliability figures (kill loops, bad inputs, soak,
# fuzzing) append a one-line summary to FIGURES; `make test` prints them
# after the run, so the CI log shows them.
FIGURES ?= $(CURDIR)/.figures.txt

test: fmt-check vet
	@rm -f $(FIGURES)
	@MINIDBGO_FIGURES=$(FIGURES) $(GO) test -race -count=1 -timeout 20m $(PKGS); rc=$$?; \
	  echo "== reliability figures =="; sort $(FIGURES) 2>/dev/null || echo "(none recorded)"; exit $$rc

# Build and start the server on DB_PATH (data/MiniDBGo) and PORT (6866):
# `make run PORT=7000 DB_PATH=/tmp/db`. Other settings come from the
# environment (minidbgo-server -h lists them). Ctrl-C stops it cleanly.
PORT    ?= 6866
DB_PATH ?= data/MiniDBGo

run:
	$(GO) build -o bin/minidbgo-server ./httpd/cmd/minidbgo-server
	PORT=$(PORT) DB_PATH=$(DB_PATH) ./bin/minidbgo-server

race:
	$(GO) test -race -count=1 $(PKGS)

# The long cluster suite (issue 17): three minidbgo-server processes, the
# leader SIGKILLed every ~5 s for 10 rounds under writers on every node,
# a follower catching up by snapshot after 200,000 documents, write
# throughput against a single node, and a porcupine linearizability check
# across leader kills and a paused leader. `make test` runs the short
# TestClusterFailover only.
cluster-test:
	@rm -f $(FIGURES)
	@cd httpd && MINIDBGO_CLUSTER_LONG=1 MINIDBGO_FIGURES=$(FIGURES) $(GO) test -count=1 -timeout 30m -run 'TestCluster' -v ./e2etest/; rc=$$?; \
	  echo "== cluster figures =="; sort $(FIGURES) 2>/dev/null || echo "(none recorded)"; exit $$rc

vet:
	$(GO) vet $(PKGS)

fmt-check:
	@out="$$(gofmt -l $(MODULES))"; if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

lint: fmt-check vet standalone

# Each module must build on its own, with only its replace lines.
standalone:
	for m in $(MODULES); do (cd $$m && GOWORK=off $(GO) build ./...) || exit 1; done

# Engine benchmarks (db_bench-style); not part of `make test`.
bench: bench-storage

bench-storage:
	cd storage && $(GO) test -run='^$$' -bench=. -benchtime=1x -timeout 60m .

# Load tests with minidbgo-load (loadtest/): the guide's two hey runs, every
# HTTP scenario at LOAD_C clients for LOAD_D against an embedded server with
# its ratio to a trivial net/http handler, and the engine workloads at
# LOAD_N keys. The guide's runs are repeated against the minidbgo-server
# binary as a child process, whose RSS is the server's alone. Regenerates docs/benchmarks-load.md from the JSON reports
# kept in LOAD_OUT. Not part of `make test`; takes a few minutes.
LOAD_N   ?= 200000
LOAD_D   ?= 5s
LOAD_C   ?= 50
LOAD_OUT ?= /tmp/minidbgo-bench-load
LOAD      = $(LOAD_OUT)/minidbgo-load
LOAD_HTTP = --embedded --baseline -c $(LOAD_C) -d $(LOAD_D) --json --progress=false

bench-load:
	rm -rf $(LOAD_OUT) && mkdir -p $(LOAD_OUT)
	cd loadtest && $(GO) build -o $(LOAD) ./cmd/minidbgo-load
	cd httpd && $(GO) build -o $(LOAD_OUT)/minidbgo-server ./cmd/minidbgo-server
	$(LOAD) guide --embedded --baseline --json --progress=false > $(LOAD_OUT)/a1-guide.json
	$(LOAD) guide --embedded --server-bin $(LOAD_OUT)/minidbgo-server --baseline --json --progress=false > $(LOAD_OUT)/a2-guide-process.json
	$(LOAD) write  $(LOAD_HTTP)                  > $(LOAD_OUT)/b1-write.json
	$(LOAD) read   $(LOAD_HTTP) --dist hot       > $(LOAD_OUT)/b2-read-hot.json
	$(LOAD) read   $(LOAD_HTTP) --dist zipfian   > $(LOAD_OUT)/b3-read-zipfian.json
	$(LOAD) mixed  $(LOAD_HTTP) --read-ratio 0.9 > $(LOAD_OUT)/b4-mixed.json
	$(LOAD) search $(LOAD_HTTP) --search index   > $(LOAD_OUT)/b5-search-index.json
	$(LOAD) search $(LOAD_HTTP) --search range   > $(LOAD_OUT)/b6-search-range.json
	$(LOAD) search $(LOAD_HTTP) --search scan    > $(LOAD_OUT)/b7-search-scan.json
	$(LOAD) bulk   $(LOAD_HTTP) --batch 100      > $(LOAD_OUT)/b8-bulk.json
	$(LOAD) update $(LOAD_HTTP) --hot-docs 10    > $(LOAD_OUT)/b9-update.json
	$(LOAD) engine -n $(LOAD_N) --json --progress=false > $(LOAD_OUT)/c-engine.json
	$(LOAD) markdown -o docs/benchmarks-load.md $(LOAD_OUT)/a*.json $(LOAD_OUT)/b*.json $(LOAD_OUT)/c*.json
	@echo "wrote docs/benchmarks-load.md (JSON reports in $(LOAD_OUT))"

# Every fuzz target for FUZZTIME each (default 10s).
FUZZTIME ?= 10s
fuzz:
	@set -e; for pkg in $$($(GO) list $(PKGS)); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$t"; $(GO) test -run='^$$' -fuzz="^$$t$$" -fuzztime=$(FUZZTIME) -fuzzminimizetime=3s $$pkg; \
	  done; done

# The end-to-end kill loop (httpd/e2etest): 1,000 SIGKILL cycles of the
# blackbox loop, 20 per engine kill point, 100 bank and 100
# linearizability cycles. CRASH_SEED reruns a seed's kill times.
CRASH_CYCLES ?= 1000
crash:
	cd httpd && MINIDBGO_CRASH_CYCLES=$(CRASH_CYCLES) MINIDBGO_KILLPOINT_CYCLES=20 \
	  MINIDBGO_BANK_CYCLES=100 MINIDBGO_LIN_CYCLES=100 MINIDBGO_CRASH_SEED=$(CRASH_SEED) \
	  $(GO) test -count=1 -timeout 6h -v -run 'TestCrashLoop|TestBank|TestLinearizability' ./e2etest
.PHONY: crash

# The soak test (loadtest/internal/soak; not part of `make test`, which
# runs a 60 s version): minidbgo-server as a child process under
# GOMEMLIMIT=200MiB, SOAK_D of mixed load at 50 clients with a compaction
# requested every 20 s and a dump and an export always streaming, RSS
# sampled every second. Fails when the peak RSS reaches 150 MiB or any
# request fails other than by a deliberate 503. The RSS timeline is left
# in SOAK_OUT/rss.csv.
SOAK_D   ?= 10m
SOAK_OUT ?= /tmp/minidbgo-soak
soak:
	rm -rf $(SOAK_OUT) && mkdir -p $(SOAK_OUT)
	cd loadtest && $(GO) build -o $(SOAK_OUT)/minidbgo-load ./cmd/minidbgo-load
	cd httpd && $(GO) build -o $(SOAK_OUT)/minidbgo-server ./cmd/minidbgo-server
	$(SOAK_OUT)/minidbgo-load soak -d $(SOAK_D) -c 50 --server-bin $(SOAK_OUT)/minidbgo-server --out $(SOAK_OUT)/rss.csv
.PHONY: soak

# Differential test of the aggregation pipeline against mingo (installed
# from the npm registry into a temporary directory; needs node and npm).
# Not part of `make test`, which skips it.
agg-diff:
	cd docstore && AGG_DIFF=1 $(GO) test -count=1 -run 'TestAggregateDifferential' -v .

# The aggregation benchmark of docs/benchmarks.md: $group of 1,000,000
# documents into 100,000 groups, the aggregation in its own process under
# /usr/bin/time -v (peak RSS), with the server's GOGC and GOMEMLIMIT.
AGG_BENCH_DIR ?= /tmp/minidbgo-bench-agg
bench-agg:
	cd docstore && AGG_BENCH_DIR=$(AGG_BENCH_DIR) $(GO) test -count=1 -run 'TestAggregateGroupBenchLoad' -v .
	cd docstore && $(GO) test -c -o $(AGG_BENCH_DIR)/docstore.test .
	for p in '[{"$$group":{"_id":"$$k","n":{"$$sum":1},"t":{"$$sum":"$$v"}}},{"$$count":"groups"}]' \
	         '[{"$$group":{"_id":"$$k","n":{"$$sum":1},"t":{"$$sum":"$$v"},"a":{"$$avg":"$$v"},"mx":{"$$max":"$$s"}}},{"$$sort":{"t":-1,"_id":1}},{"$$limit":3}]'; do \
	  AGG_BENCH_PIPELINE="$$p" AGG_BENCH_DIR=$(AGG_BENCH_DIR) GOGC=50 GOMEMLIMIT=200MiB \
	    /usr/bin/time -v $(AGG_BENCH_DIR)/docstore.test -test.run 'TestAggregateGroupBench$$' -test.v 2>&1 | \
	    grep -E 'aggbench|MiB|Maximum resident|Elapsed|User time|System time'; done

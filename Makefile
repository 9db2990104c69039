# MiniDBGo workspace. `make test` is what CI runs.
MODULES := storage docstore
GO      ?= go
PKGS     = $(foreach m,$(MODULES),./$(m)/...)

.PHONY: test race vet fmt-check lint bench bench-storage standalone fuzz tidy-check

test: fmt-check vet
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

race:
	$(GO) test -race -count=1 $(PKGS)

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

# Every fuzz target for FUZZTIME each (default 10s).
FUZZTIME ?= 10s
fuzz:
	@set -e; for pkg in $$($(GO) list $(PKGS)); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$t"; $(GO) test -run='^$$' -fuzz="^$$t$$" -fuzztime=$(FUZZTIME) $$pkg; \
	  done; done

# EpochDB. `make test` is the one command that runs every test; it installs
# the system packages the tests need first (scripts/deps.sh).

GO ?= go
FUZZTIME ?= 2000x

.PHONY: test deps vet unit crash fuzz bench run jepsen

test: deps vet unit crash fuzz

deps:
	./scripts/deps.sh

vet:
	@test -z "$$(gofmt -l . | tee /dev/stderr)" || (echo "gofmt: the files above need formatting" && exit 1)
	$(GO) vet ./...

unit:
	$(GO) test -race -count=1 -timeout 12m ./...

# The crash tests again without the race detector, at full size (a batch of
# 1M keys killed mid-commit); under -race they run scaled down.
crash:
	$(GO) test -count=1 -run 'Crash' .

# Each fuzz target runs briefly from its seed corpus: 2000 generated inputs
# (a count rather than a time, so that a loaded machine shortens nothing and
# the run never ends on the fuzzer's own deadline; go test -fuzz takes one
# target at a time).
fuzz:
	@for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "fuzz $$pkg $$f"; \
			$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

run:
	$(GO) run ./cmd/epoch serve

# The long configuration of the cluster's fault-injection harness
# (internal/jepsen): three nodes in each appendfsync mode, every fault three
# times, then five nodes (about 15 minutes). `make unit` runs its short
# configuration. EPOCH_JEPSEN_SEED=n replays a run's order of faults,
# EPOCH_JEPSEN_FAULTS=a,b,... runs only those faults.
jepsen:
	EPOCH_JEPSEN=long $(GO) test -count=1 -timeout 45m -run 'TestJepsen$$' -v ./internal/jepsen

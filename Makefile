# rekindle: the two commands a newcomer needs are `make demo` and `make test`.
SHELL := /usr/bin/env bash
GO ?= go
BIN := bin/rekindle
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/rekindle-dev/rekindle/cmd/rekindle/app.version=$(VERSION)
# Tests that start kwok clusters need the local-cluster binaries; `make tools`
# builds them once into ~/.cache/rekindle (about ten minutes the first time).
TEST_TIMEOUT ?= 45m

.PHONY: all build tools kind-image test test-kind vet fuzz demo bench bench-fleet clean

all: build

# Static (CGO_ENABLED=0): the same binary runs on the host and in the agent's
# FROM-scratch image (rekindle agent image), which has no libc.
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/rekindle

tools:
	@hack/install-cluster-tools.sh >/dev/null

# kind's node image, built offline here (hack/kind-node-image.sh; cached, a
# few seconds once built). make test runs the kind tests wherever kind can
# start a cluster with it; test-kind runs only those.
kind-image:
	@hack/kind-node-image.sh >/dev/null

test-kind: tools kind-image
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) -run 'TestLifecycle|TestRehearseOnKind|TestDrillOnKind|TestAutoProviderFollowsKind' ./providers/cluster/kind ./recovery ./test/e2e

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }

test: tools vet
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...

# Fuzz the blueprint loader and the workload decoder for a bounded time each.
FUZZTIME ?= 20s
fuzz:
	hack/fuzz.sh $(FUZZTIME) blueprints FuzzLoad FuzzDecodeObjects

demo: build tools
	hack/demo.sh

# Replay benchmarks: rekindle against `kubectl apply --server-side` and a raw
# parallel client (the floor), 100/1,000/5,000 objects, each method 3 times on
# fresh kwok clusters, plus `blueprint render` and 3 drills of the example
# next to the floor for its clusters. Prints median (min-max) and PASS/FAIL
# per target, writes _out/bench/results.json, and exits 1 when a run fails, a
# result is missing or a target is not met. Quick check:
# make bench BENCH_FLAGS=-quick. See docs/performance.md.
BENCH_FLAGS ?=
bench: build tools
	$(GO) run ./hack/bench -rekindle $(BIN) -out _out/bench $(BENCH_FLAGS)

# Fleet benchmark: 1, 5 and 10 kwok clusters of 100 objects in 3 workloads:
# bootstrap time, the RTO when every cluster is lost at once (default
# --parallel and --parallel 1), rekindle's peak RSS and CPU per cluster, and
# how many idle kwok clusters the machine holds. Exits 1 on a failed run or a
# missed target. Writes _out/bench-fleet/results.json. See docs/performance.md.
FLEET_FLAGS ?=
bench-fleet: build tools
	$(GO) run ./hack/bench/fleet -rekindle $(BIN) -out _out/bench-fleet $(FLEET_FLAGS)

clean:
	rm -rf bin

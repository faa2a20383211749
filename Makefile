# One command to set up and see the main job, one to test.
# Go from PATH, else where .ci/setup and the official tarball put it.
GO ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
BIN := bin/pyspyglass
PYTHON ?= $(shell ls -d /root/.pyenv/versions/3.12*/bin/python 2>/dev/null | head -1 || command -v python3)

.PHONY: setup build demo test bench clean

setup:
	bash .ci/setup

# Static (no cgo): a dynamically linked binary spends about a millisecond
# of every start in the loader and cgo's set-up, a third of a one-shot
# dump. os/user and net then use their Go code (/etc/passwd, /etc/group,
# the Go resolver).
build:
	CGO_ENABLED=0 $(GO) build -o $(BIN) ./cmd/pyspyglass

# Record a flamegraph of a known workload from its first line.
demo: setup build
	$(BIN) record -o demo.svg -- $(PYTHON) testdata/cpu_split.py 5
	@echo "open demo.svg in a browser"

test:
	$(GO) vet ./...
	@$(GO) run ./internal/testutil/pythons
	$(GO) test -count=1 -timeout 30m ./...

bench: build
	$(GO) run ./bench

clean:
	rm -rf bin demo.svg

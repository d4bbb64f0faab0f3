# Validator node suite. `make help` lists every target.
SHELL := /bin/bash
.DEFAULT_GOAL := help

SWIFT        ?= swift
APT_PACKAGES := libsecp256k1-dev libleveldb-dev libssl-dev libgmp-dev libcurl4-openssl-dev pkg-config \
                runc bubblewrap umoci skopeo docker-registry busybox-static
# Release builds (benchmarks) use their own scratch path so debug and release do not evict each other.
RELEASE_SCRATCH := .build-release
N ?= 4
# Benchmark areas of `vn-bench` (one `make bench-<area>` each).
BENCH_AREAS := protocol chain tss tss-net sandbox consensus

.PHONY: help deps build build-release test test-unit test-devchain test-devnet test-inbox test-consensus test-tss lint format devnet devnet-down devnet-status \
        bench $(addprefix bench-,$(BENCH_AREAS)) fuzz clean

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'
	@printf '  %-16s %s\n' "bench-<area>" "One benchmark area ($(BENCH_AREAS))"

deps: ## Install missing system packages (apt; needs root or sudo)
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing" >&2; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

build: deps ## Build every service (debug)
	$(SWIFT) build

build-release: deps ## Build every service (release)
	$(SWIFT) build -c release --scratch-path $(RELEASE_SCRATCH)

test: deps ## Run every test: lint, the EVM dev chain, unit/property/integration tests, the 4-validator devnet
	$(MAKE) lint
	$(MAKE) test-devchain
	VN_DEVCHAIN_TESTS=1 $(MAKE) test-unit
	$(MAKE) test-devnet
	$(MAKE) test-inbox
	$(MAKE) test-consensus
	$(MAKE) test-tss
	bash Tests/Integration/sandbox/leftovers.sh

test-unit: deps ## Unit, property and in-process integration tests (swift test)
	$(SWIFT) build --build-tests
	# Serial: CPU-bound suites (proofs, the BFT simulation) would otherwise hold the 2-thread
	# cooperative pool and make the socket and timeout tests' awaits resume late (about 65 s).
	$(SWIFT) test --skip-build --no-parallel

test-devchain: ## The EVM dev chain (py-evm + Vyper contracts, in a venv) and its pytest suite
	bash Deploy/devchain/test.sh

test-devnet: build ## Process-level test: 24 processes, readiness, kill -9 recovery, clean teardown
	bash Tests/Integration/devnet_test.sh

test-consensus: build ## 4 consensus-managers commit blocks across kill -9, a lost quorum and its return
	bash Tests/Integration/consensus_test.sh

test-tss: build ## 6 validators (12 processes): keygen, 20 signatures, reshare, refusals, kill -9 in keygen/presign/sign
	"$$(bash Deploy/devchain/setup.sh)/bin/python" Tests/Integration/tss_test.py --bin "$$($(SWIFT) build --show-bin-path)"

test-inbox: build ## inbox-listener on 2 dev chains: 500 requests exactly once across kill -9 and a reorg
	bash Tests/Integration/inbox_test.sh

lint: ## Check formatting (swift format lint) and the compose file
	$(SWIFT) format lint --strict --recursive --configuration .swift-format Package.swift Protocol Shared Services Tests
	bash Deploy/compose/validate.sh

format: ## Rewrite sources with swift format
	$(SWIFT) format format --in-place --recursive --configuration .swift-format Package.swift Protocol Shared Services Tests

devnet: build ## Start a local network of N validators (default 4): 6 processes each
	bash Deploy/devnet.sh up $(N)

devnet-down: ## Stop the local network and everything it started
	bash Deploy/devnet.sh down

devnet-status: ## Show the local network's processes and readiness
	bash Deploy/devnet.sh status

# Benchmarks print only JSON lines on stdout (DESIGN §8): the build's output goes to stderr.
bench: deps ## Every benchmark; one JSON object per line on stdout
	@$(SWIFT) build -c release --scratch-path $(RELEASE_SCRATCH) >&2
	@$(RELEASE_SCRATCH)/release/vn-bench all

$(addprefix bench-,$(BENCH_AREAS)): bench-%: deps
	@$(SWIFT) build -c release --scratch-path $(RELEASE_SCRATCH) --product vn-bench >&2
	@# bench-tss also runs tss-net: consensus-manager and tss-signer processes (release, next to vn-bench).
	@case "$*" in tss|tss-net) for p in consensus-manager tss-signer; do \
	  $(SWIFT) build -c release --scratch-path $(RELEASE_SCRATCH) --product $$p >&2 || exit 1; done;; esac
	@$(RELEASE_SCRATCH)/release/vn-bench $*
	@if [ "$*" = tss ]; then $(RELEASE_SCRATCH)/release/vn-bench tss-net; fi

fuzz: deps ## libFuzzer over the frame and message decoders (RUNS=1000000)
	bash Tests/Fuzz/run.sh $(or $(RUNS),1000000)

clean: ## Remove build outputs
	rm -rf .build $(RELEASE_SCRATCH) .build-fuzz

# The two commands the README names:
#   make run    runs a single node on its embedded defaults
#   make test   installs what the tests need and runs every check CI runs

GO        ?= go
FUZZTIME  ?= 60000x
STATICCHECK = honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: run test deps lint unit fuzz bench image

run:
	$(GO) run ./cmd/dninode

test: deps lint unit fuzz

# deps installs what the tests need on a fresh machine: the Go modules, and
# Chromium for the snippet's browser tests (Debian's package; apt-get runs
# as root, or through sudo).
deps:
	$(GO) mod download
	@if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1 && ! command -v google-chrome >/dev/null 2>&1; then \
	  sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$sudo apt-get update && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; \
	fi

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

# The Docker test in deploy/ builds the image (minutes with a cold build
# cache) and runs a cluster; beside the other packages' tests on two cores,
# that can pass go test's default limit of ten minutes.
unit:
	$(GO) test -race -count=1 -timeout 30m ./...

# fuzz runs every fuzz target for FUZZTIME on top of its seed corpus (which
# the unit tests already run). The budget is a count of inputs, not a
# duration: Go 1.26's fuzzer can fail a duration-bounded run with a spurious
# "context deadline exceeded" as the time runs out (go.dev/issue/75804,
# fixed in 1.27). Minimisation is capped so that large inputs do not eat it.
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$target"; \
	    $(GO) test $$pkg -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 2s; \
	  done; \
	done

# bench runs the benchmarks whose figures the issues ask for.
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./allocator ./fsm

# image builds dninode statically and the dni image around it (FROM
# scratch: nothing is pulled). IMAGE=name:tag picks the tag.
image:
	deploy/docker/build.sh

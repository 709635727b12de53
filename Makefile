# The two commands: `make run` (the platform with a demo program) and `make test` (the suite).
# Both install what they need into .venv first; only Python 3.11+ and a C compiler are assumed.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
ARGS ?=
# pytest-xdist workers for `make test`: the suite waits on real processes and servers more than
# it computes, so two workers on two cores finish it sooner; TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= 2
ONLY ?=
BUF := .tools/node_modules/.bin/buf

.PHONY: install run test lint protos protos-check buf-lint prometheus bench clean

$(STAMP): pyproject.toml setup.py $(wildcard ledger_core/*.pyx ledger_core/*.pxd ledger_core/*.h)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

run: install
	$(PY) -m deploy.local.run

test: install protos-check lint prometheus
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup $(ARGS)

lint: install buf-lint
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy services ledger_core deploy bench gateway admin

# Generated gRPC code is committed; this regenerates it after a .proto change.
protos: install
	$(PY) protos/generate.py

# Fails when the committed generated code is not what the .proto files give.
protos-check: install
	$(PY) protos/generate.py --check

# buf comes from the npm registry; without npm the contracts are still checked by protoc above.
buf-lint:
	@if command -v npm >/dev/null 2>&1; then \
		test -x $(BUF) || npm install --silent --prefix .tools @bufbuild/buf@1 >/dev/null; \
		$(BUF) lint; \
	else echo "buf-lint: npm not found; skipping buf lint"; fi

# promtool and the Prometheus server the monitoring tests start come from Debian's package.
prometheus:
	@if command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1; then :; \
	elif command -v apt-get >/dev/null 2>&1; then \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -q --no-install-recommends prometheus >/dev/null 2>&1 \
		|| { apt-get update -q >/dev/null 2>&1 \
			&& apt-get install -y -q --no-install-recommends prometheus >/dev/null 2>&1; } \
		|| echo "prometheus: apt-get could not install it (not root?); its tests will be skipped"; \
	else echo "prometheus: apt-get not found; the promtool and Prometheus tests will be skipped"; fi

bench: install
	$(PY) -m bench --only "$(ONLY)"

# The install stamp goes too: the kernels it stands for are deleted, so the next make compiles them.
clean:
	rm -rf build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis test-artifacts
	rm -f $(STAMP)
	rm -rf .data/test-runs .data/tmp
	find ledger_core -name '*.so' -o -name '*.c' -o -name '*.html' | xargs rm -f
	find . -name __pycache__ -not -path './.venv/*' -prune -exec rm -rf {} +

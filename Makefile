# The README's two commands: `make serve` and `make test`. Each does its own set-up.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: setup serve test test-packages test-sqlite test-postgres lint bench clean ui

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP) ## create the virtual environment and install autoplat

serve: setup ## run the platform (it migrates the embedded SQLite database itself)
	exec $(BIN)/autoplat serve

# TEST_JOBS=2 runs the two phases at once (each its own pytest, temp dirs, ports and
# PostgreSQL): about the longer phase's time instead of the sum when two cores are free.
# Each phase's output is then held back and printed whole when it ends (make's
# --output-sync), so the two never interleave; the exit status is non-zero if either fails.
# The default stays one after the other (live output) until a run on a quiet machine shows
# the timing-sensitive tests (chaos, leases, CLI start-ups) stable with a busy neighbour.
TEST_JOBS ?= 1

test: setup ## the whole suite on SQLite and on a private PostgreSQL (TEST_JOBS=2: at once)
	@[ "$(TEST_JOBS)" = 1 ] || echo "make test: $(TEST_JOBS) phases at once; each one's output follows when it ends"
	@start=$$(date +%s); rc=0; \
	$(MAKE) --no-print-directory -k -j$(TEST_JOBS) --output-sync=target test-sqlite test-postgres \
		|| rc=1; \
	echo "make test: $$(( $$(date +%s) - start )) s in all, $$([ $$rc = 0 ] && echo passed || echo FAILED)"; \
	exit $$rc

# System packages, installed before either phase starts (two apt-get at once would fight
# over dpkg's lock; with-postgres.sh installs PostgreSQL itself when it is missing).
test-packages:
	@# tests/web drive Debian's chromium and firefox-esr; as root, install them when missing.
	@{ test -x /usr/bin/chromium && test -x /usr/bin/firefox-esr; } || test "$$(id -u)" != 0 || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq chromium firefox-esr >/dev/null; }

test-sqlite: setup test-packages
	@echo "== SQLite phase: pytest tests"
	@start=$$(date +%s); rc=0; \
	$(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS) tests || rc=$$?; \
	echo "== SQLite phase: $$(( $$(date +%s) - start )) s, exit status $$rc"; exit $$rc

test-postgres: setup test-packages
	@echo "== PostgreSQL phase: pytest tests/integration tests/api tests/chaos"
	@start=$$(date +%s); rc=0; \
	scripts/with-postgres.sh $(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS) \
		tests/integration tests/api tests/chaos || rc=$$?; \
	echo "== PostgreSQL phase: $$(( $$(date +%s) - start )) s, exit status $$rc"; exit $$rc

lint: setup ## ruff and mypy --strict
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

bench: setup ## benchmarks on SQLite and PostgreSQL, JSON lines on stdout
	@$(BIN)/python -m bench --database sqlite
	@PG_DURABLE=1 scripts/with-postgres.sh $(BIN)/python -m bench --database postgresql

ui: setup ## rebuild the web app bundle (src/autoplat/web/dist) from ui/; needs Node.js and npm
	$(BIN)/python -m autoplat.api.openapi_dump ui/openapi.json
	cd ui && npm ci --no-audit --no-fund && npm run gen && npm run build
	$(BIN)/python -m autoplat.web.sources ui src/autoplat/web/dist

clean:
	rm -rf $(VENV) data .mypy_cache .ruff_cache .pytest_cache

# The README's two commands: `make serve` and `make test`. Each does its own set-up.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: setup serve test test-sqlite test-postgres lint bench clean ui

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP) ## create the virtual environment and install autoplat

serve: setup ## run the platform (it migrates the embedded SQLite database itself)
	exec $(BIN)/autoplat serve

test: setup ## the whole suite on SQLite, then on a private PostgreSQL
	@rc=0; \
	$(MAKE) --no-print-directory test-sqlite || rc=1; \
	$(MAKE) --no-print-directory test-postgres || rc=1; \
	exit $$rc

test-sqlite: setup
	@# tests/web drive Debian's chromium and firefox-esr; as root, install them when missing.
	@{ test -x /usr/bin/chromium && test -x /usr/bin/firefox-esr; } || test "$$(id -u)" != 0 || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq chromium firefox-esr >/dev/null; }
	$(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS) tests

test-postgres: setup
	scripts/with-postgres.sh $(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS) tests/integration tests/api tests/chaos

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

# Two commands do all set-up on a fresh machine: `make serve` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HASH := $(shell cksum < pyproject.toml | cut -d' ' -f1)
# Serving needs only the package; tests and benchmarks add their extras on top.
SERVE_STAMP := $(VENV)/.installed-serve-$(HASH)
STAMP := $(VENV)/.installed-dev-$(HASH)

.PHONY: serve test lint typecheck install bench clean

$(SERVE_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	rm -f $(VENV)/.installed-serve-*
	touch $(SERVE_STAMP)

$(STAMP): $(SERVE_STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	rm -f $(VENV)/.installed-dev-*
	touch $(STAMP)

install: $(STAMP)

serve: $(SERVE_STAMP)
	$(BIN)/chargeledger serve --unknown-stations accept

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy --strict src

test: $(STAMP) lint typecheck
	sh scripts/ensure-postgres.sh
	sh scripts/ensure-haproxy.sh
	sh scripts/ensure-chromium.sh
	$(BIN)/python -m pytest -q -p no:cacheprovider

bench: $(STAMP)
	$(BIN)/chargeledger bench all --quick

clean:
	rm -rf $(VENV) chargeledger.db chargeledger.db-wal chargeledger.db-shm

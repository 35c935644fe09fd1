# Two commands: `make demo` and `make test`. Each builds .venv from the hash-pinned locks first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check
STAMP  := $(VENV)/.installed-$(shell cat requirements.lock requirements-build.lock pyproject.toml | sha256sum | cut -c1-12)
OPA_STAMP := $(VENV)/.installed-opa

.PHONY: demo test test-fast test-multinode venv opa fuzz lock clean bench

demo: $(STAMP)
	$(BIN)/accord demo

# The whole suite: logic and single-node Ray tests in one process (Ray started once), then, in a
# second process, the tests that start clusters of their own: multi-node (ray.cluster_utils, and
# a real cluster of `ray start` processes with token authentication),
# the CLI lifecycle, the demo and the notebooks.
test: $(STAMP) $(OPA_STAMP)
	$(BIN)/python -m pytest -m "not multinode and not standalone"
	$(BIN)/python -m pytest -m "multinode or standalone"

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not multinode and not standalone and not ray"

venv: $(STAMP)

$(STAMP): requirements.lock requirements-build.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --require-hashes --no-deps -r requirements.lock -r requirements-build.lock
	$(PIP) install --no-deps --no-build-isolation -e .
	rm -f $(VENV)/.installed-*
	touch $@

# Real OPA as the reference engine for differential tests (x86_64 wheel only; elsewhere the
# tests marked `opa` skip and say why).
opa: $(OPA_STAMP)
$(OPA_STAMP): requirements-opa.lock | $(STAMP)
	if [ "$$(uname -m)" = x86_64 ]; then \
	  $(PIP) install --require-hashes --no-deps --ignore-requires-python -r requirements-opa.lock; \
	else echo "opa-golib-python-bindings has no wheel for $$(uname -m); OPA tests will skip"; fi
	touch $@

# The long fuzz campaign: every target of fuzz/targets.py, FUZZ_EXAMPLES inputs each (default
# 100k) with hypothesis, and as many with atheris (coverage-guided) where its wheel installs.
# Findings go to fuzz/findings/; the summary (counts, seconds, findings) to stdout.
FUZZ_STAMP := $(VENV)/.installed-fuzz
FUZZ_EXAMPLES ?= 100000
fuzz: $(FUZZ_STAMP)
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m fuzz.run
$(FUZZ_STAMP): requirements-fuzz.lock | $(STAMP)
	if [ "$$(uname -m)" = x86_64 ]; then \
	  $(PIP) install --require-hashes --no-deps -r requirements-fuzz.lock; \
	else echo "atheris has no wheel for $$(uname -m); make fuzz runs hypothesis only"; fi
	touch $@

bench: $(STAMP)
	$(BIN)/python benchmarks/frost_bench.py

# Regenerate the locks (needs pip-tools in the venv; not part of the normal flow).
lock:
	$(BIN)/pip-compile --generate-hashes --allow-unsafe --no-emit-index-url --no-emit-find-links --extra dev --strip-extras -o requirements.lock pyproject.toml

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache

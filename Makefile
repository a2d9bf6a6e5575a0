# The two commands: `make run` and `make test`. Everything they need, they install.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUNTIME := $(VENV)/.runtime
STAMP := $(VENV)/.installed

.PHONY: run test check lint bench demo clean

# `make run` needs only the runtime; extras: `pip install -e '.[ml]'` (scikit-learn, ONNX runtime), '.[mlflow]'.
$(RUNTIME): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e .
	@touch $@

# `make test` adds the dev tools and the libraries the tests compare against.
$(STAMP): $(RUNTIME)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $@

run: $(RUNTIME)
	@test -d "$${CHARTER_HOME:-.charter}/keys" || $(BIN)/charter init
	$(BIN)/charter serve

test: $(STAMP)
	@bash scripts/setup-packages
	@bash scripts/check

lint: $(STAMP)
	@SKIP_TESTS=1 bash scripts/check

demo: $(RUNTIME)
	$(BIN)/charter demo

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache test-artifacts

# The two commands: `make run` and `make test`. Everything they need, they install.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test check lint bench demo clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	@test -d "$${CHARTER_HOME:-.charter}/keys" || $(BIN)/charter init
	$(BIN)/charter serve

test: $(STAMP)
	@bash scripts/setup-browser
	@bash scripts/check

lint: $(STAMP)
	@SKIP_TESTS=1 bash scripts/check

demo: $(STAMP)
	$(BIN)/charter demo

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

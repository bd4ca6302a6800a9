# Two commands do all set-up on a fresh machine: `make report` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev
SAMPLE := fixtures/sample-session
OUT := out

.PHONY: report test lint bench golden fuzz clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(DEVSTAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(STAMP)

report: $(STAMP)
	@mkdir -p $(OUT)
	$(BIN)/claude-perf report --input $(SAMPLE) -o $(OUT)/sample-report.md

lint: $(DEVSTAMP)
	$(BIN)/ruff format --check claude_perf tests benchmarks fixtures
	$(BIN)/ruff check claude_perf tests benchmarks fixtures
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -q

# The fuzz tests with 50 times the examples of `make test` (several minutes).
fuzz: $(DEVSTAMP)
	FUZZ_PROFILE=long $(BIN)/pytest -q -p no:cacheprovider tests/test_fuzz_inputs.py

# GoAccess (the yardstick of the speed ratio, issue 13) from Debian, only when it is missing.
bench: $(DEVSTAMP)
	@command -v goaccess >/dev/null || apt-get install -y goaccess >/dev/null \
		|| (apt-get update >/dev/null && apt-get install -y goaccess >/dev/null) \
		|| echo "goaccess could not be installed: the ratio is not measured"
	$(BIN)/python -m benchmarks.run

golden: $(DEVSTAMP)
	$(BIN)/python -m tests.update_golden

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .mypy_cache .ruff_cache

# Two commands on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
STAMP_DEV := $(VENV)/.installed-dev

.PHONY: demo test lint bench eval bundle clean screenshots

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(STAMP_DEV): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP) $@

demo: $(STAMP)
	$(BIN)/python -m bot db upgrade
	$(BIN)/python -m bot demo

test: $(STAMP_DEV)
	$(BIN)/ruff check .
	$(BIN)/pytest -q

# The README's screenshots, taken by the browser tests.
screenshots: $(STAMP_DEV)
	SCREENSHOTS_DIR=docs/screenshots $(BIN)/pytest -q tests/test_dashboard_browser.py tests/test_dashboard_*_browser.py

lint: $(STAMP_DEV)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python bench/search_bench.py

eval: $(STAMP)
	$(BIN)/python ../shared/eval/score.py --cmd "$(BIN)/python -m bot kb search --jsonl -"

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache

# Rebuild the bundled knowledge base from the national-portal crawl (needs ../shared; not needed at run time).
bundle: $(STAMP)
	rm -f data/bundle.db
	DATABASE_URL=sqlite:///data/bundle.db $(BIN)/python -m bot kb import ../shared/data/dichvucong/procedures.jsonl.gz --actor portal
	DATABASE_URL=sqlite:///data/bundle.db $(BIN)/python -m bot kb export knowledge/data/procedures.jsonl.gz
	rm -f data/bundle.db

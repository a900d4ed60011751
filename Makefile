# davdrive: the two commands a new user needs are `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
DATA   ?= data
HOST   ?= 127.0.0.1
PORT   ?= 8080
BIN     = $(VENV)/bin

.PHONY: run test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	touch $@ $(VENV)/.installed-run

## run: create the venv, install, initialise demo data, serve on 127.0.0.1:8080
run: $(VENV)/.installed-run
	$(BIN)/davdrive --data $(DATA) init
	$(BIN)/davdrive --data $(DATA) demo
	@echo
	@echo "Sign in with one of these demo accounts (also in $(DATA)/demo-credentials.txt):"
	@cat $(DATA)/demo-credentials.txt
	@echo
	@echo "WebDAV URL: http://$(HOST):$(PORT)/dav/   (Ctrl-C stops the server)"
	@echo "In a browser: http://$(HOST):$(PORT)/ (your files; staff: /admin/)"
	$(BIN)/davdrive --data $(DATA) serve --host $(HOST) --port $(PORT)

## test: the whole suite (unit, in-process HTTP, live server with real clients)
test: $(VENV)/.installed-test
	@$(BIN)/pytest; status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; \
	exit $$status

## lint: ruff and mypy on the whole tree
lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/mypy

## bench: davdrive against bare WsgiDAV side by side, scaling, memory, hidden vs missing
## paths; writes bench/results.md (docs/performance.md explains it)
bench: $(VENV)/.installed-run
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

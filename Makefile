# davdrive: the two commands a new user needs are `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
DATA   ?= data
HOST   ?= 127.0.0.1
PORT   ?= 8080
BIN     = $(VENV)/bin

.PHONY: run test test-postgresql lint bench clean

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

## test-postgresql: the suites that decide what a user may do and sees (rights, hidden
## == missing, back office), the event chain, the statement counts, the caches shared
## between processes, the real clients and the S3 blob store's live tests, again on a
## PostgreSQL server the tests start (Debian's postgresql package; docs/postgresql.md).
## One rclone build is enough here.
PG_TESTS = tests/unit/test_policy_matrix.py tests/unit/test_policy_records.py \
	tests/unit/test_event_chain.py tests/unit/test_event_chain_processes.py \
	tests/unit/test_prepared.py tests/unit/test_name_search.py \
	tests/http/test_rights_methods.py tests/http/test_hidden_sql_shape.py \
	tests/http/test_backoffice_http.py tests/http/test_statement_counts.py \
	tests/http/test_fast_put_statements.py tests/http/test_cache_versions.py \
	tests/http/test_readable_files.py tests/http/test_fast_propfind_rows.py \
	tests/live/test_litmus.py tests/live/test_rclone_other.py \
	tests/live/test_rclone_vendors.py tests/live/test_cadaver.py \
	tests/live/test_python_clients.py tests/live/test_event_chain_races.py \
	tests/live/test_s3_live.py
test-postgresql: $(VENV)/.installed-test
	@$(BIN)/pytest --database=postgresql -k "not debian" $(PG_TESTS); status=$$?; \
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

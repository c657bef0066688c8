# The README's two commands are the contract: `make run` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed
DOCS   ?=
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: install browser redis postgres run test bench bench-load ingest clean

install: $(STAMP)

# torch first, CPU build: anything that pulls torch in afterwards finds it already there.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e ".[test]"
	touch $(STAMP)

# Without DOCS: the sample corpus that ships with the project (ingest/sample_corpus/).
ingest: install
	$(VENV)/bin/sapxep ingest $(if $(DOCS),"$(DOCS)",--sample)

run: ingest
	@echo "Mở trợ lý tại http://$(HOST):$(PORT)/  (API: http://$(HOST):$(PORT)/docs)"
	$(VENV)/bin/sapxep serve --host $(HOST) --port $(PORT)

# The web chat's browser test drives Debian's Chromium (never a downloaded browser).
browser:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq chromium; }

# The scale-out, fault and load tests start their own Debian redis-server on a free port.
redis:
	@command -v redis-server >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq redis-server; }

# The question-log tests start their own PostgreSQL cluster with Debian's binaries.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq postgresql; }

test: install browser redis postgres
	$(PY) -m pytest -q

bench: install
	$(PIP) install -q -e ".[bench]"
	$(VENV)/bin/sapxep bench

# Several workers and instances over Redis under load: 2,000 chat messages from 200 users and a
# burst of 300 /api/ask (figures printed; sizes from SAPXEP_LOAD_USERS, _MESSAGES_PER_USER, _BURST).
bench-load: install redis postgres
	$(PY) -m pytest -q -s tests/test_scaleout.py

clean:
	rm -rf $(VENV) data build *.egg-info

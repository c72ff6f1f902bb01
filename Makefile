# One-command entry points: `make run` serves the app on SQLite, `make test` runs every test
# (`make test-fast` the inner loop: the tests with no tier marker).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
SERVE_PORT ?= 8000
SOCKETIO_JS_VERSION := 4.8.1
SOCKETIO_JS_DIR := app/static/vendor/socket.io
MARKDOWN_IT_VERSION := 15.0.3
MARKDOWN_IT_DIR := app/static/vendor/markdown-it
DOMPURIFY_VERSION := 3.5.0
DOMPURIFY_DIR := app/static/vendor/dompurify
CHROMIUM := /usr/bin/chromium
NGINX := /usr/sbin/nginx
export FLASK_APP := wsgi

.PHONY: help install install-test init-db run serve test test-fast lint format chromium nginx screenshots vendor-js bench clean

help:
	@echo "make run        create .venv, install, create the SQLite database, serve on http://$(HOST):$(PORT)"
	@echo "make serve      the production server (gunicorn + gevent) on http://$(HOST):8000; needs SECRET_KEY"
	@echo "make test       install the test dependencies and run lint and the whole test suite"
	@echo "make test-fast  domain and test_client tests only (no real server, browser, scale-out or soak)"
	@echo "make nginx      install Debian's nginx for tests/scaleout (as root; its service is not started)"
	@echo "make lint       ruff check + ruff format --check"
	@echo "make format     ruff format + ruff check --fix"
	@echo "make screenshots  regenerate docs/screenshots/ from the real app in Chromium"
	@echo "make vendor-js  refresh the vendored browser modules (socket.io client, markdown-it, DOMPurify) from npm"
	@echo "make bench      benchmark against Node socket.io (~7 min; QUICK=1: under a minute)"

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is required, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

init-db: install
	$(BIN)/flask init-db

run: init-db
	$(BIN)/flask run --host "$(HOST)" --port "$(PORT)"

# The production server (gunicorn, gevent worker): needs SECRET_KEY; see README "Production".
serve: init-db
	APP_ENV=production GUNICORN_BIND="$(HOST):$(SERVE_PORT)" $(BIN)/gunicorn -c gunicorn.conf.py wsgi:app

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-test
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The browser tests drive Debian's Chromium (Playwright's own browser download is not used).
# apt-get may be busy (another install, unattended upgrades): wait for its lock rather than
# fail, and try `update` again once if it still could not get the lists' lock.
APT_GET := apt-get -o DPkg::Lock::Timeout=600
APT_UPDATE := { $(APT_GET) update -qq || { sleep 30; $(APT_GET) update -qq; }; }
EMOJI_FONT := /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf

# The browser, and an emoji font so reactions draw (screenshots, and what a user sees).
chromium:
	@if [ -x $(CHROMIUM) ] && [ -e $(EMOJI_FONT) ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
	  $(APT_UPDATE) && DEBIAN_FRONTEND=noninteractive $(APT_GET) install -y -qq chromium fonts-noto-color-emoji; \
	else \
	  echo "note: $(CHROMIUM) is missing and this is not root: browser tests will skip (CI fails them)"; \
	fi

# tests/scaleout starts its own nginx (on a free port, from deploy/nginx.conf). Installing the
# package must not start Debian's nginx service (it would take port 80): a policy-rc.d that
# exits 101 forbids every service start while apt-get runs (one already there is put back),
# and the service is then disabled (update-rc.d: init links and systemd unit) so that it does
# not start at the next boot either.
nginx:
	@if [ -x $(NGINX) ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
	  policy=/usr/sbin/policy-rc.d; saved=$$(mktemp); had=0; \
	  if [ -e $$policy ]; then cp -p $$policy "$$saved" && had=1; fi; \
	  trap 'if [ $$had = 1 ]; then cp -p "$$saved" $$policy; else rm -f $$policy; fi; rm -f "$$saved"' EXIT; \
	  printf '#!/bin/sh\n# make nginx: no service starts during the install\nexit 101\n' > $$policy \
	    && chmod 755 $$policy \
	    && $(APT_UPDATE) && DEBIAN_FRONTEND=noninteractive $(APT_GET) install -y -qq nginx \
	    && { update-rc.d nginx disable >/dev/null 2>&1 || true; }; \
	else \
	  echo "note: $(NGINX) is missing and this is not root: nginx tests will skip (CI fails them)"; \
	fi

test: lint chromium nginx
	$(BIN)/python -m pytest

# The inner loop: the tests of no tier (pyproject.toml's markers), in about a minute.
test-fast: install-test
	$(BIN)/python -m pytest -q -m "not live and not browser and not scaleout and not soak"

screenshots: install-test chromium
	$(BIN)/python tools/screenshots.py

# The page's browser modules from npm. markdown-it and DOMPurify (message text's Markdown,
# protocol "Formatting") are their self-contained ES module builds, renamed .js so every server
# (older nginx mime.types too) serves them as JavaScript.
vendor-js:
	tmp=$$(mktemp -d) && cd "$$tmp" && npm pack --silent socket.io-client@$(SOCKETIO_JS_VERSION) >/dev/null \
	  && tar xzf socket.io-client-$(SOCKETIO_JS_VERSION).tgz && cd - >/dev/null \
	  && mkdir -p $(SOCKETIO_JS_DIR) \
	  && cp "$$tmp/package/dist/socket.io.esm.min.js" "$$tmp/package/LICENSE" $(SOCKETIO_JS_DIR)/ \
	  && echo "socket.io-client $(SOCKETIO_JS_VERSION) (dist/socket.io.esm.min.js) from the npm package; refresh with \`make vendor-js\`." > $(SOCKETIO_JS_DIR)/VERSION \
	  && rm -rf "$$tmp"
	tmp=$$(mktemp -d) && cd "$$tmp" && npm pack --silent markdown-it@$(MARKDOWN_IT_VERSION) dompurify@$(DOMPURIFY_VERSION) >/dev/null \
	  && mkdir md purify && tar xzf markdown-it-$(MARKDOWN_IT_VERSION).tgz -C md && tar xzf dompurify-$(DOMPURIFY_VERSION).tgz -C purify \
	  && cd - >/dev/null && mkdir -p $(MARKDOWN_IT_DIR) $(DOMPURIFY_DIR) \
	  && cp "$$tmp/md/package/dist/browser/markdown-it.esm.min.mjs" $(MARKDOWN_IT_DIR)/markdown-it.esm.min.js \
	  && cp "$$tmp/md/package/LICENSE" $(MARKDOWN_IT_DIR)/ \
	  && echo "markdown-it $(MARKDOWN_IT_VERSION) (dist/browser/markdown-it.esm.min.mjs, renamed .js) from the npm package; refresh with \`make vendor-js\`." > $(MARKDOWN_IT_DIR)/VERSION \
	  && cp "$$tmp/purify/package/dist/purify.es.mjs" $(DOMPURIFY_DIR)/purify.es.js \
	  && cp "$$tmp/purify/package/LICENSE" "$$tmp/purify/package/LICENSE-MPL" $(DOMPURIFY_DIR)/ \
	  && echo "DOMPurify $(DOMPURIFY_VERSION) (dist/purify.es.mjs, renamed .js) from the npm package; refresh with \`make vendor-js\`." > $(DOMPURIFY_DIR)/VERSION \
	  && rm -rf "$$tmp"

# The benchmark (bench/README.md): this server against the Node socket.io reference, load from
# socket.io-client (bench/node_modules, installed from bench/package-lock.json); `python -m bench`
# from the repository root. `make bench` ~7 min; `make bench QUICK=1` under a minute;
# BENCH_ARGS=--update-docs rewrites the "Latest run" section of docs/performance.md;
# BENCH_ARGS="--configs all" etc.
BENCH_NODE_MODULES := bench/node_modules/.package-lock.json
$(BENCH_NODE_MODULES): bench/package.json bench/package-lock.json
	npm ci --prefix bench --no-audit --no-fund

bench: install-test $(BENCH_NODE_MODULES)
	$(BIN)/python -m bench $(if $(QUICK),--quick) $(BENCH_ARGS) \
	  --command "make bench$(if $(QUICK), QUICK=$(QUICK))$(if $(BENCH_ARGS), BENCH_ARGS=\"$(BENCH_ARGS)\")"

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info

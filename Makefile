# Two commands on a fresh machine: `make demo` and `make test` (see README.md).
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-requirements
# Fast settings for the local replica; the live crawl keeps the polite defaults.
REPLICA_SETTINGS := -s DOWNLOAD_DELAY=0 -s AUTOTHROTTLE_ENABLED=False -s LOG_LEVEL=WARNING

.PHONY: venv chromium redis attachment-tools test demo crawl bench clean

venv: $(STAMP)

$(STAMP): requirements.txt requirements-validator.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip 2>&1 | { grep -v "is ignored: it is neither" || true; }
	$(PY) -m pip install --quiet -r requirements.txt 2>&1 | { grep -v "is ignored: it is neither" || true; }
	$(PY) -m pip install --quiet --upgrade --target $(VENV)/validator -r requirements-validator.txt 2>&1 | { grep -v "is ignored: it is neither" || true; }
	touch $(STAMP)

# Debian's Chromium for the browser tests (Playwright's own browser download is not reachable here;
# its CJK font, without which Chinese shows as empty boxes, comes with attachment-tools).
chromium:
	@command -v chromium >/dev/null 2>&1 || test -x "$${CHROMIUM_PATH:-/nonexistent}" || { \
	  echo "installing Debian's chromium (apt-get)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# Debian's redis-server for the distributed-crawl tests (started by the tests on a free port).
redis:
	@command -v redis-server >/dev/null 2>&1 || { \
	  echo "installing Debian's redis-server (apt-get)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; }

# Debian's tools for attachments: LibreOffice (DOC/WPS/ET, and the replica's DOC/WPS/XLS files),
# antiword, Tesseract with Simplified Chinese (scans), Noto CJK (the replica's scanned pages).
ATTACHMENT_PACKAGES := libreoffice-writer-nogui libreoffice-calc-nogui antiword tesseract-ocr-chi-sim fonts-noto-cjk
attachment-tools:
	@missing=$$(for p in $(ATTACHMENT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	test -z "$$missing" || { echo "installing $$missing (apt-get)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; }

test: venv chromium redis attachment-tools
	$(PY) -m pytest

# Serve the replica portal, crawl it into data/demo.db, show what was archived and a
# search, stop the server.
demo: venv attachment-tools
	@mkdir -p data && rm -rf data/demo.db data/demo.db-wal data/demo.db-shm data/demo.captures data/demo.files data/demo-urls.txt
	@$(PY) -m tests.replica --urls-file data/demo-urls.txt >data/replica.log 2>&1 & pid=$$!; \
	trap 'kill $$pid 2>/dev/null' EXIT; \
	for i in $$(seq 100); do test -s data/demo-urls.txt && break; sleep 0.1; done; \
	test -s data/demo-urls.txt || { echo "replica portal did not start (see data/replica.log)"; exit 1; }; \
	echo "== replica portal serving:"; sed 's/^/   /' data/demo-urls.txt; \
	echo "== crawling into data/demo.db"; \
	$(PY) -m crawler crawl $$(sed 's/^/--start-url /' data/demo-urls.txt) \
	  --archive data/demo.db $(REPLICA_SETTINGS) || exit 1; \
	echo "== archive"; $(PY) -m crawler stats --archive data/demo.db || exit 1; \
	echo "== search: 常务会议纪要"; $(PY) -m crawler search 常务会议纪要 --archive data/demo.db --limit 3 || exit 1; \
	echo "== open items of 市财政局"; $(PY) -m crawler items --unit 市财政局 --status pending --archive data/demo.db | sed -n 1,8p

# The live crawl of Xianning's column (polite defaults: robots.txt, AutoThrottle).
crawl: venv
	$(PY) -m crawler crawl --archive data/archive.db

# Benchmarks against their references, side by side (see benchmarks/README.md); the synthetic
# archive of the search/export benchmarks is cached in benchmarks/.cache/. ONLY=search,export
# picks some; BENCH_ARGS passes options (e.g. BENCH_ARGS="--rounds 5").
bench: venv attachment-tools
	$(PY) -m benchmarks.run $(ONLY) $(BENCH_ARGS)

clean:
	rm -rf $(VENV) data .pytest_cache

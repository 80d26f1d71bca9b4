# The two commands a new user needs (README.md): `make run` and `make test`. Only Python 3.11+ is assumed.
PYTHON ?= python3
VENV := .venv
VENV_PYTHON := $(VENV)/bin/python
# `make test` runs on embedded servers of its own (when DATABASE_URL / REDIS_URL are unset), apart from `make run`'s;
# pytest.ini sets CS_ENV=development for it (pytest-env), as cs_platform/run.py does for `make run`.
TEST_DATA_DIR := $(CURDIR)/.data/test
PYTEST_ARGS ?=

.PHONY: run test chromium locale gettext

$(VENV_PYTHON):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "Python 3.11 or newer is needed: make $(MAKECMDGOALS) PYTHON=python3.x" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed-run: requirements.txt | $(VENV_PYTHON)
	$(VENV_PYTHON) -m pip install --quiet -r requirements.txt
	@touch $@

$(VENV)/.installed-test: requirements.txt requirements-dev.txt | $(VENV_PYTHON)
	$(VENV_PYTHON) -m pip install --quiet -r requirements-dev.txt
	@touch $@

run: $(VENV)/.installed-run locale
	$(VENV_PYTHON) -m cs_platform.run

# The static checks first, then the browser client's unit tests (node's runner), then everything in pytest.
test: lint chromium gettext locale
	node --test tests/client/
	@if [ -n "$$DATABASE_URL" ] && [ -n "$$REDIS_URL" ]; then \
		exec $(VENV_PYTHON) -m pytest $(PYTEST_ARGS); \
	fi; \
	export CS_DATA_DIR="$(TEST_DATA_DIR)"; \
	status=0; \
	$(VENV_PYTHON) -m pytest $(PYTEST_ARGS) || status=$$?; \
	$(VENV_PYTHON) -m cs_platform.embedded stop; \
	exit $$status

# The translations (docs/i18n.md): each locale/*/LC_MESSAGES/*.po compiled to its .mo with polib (pinned in
# requirements.txt), so a machine without GNU gettext runs the project in both languages. Only stale .mo files are
# written; they are build output, not committed.
locale: $(VENV)/.installed-run
	@$(VENV_PYTHON) -m cs_platform.locale

# GNU gettext's xgettext, for the test that extracts every string as `manage.py makemessages` does and fails on one
# without its Chinese (tests/test_translations.py); installed like Chromium below when missing.
gettext:
	@if command -v xgettext >/dev/null 2>&1 && command -v msgmerge >/dev/null 2>&1; then exit 0; fi; \
	if ! command -v apt-get >/dev/null 2>&1; then \
		echo "No xgettext and no apt-get: install GNU gettext for the translation test." >&2; exit 0; \
	fi; \
	SUDO=; if [ "$$(id -u)" != 0 ]; then SUDO=sudo; fi; \
	export DEBIAN_FRONTEND=noninteractive; \
	echo "Installing Debian's gettext for the translation test..."; \
	$$SUDO apt-get install -y gettext || { $$SUDO apt-get update && $$SUDO apt-get install -y gettext; }

# Debian's Chromium, for the browser tests (Playwright drives /usr/bin/chromium; it downloads no browser), and a
# Chinese font (WenQuanYi Micro Hei, 5 MB) so the Chinese pages' screenshots show characters, not boxes.
chromium:
	@if [ -x /usr/bin/chromium ] && fc-list 2>/dev/null | grep -qi "wqy\|cjk"; then exit 0; fi; \
	if ! command -v apt-get >/dev/null 2>&1; then \
		echo "No /usr/bin/chromium and no apt-get: install Chromium for the browser tests." >&2; exit 0; \
	fi; \
	SUDO=; if [ "$$(id -u)" != 0 ]; then SUDO=sudo; fi; \
	export DEBIAN_FRONTEND=noninteractive; \
	echo "Installing Debian's chromium and a Chinese font for the browser tests..."; \
	$$SUDO apt-get install -y chromium fonts-wqy-microhei \
		|| { $$SUDO apt-get update && $$SUDO apt-get install -y chromium fonts-wqy-microhei; }

# The static checks (README.md, "Libraries"): ruff's lint and format, mypy over the code base, import-linter's
# contracts of who may import whom (pyproject.toml; docs/architecture.md, "Layers") and TypeScript over the browser
# client's JSDoc types (tsconfig.json). Each runs even when one before it failed, so one pass shows every finding. mypy imports the settings (django-stubs):
# the placeholder URLs keep them from starting the embedded servers; nothing connects to them.
MYPY_ENV := CS_ENV=development DATABASE_URL=postgres://lint@127.0.0.1:1/lint REDIS_URL=redis://127.0.0.1:1/0
.PHONY: lint
lint: $(VENV)/.installed-test node_modules/.package-lock.json
	@status=0; \
	echo "ruff check ."; $(VENV)/bin/ruff check . || status=1; \
	echo "ruff format --check ."; $(VENV)/bin/ruff format --check . || status=1; \
	echo "mypy"; $(MYPY_ENV) $(VENV)/bin/mypy || status=1; \
	echo "lint-imports"; $(VENV)/bin/lint-imports --no-cache || status=1; \
	echo "tsc -p ."; npx --no-install tsc -p . || status=1; \
	exit $$status

# The browser client's TypeScript (package.json, pinned by package-lock.json): npm ci runs only when node_modules is
# missing or older than the lock file.
node_modules/.package-lock.json: package-lock.json
	npm ci --no-audit --no-fund

# The benchmark (docs/performance.md): the product against a bare relay, about 10 minutes on 2 cores.
# Flags through BENCH_ARGS, e.g. make bench BENCH_ARGS="--layer core" or BENCH_ARGS="--server uvicorn --scenarios relay".
BENCH_ARGS ?=
.PHONY: bench
bench: $(VENV)/.installed-test
	$(VENV_PYTHON) -m bench.run $(BENCH_ARGS)

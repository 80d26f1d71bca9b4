# The two commands a new user needs (README.md): `make run` and `make test`. Only Python 3.11+ is assumed.
PYTHON ?= python3
VENV := .venv
VENV_PYTHON := $(VENV)/bin/python
# `make test` runs on embedded servers of its own (when DATABASE_URL / REDIS_URL are unset), apart from `make run`'s;
# pytest.ini sets CS_ENV=development for it (pytest-env), as cs_platform/run.py does for `make run`.
TEST_DATA_DIR := $(CURDIR)/.data/test
PYTEST_ARGS ?=

.PHONY: run test chromium

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

run: $(VENV)/.installed-run
	$(VENV_PYTHON) -m cs_platform.run

test: $(VENV)/.installed-test chromium
	@if [ -n "$$DATABASE_URL" ] && [ -n "$$REDIS_URL" ]; then \
		exec $(VENV_PYTHON) -m pytest $(PYTEST_ARGS); \
	fi; \
	export CS_DATA_DIR="$(TEST_DATA_DIR)"; \
	status=0; \
	$(VENV_PYTHON) -m pytest $(PYTEST_ARGS) || status=$$?; \
	$(VENV_PYTHON) -m cs_platform.embedded stop; \
	exit $$status

# Debian's Chromium, for the browser tests (Playwright drives /usr/bin/chromium; it downloads no browser).
chromium:
	@if [ -x /usr/bin/chromium ]; then exit 0; fi; \
	if ! command -v apt-get >/dev/null 2>&1; then \
		echo "No /usr/bin/chromium and no apt-get: install Chromium for the browser tests." >&2; exit 0; \
	fi; \
	SUDO=; if [ "$$(id -u)" != 0 ]; then SUDO=sudo; fi; \
	export DEBIAN_FRONTEND=noninteractive; \
	echo "Installing Debian's chromium for the browser tests..."; \
	$$SUDO apt-get install -y chromium || { $$SUDO apt-get update && $$SUDO apt-get install -y chromium; }

# The benchmark (docs/performance.md): the product against a bare relay, about 10 minutes on 2 cores.
# Flags through BENCH_ARGS, e.g. make bench BENCH_ARGS="--layer core" or BENCH_ARGS="--server uvicorn --scenarios relay".
BENCH_ARGS ?=
.PHONY: bench
bench: $(VENV)/.installed-test
	$(VENV_PYTHON) -m bench.run $(BENCH_ARGS)

# Who may import whom (pyproject.toml, [tool.importlinter]; docs/architecture.md, "Layers").
.PHONY: lint-imports
lint-imports: $(VENV)/.installed-test
	$(VENV)/bin/lint-imports --no-cache

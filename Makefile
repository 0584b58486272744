# ecoin: `make demo` runs the whole system on the sandbox; `make test` runs the test suite.
# Both create .venv themselves (Python 3.11 and make are all a fresh machine needs).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install browser postgres demo dashboard test test-fast deploy-check lint format validate \
	sandbox bentos clean

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), \
		"ecoin needs Python 3.11, found " + sys.version.split()[0] + ": set PYTHON=python3.11"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Headless Chromium, its WebDriver and an emoji font for the dashboard's browser test (from
# Debian's packages, as root); without them that one test is skipped with the reason.
BROWSER_PACKAGES := chromium chromium-driver fonts-noto-color-emoji
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing $(BROWSER_PACKAGES) for the browser test"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends $(BROWSER_PACKAGES) >/dev/null; \
	else echo "note: Chromium is not installed and cannot be here (needs root and apt-get):" \
		"the dashboard's browser test will be skipped"; fi

# PostgreSQL's server binaries for the storage tests on the second backend (Debian's package, as
# root); without them those tests are skipped with the reason (ECOIN_REQUIRE_POSTGRES=1 fails)
postgres:
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing postgresql for the storage tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends postgresql >/dev/null; \
	else echo "note: PostgreSQL is not installed and cannot be here (needs root and apt-get):" \
		"the PostgreSQL storage tests will be skipped"; fi

demo: install
	$(BIN)/ecoin demo

test: install browser postgres
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

# the fast loop: tests/unit and tests/integration without the tests marked slow (no `ecoin`
# processes, servers, browser or deploy checks: those are tests/e2e, which `make test` runs
# too), on both cores (pytest-xdist)
test-fast: install
	$(BIN)/python -m pytest tests/unit tests/integration -m "not slow" -q -n 2

# the deployment checks that run without a container engine (deploy/README.md): hadolint, the
# compose file, the Kubernetes manifests, the Dockerfile's steps in a fresh venv, Dagster on
# PostgreSQL instance storage, and ecoin's tables and pipeline on PostgreSQL (required here)
deploy-check: install postgres
	ECOIN_REQUIRE_POSTGRES=1 $(BIN)/pytest tests/e2e/test_deploy.py tests/integration/test_storage.py \
		tests/e2e/test_postgres_pipeline.py

# ruff, then actionlint on the GitHub Actions workflow (.github/workflows/ci.yml)
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/actionlint

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

validate: install
	DAGSTER_HOME=$$(mktemp -d) $(BIN)/dagster definitions validate -w workspace.yaml

sandbox: install
	$(BIN)/ecoin sandbox serve

dashboard: install
	$(BIN)/panel serve panel_app/app.py --address 127.0.0.1 --port 5006

# one bento per BentoML service, built offline from the models in $ECOIN_HOME (run the demo or
# the pipeline first); `bentoml containerize <tag>` turns each into an image
bentos: install
	$(BIN)/ecoin serve build

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info

# ecoin: `make demo` runs the whole system on the sandbox; `make test` runs the test suite.
# Both create .venv themselves (Python 3.11 and make are all a fresh machine needs).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install demo test lint format validate sandbox bentos clean

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), \
		"ecoin needs Python 3.11, found " + sys.version.split()[0] + ": set PYTHON=python3.11"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/ecoin demo

test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

validate: install
	DAGSTER_HOME=$$(mktemp -d) $(BIN)/dagster definitions validate -w workspace.yaml

sandbox: install
	$(BIN)/ecoin sandbox serve

# one bento per BentoML service, built offline from the models in $ECOIN_HOME (run the demo or
# the pipeline first); `bentoml containerize <tag>` turns each into an image
bentos: install
	$(BIN)/ecoin serve build

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info

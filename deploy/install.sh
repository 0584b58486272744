#!/bin/sh
# Installs ecoin and its pinned stack into a virtual environment, in two steps, run from the
# source folder (the one holding pyproject.toml and constraints.txt):
#
#   sh deploy/install.sh deps   # a new venv at $VENV: pip, CPU torch and every dependency
#   sh deploy/install.sh app    # ecoin itself, editable (no dependencies), then pip check
#
# The Dockerfile's build stage runs these two commands (deps first, so that a code change
# reuses the dependency layer); tests/e2e/test_deploy.py reads them from the Dockerfile and runs
# them in a fresh venv. Every version comes from constraints.txt.
#
#   VENV             where the venv goes (the Dockerfile sets /opt/venv)
#   PYTHON           the Python 3.11 that creates it (default: python3)
#   TORCH_INDEX_URL  the index torch alone is installed from (default: PyTorch's CPU wheels;
#                    PyPI's Linux wheel of torch pulls several GB of CUDA libraries)
set -eu

: "${VENV:?set VENV to the virtual environment to create}"
PYTHON=${PYTHON:-python3}
TORCH_INDEX_URL=${TORCH_INDEX_URL:-https://download.pytorch.org/whl/cpu}

pip() { "$VENV/bin/python" -m pip --no-input --disable-pip-version-check "$@"; }

case "${1:-}" in
deps)
    "$PYTHON" -c 'import sys; assert sys.version_info[:2] == (3, 11), "ecoin needs Python 3.11"'
    "$PYTHON" -m venv "$VENV"
    pip install --quiet -c constraints.txt pip
    # torch alone, without its dependencies (they come from PyPI below, pinned like the rest)
    pip install --quiet --no-deps --index-url "$TORCH_INDEX_URL" -c constraints.txt torch
    # [project].dependencies of pyproject.toml, without the package itself, so that this
    # layer only changes with pyproject.toml and constraints.txt
    "$VENV/bin/python" -c 'import tomllib
for req in tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]:
    print(req)' >"$VENV/ecoin-requirements.txt"
    pip install --quiet -c constraints.txt -r "$VENV/ecoin-requirements.txt"
    ;;
app)
    # editable, as `make install` does: the code finds panel_app/ and notebooks/ beside it
    pip install --quiet --no-deps -c constraints.txt --editable .
    pip check
    ;;
*)
    echo "usage: VENV=DIR sh deploy/install.sh deps|app" >&2
    exit 2
    ;;
esac

#!/usr/bin/env bash
# Sets up .venv (if needed) with the package and its test and docs dependencies, then runs the
# tests. They include running every notebook (tests/test_notebooks.py), the docs' examples and
# `mkdocs build --strict` (tests/test_docs.py). Extra arguments go to pytest, e.g.
# `bash scripts/test.sh tests/format -x`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[test,docs]"
# Azurite (npm) serves Azure Blob Storage for tests/storage/test_azure.py.
if [ ! -x .cache/node/node_modules/.bin/azurite-blob ] && command -v npm >/dev/null; then
    npm install --prefix .cache/node --no-audit --no-fund --loglevel=error azurite@3
fi
exec .venv/bin/python -m pytest -n 2 -q "$@"

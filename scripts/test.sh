#!/usr/bin/env bash
# Sets up .venv (if needed) with the package and its test dependencies, then runs the tests.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh tests/format -x`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[test]"
exec .venv/bin/python -m pytest -n 2 -q "$@"

#!/usr/bin/env bash
# Sets up .venv (if needed) with the package, then runs the quickstart demo on local disk.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e .
exec .venv/bin/python examples/quickstart.py "$@"

#!/usr/bin/env bash
# Sets up .venv (if needed) with the package and Xarray/Dask, then runs the climate workflow
# (examples/climate_workflow.py, the script form of notebooks/02_climate_workflow.ipynb) on
# local disk. It writes ./demo-repo, or the folder given as the first argument.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[xarray,dask]"
exec .venv/bin/python examples/climate_workflow.py "$@"

"""Every notebook under notebooks/ runs top to bottom; a cell that raises fails the test.

Notebooks are committed without outputs (the test checks that too) and make all the data they
use, so they run anywhere the test extra is installed.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from _require import require

nbformat = require("nbformat")
nbclient = require("nbclient")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_notebooks_exist() -> None:
    assert len(NOTEBOOKS) >= 5, NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_committed_clean(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs, f"{path.name}: committed with outputs"
            assert cell.execution_count is None, f"{path.name}: committed with execution counts"
    assert path.stat().st_size < 40_000, f"{path.name} is large; is data committed inside it?"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path: Path, tmp_path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=300,  # per cell
        startup_timeout=180,  # a loaded CI machine can be slow to start a kernel
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    start = time.perf_counter()
    client.execute()  # raises CellExecutionError, naming the cell, if any cell raises
    elapsed = time.perf_counter() - start
    print(f"{path.name}: {elapsed:.1f} s")

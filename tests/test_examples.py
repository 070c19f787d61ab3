"""The README's demo runs and shows what it promises."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import icechunk

ROOT = Path(__file__).resolve().parents[1]


def test_quickstart_demo(tmp_path: Path) -> None:
    repo_path = tmp_path / "demo-repo"
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "quickstart.py"), str(repo_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    assert "temperature[0] mean on main: 0.00" in out
    assert "arrays on experiment: ['humidity', 'temperature', 'time']" in out
    repo = icechunk.Repository.open(icechunk.local_filesystem_storage(str(repo_path)))
    assert repo.list_branches() == {"main", "experiment"}
    assert repo.list_tags() == {"v1.0"}
    messages = [h.message for h in repo.ancestry(branch="experiment")]
    assert messages == [
        "Add humidity",
        "Zero the first time step",
        "Initial data",
        "Repository initialized",
    ]

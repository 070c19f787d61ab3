"""Fixtures for the format tests: a repository written by upstream Icechunk 1.1.21."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
REPO_ROOT = HERE.parents[1]
UPSTREAM_PYTHON = REPO_ROOT / ".cache" / "upstream-venv" / "bin" / "python"


def upstream_python() -> Path:
    """The upstream venv's interpreter; fail (CI) or skip when it is missing."""
    if not UPSTREAM_PYTHON.exists():
        message = f"upstream Icechunk venv not found at {UPSTREAM_PYTHON}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return UPSTREAM_PYTHON


def run_upstream(script: str, *args: str) -> str:
    """Run one of this directory's helper scripts with upstream's Python; return stdout."""
    proc = subprocess.run(
        [str(upstream_python()), str(HERE / script), *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        pytest.fail(f"upstream script {script} failed with exit code {proc.returncode}")
    return proc.stdout


@dataclass(frozen=True)
class UpstreamRepo:
    """A repository written by upstream, with facts its writer reported."""

    path: Path
    virtual_dir: Path
    summary: dict[str, Any]

    def files(self, kind: str) -> list[Path]:
        return sorted((self.path / kind).iterdir())


@pytest.fixture(scope="session")
def upstream_repo(tmp_path_factory: pytest.TempPathFactory) -> UpstreamRepo:
    base = tmp_path_factory.mktemp("upstream")
    path, virtual_dir, summary = base / "repo", base / "virtual", base / "summary.json"
    virtual_dir.mkdir()
    run_upstream("_make_upstream_repo.py", str(path), str(virtual_dir), str(summary))
    return UpstreamRepo(path, virtual_dir, json.loads(summary.read_text()))


@pytest.fixture(scope="session")
def read_with_upstream() -> Callable[[Path, str], Any]:
    """Read a repository with upstream; returns its JSON report (see _read_upstream_repo.py)."""

    def read(path: Path, virtual_prefix: str) -> Any:
        out = run_upstream("_read_upstream_repo.py", str(path), virtual_prefix)
        return json.loads(out.strip().splitlines()[-1])

    return read

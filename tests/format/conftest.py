"""Fixtures for the format tests: a repository written by upstream Icechunk 1.1.21."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from _helpers.upstream import run_upstream

HERE = Path(__file__).parent


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
    run_upstream(HERE / "_make_upstream_repo.py", str(path), str(virtual_dir), str(summary))
    return UpstreamRepo(path, virtual_dir, json.loads(summary.read_text()))


@pytest.fixture(scope="session")
def read_with_upstream() -> Callable[[Path, str], Any]:
    """Read a repository with upstream; returns its JSON report (see _read_upstream_repo.py)."""

    def read(path: Path, virtual_prefix: str) -> Any:
        out = run_upstream(HERE / "_read_upstream_repo.py", str(path), virtual_prefix)
        return json.loads(out.strip().splitlines()[-1])

    return read

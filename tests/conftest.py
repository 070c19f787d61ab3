"""Shared fixtures: repositories on every local backend."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import icechunk

sys.path.insert(0, str(Path(__file__).parent / "interop"))


@pytest.fixture(scope="session", autouse=True)
def _upstream_venv() -> None:
    """Build upstream Icechunk's venv once, before any test looks for it.

    Tests that need it fail (CI) or skip on their own when it could not be built.
    """
    from upstream_env import REPO_ROOT, _ensure

    _ensure(REPO_ROOT / ".cache" / "upstream-venv")


@pytest.fixture(params=["memory", "local"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> icechunk.Storage:
    if request.param == "memory":
        return icechunk.in_memory_storage()
    return icechunk.local_filesystem_storage(str(tmp_path / "repo"))


@pytest.fixture
def repo(storage: icechunk.Storage) -> icechunk.Repository:
    return icechunk.Repository.create(storage)

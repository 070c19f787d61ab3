"""Shared fixtures: repositories on every local backend."""

from __future__ import annotations

from pathlib import Path

import pytest

import icechunk


@pytest.fixture(params=["memory", "local"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> icechunk.Storage:
    if request.param == "memory":
        return icechunk.in_memory_storage()
    return icechunk.local_filesystem_storage(str(tmp_path / "repo"))


@pytest.fixture
def repo(storage: icechunk.Storage) -> icechunk.Repository:
    return icechunk.Repository.create(storage)

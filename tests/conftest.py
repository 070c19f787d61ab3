"""Shared fixtures: repositories on every local backend."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

import icechunk

# One set of hypothesis settings for every property test; a test states only its own sizes
# (max_examples, stateful_step_count). Under CI=true the examples are derandomized.
settings.register_profile(
    "icechunk",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
settings.register_profile("icechunk-ci", settings.get_profile("icechunk"), derandomize=True)
settings.load_profile("icechunk-ci" if os.environ.get("CI", "").lower() == "true" else "icechunk")


@pytest.fixture(params=["memory", "local"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> icechunk.Storage:
    if request.param == "memory":
        return icechunk.in_memory_storage()
    return icechunk.local_filesystem_storage(str(tmp_path / "repo"))


@pytest.fixture
def repo(storage: icechunk.Storage) -> icechunk.Repository:
    return icechunk.Repository.create(storage)

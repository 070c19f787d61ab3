"""Optional test dependencies: imported for real under ``CI=true``, skipped elsewhere."""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import NoReturn

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(module: str) -> ModuleType:
    """Import ``module``; a missing one fails the test run in CI and skips it elsewhere."""
    if IN_CI:
        return importlib.import_module(module)
    return pytest.importorskip(module)


def unavailable(reason: str) -> NoReturn:
    """Fail (in CI) or skip (elsewhere): something the test needs is missing."""
    if IN_CI:
        pytest.fail(f"{reason}, and CI=true forbids skipping")
    pytest.skip(reason)


def require_that(condition: bool, reason: str) -> None:
    """Fail (in CI) or skip (elsewhere) unless ``condition`` holds."""
    if not condition:
        unavailable(reason)

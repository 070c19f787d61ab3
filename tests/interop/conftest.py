"""Fixtures for the interop tests: the two implementations as runnable interpreters.

``upstream`` runs upstream Icechunk 1.1.21 from ``.cache/upstream-venv`` (created on demand);
``ours`` runs this package with the current interpreter and ``src/`` first on the path. Set
``ICECHUNK_INTEROP_OURS_PYTHON`` to another interpreter (e.g. the upstream venv's python) to
self-check the harness with upstream on both sides.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from _helpers.upstream import REPO_ROOT, clean_env, upstream_python
from interop_harness import OURS_PYTHON_ENV, Impl, check_import


@pytest.fixture(scope="session")
def upstream() -> Impl:
    """Upstream Icechunk 1.1.21 in its own virtual environment."""
    python = upstream_python()
    impl = Impl("upstream", python, clean_env())
    check_import(impl, python.parent.parent)
    return impl


@pytest.fixture(scope="session")
def ours() -> Impl:
    """This package, run by the current interpreter (or ``$ICECHUNK_INTEROP_OURS_PYTHON``)."""
    override = os.environ.get(OURS_PYTHON_ENV)
    if override:
        return Impl("ours(override)", Path(override), clean_env())
    src = REPO_ROOT / "src"
    env = clean_env()
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(src), os.environ.get("PYTHONPATH", "")) if p
    )
    impl = Impl("ours", Path(sys.executable), env)
    check_import(impl, src)
    return impl

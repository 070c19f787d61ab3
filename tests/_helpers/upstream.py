"""Upstream Icechunk 1.1.21 in its own virtual environment, for every test that compares with it.

The environment lives at ``<repo>/.cache/upstream-venv`` and is created the first time a test
asks for it (:func:`upstream_python`), with ``python -m venv`` + ``pip``. A file lock serialises
creation so parallel pytest-xdist workers do not race; the checked result is cached per process.
:func:`run_upstream` runs a script (a file, or source text) with that interpreter.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_DIR = REPO_ROOT / ".cache" / "upstream-venv"
UPSTREAM_VERSION = "1.1.21"
# icechunk 1.1.21 requires ``zarr>=3,!=3.0.3``; we pin the series our package targets.
REQUIREMENTS = (f"icechunk=={UPSTREAM_VERSION}", "zarr>=3.1,<3.2", "numpy")
PIP_TIMEOUT = 1200.0

_PROBE = """
import json, icechunk, zarr, numpy
print(json.dumps({"icechunk": icechunk.__version__, "icechunk_file": icechunk.__file__,
                  "zarr": zarr.__version__, "numpy": numpy.__version__}))
"""


class UpstreamEnvError(RuntimeError):
    """The upstream environment could not be created or is unusable."""


def clean_env(**extra: str) -> dict[str, str]:
    """Environment for an upstream subprocess: no PYTHONPATH leaking our sources; quiet logs."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.setdefault("ICECHUNK_LOG", "error")
    env.setdefault("RUST_LOG", "error")
    env.setdefault("PYTHONWARNINGS", "ignore")
    env.update(extra)
    return env


def venv_python(venv_dir: Path) -> Path:
    """Path of the interpreter inside ``venv_dir``."""
    if os.name == "nt":
        return venv_dir / "Scripts" / "python.exe"
    return venv_dir / "bin" / "python"


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """Exclusive advisory lock on ``path`` (blocks until acquired)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _probe(python: Path, venv_dir: Path) -> str | None:
    """Return ``None`` if ``python`` has usable upstream packages, else the reason why not."""
    if not python.exists():
        return f"{python} does not exist"
    try:
        proc = subprocess.run(
            [str(python), "-c", _PROBE],
            check=False,
            capture_output=True,
            text=True,
            timeout=120,
            env=clean_env(),
            cwd=str(venv_dir),
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"probe failed: {exc}"
    if proc.returncode != 0:
        return f"probe failed: {proc.stderr.strip()[-2000:]}"
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    if info["icechunk"] != UPSTREAM_VERSION:
        return f"icechunk {info['icechunk']} installed, want {UPSTREAM_VERSION}"
    if not Path(info["icechunk_file"]).resolve().is_relative_to(venv_dir.resolve()):
        return f"icechunk imported from outside the venv: {info['icechunk_file']}"
    if not info["zarr"].startswith("3.1."):
        return f"zarr {info['zarr']} installed, want 3.1.x"
    return None


def _run(cmd: list[str]) -> None:
    """Run an installer command; raise :class:`UpstreamEnvError` with its output on failure."""
    try:
        proc = subprocess.run(
            cmd, check=False, capture_output=True, text=True, timeout=PIP_TIMEOUT, env=clean_env()
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UpstreamEnvError(f"{' '.join(cmd)}: {exc}") from exc
    if proc.returncode != 0:
        raise UpstreamEnvError(
            f"{' '.join(cmd)} exited {proc.returncode}\n{proc.stdout[-3000:]}\n"
            f"{proc.stderr[-3000:]}"
        )


def build_upstream_venv(venv_dir: Path) -> Path:
    """Create or repair the venv at ``venv_dir``; return its python. Raises on failure."""
    python = venv_python(venv_dir)
    with _file_lock(venv_dir.with_name(venv_dir.name + ".lock")):
        if _probe(python, venv_dir) is None:
            return python
        if not python.exists():
            _run([sys.executable, "-m", "venv", str(venv_dir)])
        _run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "-q",
                *REQUIREMENTS,
            ]
        )
        reason = _probe(python, venv_dir)
        if reason is not None:
            raise UpstreamEnvError(f"upstream venv unusable after install: {reason}")
        return python


@cache
def _ensure(venv_dir: Path) -> tuple[Path | None, str]:
    """Cached result of building the venv: (python, "") or (None, reason)."""
    try:
        return build_upstream_venv(venv_dir), ""
    except (UpstreamEnvError, OSError) as exc:
        return None, str(exc)


def upstream_python() -> Path:
    """Return the python of the upstream venv, creating it if needed.

    If it cannot be created the calling test fails when ``CI=true`` and is skipped otherwise.
    """
    python, reason = _ensure(VENV_DIR)
    if python is None:
        message = f"upstream icechunk=={UPSTREAM_VERSION} environment unavailable: {reason}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return python


def run_upstream(script: str | Path, *args: str, timeout: float = 300) -> str:
    """Run ``script`` (a file, or Python source text) with upstream's interpreter.

    Returns its standard output; a non-zero exit fails the calling test with the script's
    output.
    """
    if isinstance(script, Path):
        command = [str(upstream_python()), str(script), *args]
    else:
        command = [str(upstream_python()), "-c", textwrap.dedent(script), *args]
    proc = subprocess.run(
        command,
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=clean_env(),
        cwd=str(VENV_DIR),  # `-c` puts the working directory first on sys.path
    )
    if proc.returncode != 0:
        pytest.fail(
            f"upstream script exited {proc.returncode}:\n{proc.stdout[-3000:]}\n"
            f"{proc.stderr[-3000:]}",
            pytrace=False,
        )
    return proc.stdout

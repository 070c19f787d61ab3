"""Running the interop scripts under one implementation of icechunk (a subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

SCRIPTS = Path(__file__).resolve().parent / "scripts"
SCRIPT_TIMEOUT = 300.0
OURS_PYTHON_ENV = "ICECHUNK_INTEROP_OURS_PYTHON"


@dataclass(frozen=True)
class Impl:
    """One implementation of icechunk: an interpreter and the environment to run it in."""

    name: str
    python: Path
    env: dict[str, str] = field(repr=False, compare=False)

    def run(
        self, script: str, *args: str | os.PathLike[str], timeout: float = SCRIPT_TIMEOUT
    ) -> str:
        """Run ``scripts/<script>`` with ``args``; return stdout, fail the test on error."""
        cmd = [str(self.python), str(SCRIPTS / script), *(str(a) for a in args)]
        try:
            proc = subprocess.run(
                cmd,
                check=False,
                capture_output=True,
                text=True,
                timeout=timeout,
                env=self.env,
                cwd=str(SCRIPTS),
            )
        except subprocess.TimeoutExpired as exc:
            pytest.fail(
                f"[{self.name}] timed out after {timeout}s: {' '.join(cmd)}\n"
                f"--- stdout ---\n{_text(exc.stdout)}\n--- stderr ---\n{_text(exc.stderr)}",
                pytrace=False,
            )
        if proc.returncode != 0:
            pytest.fail(
                f"[{self.name}] exit code {proc.returncode}: {' '.join(cmd)}\n"
                f"--- stdout ---\n{proc.stdout[-5000:]}\n--- stderr ---\n{proc.stderr[-20000:]}",
                pytrace=False,
            )
        return proc.stdout


def _text(data: bytes | str | None) -> str:
    """Decode captured output of a timed-out process."""
    if data is None:
        return ""
    return data if isinstance(data, str) else data.decode(errors="replace")


def check_import(impl: Impl, expected_root: Path) -> None:
    """Fail unless ``impl`` imports ``icechunk`` from below ``expected_root``."""
    proc = subprocess.run(
        [str(impl.python), "-c", "import icechunk; print(icechunk.__file__)"],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env=impl.env,
        cwd=str(SCRIPTS),
    )
    if proc.returncode != 0:
        pytest.fail(f"[{impl.name}] cannot import icechunk:\n{proc.stderr}", pytrace=False)
    where = Path(proc.stdout.strip()).resolve()
    if not where.is_relative_to(expected_root.resolve()):
        pytest.fail(
            f"[{impl.name}] imports icechunk from {where}, expected below {expected_root}",
            pytrace=False,
        )


def dump(impl: Impl, repo: Path, out_dir: Path) -> dict[str, Any]:
    """Dump ``repo`` with ``impl`` (``scripts/dump_repo.py``); the JSON is kept in ``out_dir``."""
    out = out_dir / f"dump-{impl.name}-{repo.name}.json"
    impl.run("dump_repo.py", repo, "--out", out)
    return dict(json.loads(out.read_text()))

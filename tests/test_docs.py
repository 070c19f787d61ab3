"""The documentation: its examples run, its API reference is complete, and it builds strictly.

- Every fenced ``python`` block of README.md and of a page under docs/ (except the generated
  API reference) is run, in order, in one namespace per page, in a fresh temporary folder. A
  block right after an ``<!-- no-run -->`` line is shown but not run (cloud credentials).
- Every public name (``__all__`` of the modules in ``PUBLIC_MODULES``) appears in the API
  reference and has a docstring, as do the public methods and properties of public classes.
- ``mkdocs build --strict`` succeeds: warnings (broken internal links and anchors, griffe
  warnings about docstrings, missing files) are errors.
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from _require import require

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md"] + sorted(
    p for p in DOCS.rglob("*.md") if "reference" not in p.relative_to(DOCS).parts
)
PUBLIC_MODULES = [
    "icechunk",
    "icechunk.xarray",
    "icechunk.dask",
    "icechunk.distributed",
    "icechunk.virtual",
    "icechunk.testing.strategies",
]

_FENCE = re.compile(
    r"^(?P<indent> *)```(?P<info>[^\n`]*)\n(?P<body>.*?)^(?P=indent)```", re.M | re.S
)


def python_blocks(text: str) -> list[tuple[int, str]]:
    """(line number, code) of each runnable ```python block of a markdown page."""
    blocks = []
    for m in _FENCE.finditer(text):
        if m.group("info").strip().split(" ")[0] not in ("python", "py"):
            continue
        before = text[: m.start()].rstrip().rsplit("\n", 1)[-1].strip()
        if before == "<!-- no-run -->":
            continue
        indent = len(m.group("indent"))
        body = "\n".join(line[indent:] for line in m.group("body").splitlines())
        blocks.append((text[: m.start()].count("\n") + 1, body))
    return blocks


def test_pages_exist() -> None:
    names = {p.relative_to(DOCS).as_posix() for p in PAGES if DOCS in p.parents}
    for required in [
        "getting-started.md",
        "concepts.md",
        "differences.md",
        "guide/version-control.md",
        "guide/transactions.md",
        "guide/parallel-writes.md",
        "guide/xarray.md",
        "guide/dask.md",
        "guide/virtual-datasets.md",
        "guide/storage.md",
        "guide/configuration.md",
        "guide/maintenance.md",
        "guide/performance.md",
        "guide/migration.md",
        "guide/faq.md",
    ]:
        assert required in names


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(ROOT).as_posix() for p in PAGES])
def test_page_examples_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = python_blocks(page.read_text())
    if not blocks:
        pytest.skip("no python examples on this page")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem.replace('-', '_')}"}
    for line, code in blocks:
        try:
            exec(compile(code, f"{page.relative_to(ROOT)}:{line}", "exec"), namespace)
        except Exception as e:
            raise AssertionError(
                f"the example at {page.relative_to(ROOT)} line {line} raised "
                f"{type(e).__name__}: {e}\n---\n{code}"
            ) from e


def _public_names() -> dict[str, object]:
    names: dict[str, object] = {}
    for modname in PUBLIC_MODULES:
        module = importlib.import_module(modname)
        for name in module.__all__:
            if name != "__version__":
                names[f"{modname}.{name}"] = getattr(module, name)
    return names


def documented_names() -> tuple[list[str], list[str]]:
    """All public names (module members, and methods/properties of public classes), and
    those without a docstring."""
    names, missing = [], []
    for qualname, obj in _public_names().items():
        names.append(qualname)
        if not (obj.__doc__ or "").strip():
            missing.append(qualname)
        if not inspect.isclass(obj) or not obj.__module__.startswith("icechunk"):
            continue
        for attr, value in vars(obj).items():
            if attr.startswith("_"):
                continue
            if isinstance(value, (staticmethod, classmethod)):
                value = value.__func__
            if not (inspect.isfunction(value) or isinstance(value, property)):
                continue
            names.append(f"{qualname}.{attr}")
            if not (value.__doc__ or "").strip():
                missing.append(f"{qualname}.{attr}")
    return names, missing


def test_every_public_name_is_in_the_api_reference() -> None:
    text = "\n".join(p.read_text() for p in (DOCS / "reference").glob("*.md"))
    listed = set(re.findall(r"^::: ([\w.]+)", text, re.M))
    absent = sorted(set(_public_names()) - listed)
    assert not absent, f"public names missing from docs/reference/: {absent}"


def test_every_public_name_has_a_docstring() -> None:
    names, missing = documented_names()
    print(f"{len(names)} public names, {len(missing)} without a docstring")
    assert not missing, f"public names without a docstring: {missing}"


def test_docs_build_strict(tmp_path: Path) -> None:
    require("mkdocs")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-10000:]
    assert (tmp_path / "site" / "reference" / "repository" / "index.html").exists()
    assert (tmp_path / "site" / "notebooks" / "02_climate_workflow" / "index.html").exists()


def test_readme_names_both_versions(capsys: pytest.CaptureFixture[str]) -> None:
    """README and print_debug_info say which implementation this is, and both versions."""
    import icechunk
    from icechunk._version import IMPLEMENTATION_VERSION

    icechunk.print_debug_info()
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("icechunk:"))
    assert "pure-Python implementation" in line and IMPLEMENTATION_VERSION in line
    assert icechunk.__version__ in line
    readme = (ROOT / "README.md").read_text()
    assert line in readme
    assert f"## {IMPLEMENTATION_VERSION} " in (ROOT / "CHANGELOG.md").read_text()
    assert not re.search(r"\]\((https?:)?//", readme), "README links outside the repository"

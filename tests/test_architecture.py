"""The import layering of design.md §3: import-linter's contracts (pyproject.toml) and a
module-level cycle check over the import graph (lazy imports count; ``TYPE_CHECKING`` ones
do not)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import tomllib
from collections.abc import Set as AbstractSet
from pathlib import Path

import pytest
from _require import require

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"


def _ignored_imports() -> set[tuple[str, str]]:
    """The imports the acyclic contract of pyproject.toml still tolerates."""
    config = tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]
    ignored: set[tuple[str, str]] = set()
    for contract in config["contracts"]:
        if contract["type"] == "acyclic_siblings":
            for line in contract.get("ignore_imports", []):
                importer, imported = (part.strip() for part in line.split("->"))
                ignored.add((importer, imported))
    return ignored


def import_cycles(package: str, ignored: AbstractSet[tuple[str, str]] = frozenset()) -> list[list[str]]:
    """The modules of ``package`` that import each other in a cycle, one sorted list per cycle."""
    grimp = require("grimp")
    graph = grimp.build_graph(package, exclude_type_checking_imports=True, cache_dir=None)
    edges = {
        m: {i for i in graph.find_modules_directly_imported_by(m) if (m, i) not in ignored}
        for m in graph.modules
    }
    return _strongly_connected(edges)


def _strongly_connected(edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative: the components of more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_import_linter_contracts_are_kept() -> None:
    require("importlinter.cli")
    # in a child process: import-linter configures the logging of the process it runs in
    run = (
        "import sys; from importlinter.cli import lint_imports; "
        f"sys.exit(lint_imports(config_filename={str(PYPROJECT)!r}, no_cache=True, no_logo=True))"
    )
    result = subprocess.run(
        [sys.executable, "-c", run], capture_output=True, text=True, check=False, cwd=ROOT
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_module_level_import_cycles() -> None:
    assert import_cycles("icechunk", _ignored_imports()) == []


def test_the_cycle_check_finds_a_lazy_cycle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "cyclic_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "model.py").write_text(
        textwrap.dedent(
            """
            def encode():
                from .codec import encode_bytes  # a lazy trampoline
                return encode_bytes()
            """
        )
    )
    (package / "codec.py").write_text("from .model import encode\n")
    (package / "leaf.py").write_text("from . import model\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert import_cycles("cyclic_pkg") == [["cyclic_pkg.codec", "cyclic_pkg.model"]]
    ignored = {("cyclic_pkg.model", "cyclic_pkg.codec")}
    assert import_cycles("cyclic_pkg", ignored) == []
    sys.modules.pop("cyclic_pkg", None)

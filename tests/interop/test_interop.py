"""Interop between this package and upstream Icechunk 1.1.21 (spec v1 on-disk format).

Every test writes repositories on local disk with ``scripts/write_repo.py`` /
``scripts/commit_on_top.py`` under one implementation and reads them back with
``scripts/dump_repo.py`` under both; one repository must dump to the same document under both
implementations (ids, timestamps and all). Repositories written separately by the two
implementations are compared after :func:`normalize` (ids and timestamps are random).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from interop_harness import Impl, dump

pytestmark = pytest.mark.interop

INITIAL_SNAPSHOT_ID = "1CECHNKREP0F1RSTCMT0"
ID_RE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{20}$")
MAGIC = "ICE🧊CHUNK".encode()
FILE_TYPES = {"snapshots": 1, "manifests": 2, "transactions": 4}
VARIANTS = [0, 1]


# ---------------------------------------------------------------------------------------------
# helpers


def differences(a: Any, b: Any, path: str = "$", limit: int = 25) -> list[str]:
    """Up to ``limit`` human-readable differences between two JSON values."""
    found: list[str] = []

    def walk(x: Any, y: Any, p: str) -> None:
        if len(found) >= limit:
            return
        if isinstance(x, dict) and isinstance(y, dict):
            for k in sorted(set(x) | set(y)):
                if k not in x:
                    found.append(f"{p}.{k}: only in second: {_short(y[k])}")
                elif k not in y:
                    found.append(f"{p}.{k}: only in first: {_short(x[k])}")
                else:
                    walk(x[k], y[k], f"{p}.{k}")
        elif isinstance(x, list) and isinstance(y, list) and len(x) == len(y):
            for i, (xi, yi) in enumerate(zip(x, y, strict=True)):
                walk(xi, yi, f"{p}[{i}]")
        elif x != y:
            found.append(f"{p}: {_short(x)} != {_short(y)}")

    walk(a, b, path)
    return found


def _short(value: Any, width: int = 300) -> str:
    """Compact JSON text of ``value``, truncated."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= width else text[:width] + "…"


def assert_same(first: dict[str, Any], second: dict[str, Any], what: str) -> None:
    """Assert two dumps are equal, listing the first differences otherwise."""
    if first != second:
        diffs = "\n  ".join(differences(first, second))
        pytest.fail(f"{what}: dumps differ:\n  {diffs}", pytrace=False)


def normalize(doc: dict[str, Any], *, keep_manifests: bool = True) -> dict[str, Any]:
    """Make dumps of two separately written repositories comparable.

    Snapshot ids become labels in order of first appearance along the sorted refs' ancestries
    (the fixed initial id is kept); timestamps and manifest ids/sizes are dropped. With
    ``keep_manifests=False`` manifest lists are dropped entirely (how chunk refs are split over
    manifest files is an implementation choice).
    """
    labels: dict[str, str] = {INITIAL_SNAPSHOT_ID: INITIAL_SNAPSHOT_ID}
    for ref in sorted(doc["ancestry"]):
        for info in doc["ancestry"][ref]:
            labels.setdefault(info["id"], f"S{len(labels)}")

    def relabel(value: Any) -> Any:
        if isinstance(value, dict):
            return {labels.get(k, k): relabel(v) for k, v in value.items()}
        if isinstance(value, list):
            return [relabel(v) for v in value]
        if isinstance(value, str):
            return labels.get(value, value)
        return value

    out = relabel(doc)
    for chain in out["ancestry"].values():
        for info in chain:
            del info["written_at"]
            if keep_manifests:
                info["manifests"] = sorted(m[2] for m in info["manifests"])
            else:
                del info["manifests"]
    return out


def check_layout(repo: Path, doc: dict[str, Any], *, deleted_tags: tuple[str, ...]) -> None:
    """Check the spec v1 object layout of ``repo`` against its dump ``doc``."""
    # dot-entries (our local-filesystem lock folder) are not repository objects
    top = {p.name for p in repo.iterdir() if not p.name.startswith(".")}
    assert {"refs", "snapshots", "manifests", "transactions", "chunks"} <= top, top
    assert top <= {"config.yaml", "refs", "snapshots", "manifests", "transactions", "chunks"}, top
    assert ("config.yaml" in top) == doc["config"]["present"]

    # refs
    for kind, refs in (("branch", doc["branches"]), ("tag", doc["tags"])):
        for name, tip in refs.items():
            ref_file = repo / "refs" / f"{kind}.{name}" / "ref.json"
            assert json.loads(ref_file.read_bytes()) == {"snapshot": tip}, ref_file
    for name in deleted_tags:
        assert name not in doc["tags"]
        assert (repo / "refs" / f"tag.{name}" / "ref.json.deleted").is_file(), name
    for ref_dir in (repo / "refs").iterdir():
        kind, _, name = ref_dir.name.partition(".")
        assert kind in ("branch", "tag"), ref_dir
        if (ref_dir / "ref.json").exists() and not (ref_dir / "ref.json.deleted").exists():
            refs = doc["branches"] if kind == "branch" else doc["tags"]
            assert name in refs, f"ref {ref_dir.name} not listed by the reader"

    # every object file: id-named, headered metadata files
    for folder, file_type in FILE_TYPES.items():
        for obj in (repo / folder).iterdir():
            assert ID_RE.match(obj.name), obj
            head = obj.read_bytes()[:39]
            assert head[:12] == MAGIC, obj
            assert head[36] == 1, f"{obj}: spec version {head[36]}"
            assert head[37] == file_type, f"{obj}: file type {head[37]}"
            assert head[38] in (0, 1), f"{obj}: compression {head[38]}"
    for obj in (repo / "chunks").iterdir():
        assert ID_RE.match(obj.name), obj

    # the reader reached every snapshot on disk; every commit has a transaction log
    on_disk = {p.name for p in (repo / "snapshots").iterdir()}
    reachable = set(doc["snapshots"])
    assert on_disk == reachable, (on_disk - reachable, reachable - on_disk)
    assert INITIAL_SNAPSHOT_ID in on_disk
    transactions = {p.name for p in (repo / "transactions").iterdir()}
    assert transactions == on_disk - {INITIAL_SNAPSHOT_ID}
    manifests = {m[0] for chain in doc["ancestry"].values() for i in chain for m in i["manifests"]}
    assert manifests <= {p.name for p in (repo / "manifests").iterdir()}


def _scenario_checks(doc: dict[str, Any]) -> None:
    """Sanity checks that the scenario itself produced what it should (both implementations)."""
    assert set(doc["branches"]) == {"main", "dev"}
    assert set(doc["tags"]) == {"v1", "v2"}
    main_chain = doc["ancestry"]["branch:main"]
    assert [i["message"] for i in main_chain] == [
        "ünïcode commit ✓",
        "delete and shrink",
        "update data",
        "initial hierarchy",
        "Repository initialized",
    ]
    assert main_chain[-1]["id"] == INITIAL_SNAPSHOT_ID
    tip = doc["snapshots"][doc["branches"]["main"]]
    assert "/to_delete" not in tip["nodes"] and "/group3" not in tip["nodes"]
    assert tip["nodes"]["/to_resize"]["shape"] == [7]
    assert not any(k.startswith("unwritten/c") for k in tip["keys"])


# ---------------------------------------------------------------------------------------------
# (a) / (b): one repository, dumped by both implementations


@pytest.mark.parametrize("variant", VARIANTS)
def test_ours_writes_upstream_reads(
    ours: Impl, upstream: Impl, tmp_path: Path, variant: int
) -> None:
    """A repository written by us reads identically in upstream and in ours."""
    repo = tmp_path / "repo"
    ours.run("write_repo.py", repo, "--variant", str(variant))
    by_upstream = dump(upstream, repo, tmp_path)
    _scenario_checks(by_upstream)
    assert_same(by_upstream, dump(ours, repo, tmp_path), "upstream vs ours on our repo")


@pytest.mark.parametrize("variant", VARIANTS)
def test_upstream_writes_ours_reads(
    ours: Impl, upstream: Impl, tmp_path: Path, variant: int
) -> None:
    """A repository written by upstream reads identically in ours and in upstream."""
    repo = tmp_path / "repo"
    upstream.run("write_repo.py", repo, "--variant", str(variant))
    by_upstream = dump(upstream, repo, tmp_path)
    _scenario_checks(by_upstream)
    assert_same(by_upstream, dump(ours, repo, tmp_path), "upstream vs ours on upstream's repo")


# ---------------------------------------------------------------------------------------------
# (c): commits stacked alternately by the two implementations


@pytest.mark.parametrize("first", ["ours", "upstream"])
def test_alternating_commits(ours: Impl, upstream: Impl, tmp_path: Path, first: str) -> None:
    """Writer A creates, B commits on top, A commits on top again; both read all identically."""
    a, b = (ours, upstream) if first == "ours" else (upstream, ours)
    repo = tmp_path / "repo"
    a.run("write_repo.py", repo)
    step1 = json.loads(b.run("commit_on_top.py", repo, "--label", f"{b.name}-1"))
    step2 = json.loads(a.run("commit_on_top.py", repo, "--label", f"{a.name}-2"))
    assert step2["parent"] == step1["snapshot_id"]

    by_upstream = dump(upstream, repo, tmp_path)
    assert_same(by_upstream, dump(ours, repo, tmp_path), f"alternating commits ({first} first)")
    main_chain = by_upstream["ancestry"]["branch:main"]
    assert [i["id"] for i in main_chain[:2]] == [step2["snapshot_id"], step1["snapshot_id"]]
    assert main_chain[0]["metadata"]["label"] == f"{a.name}-2"
    for step in (step1, step2):
        name = f"on-top-{step['label']}"
        assert by_upstream["branches"][name] == step["snapshot_id"]
        assert by_upstream["tags"][name] == step["snapshot_id"]


# ---------------------------------------------------------------------------------------------
# (d): layout on disk


@pytest.mark.parametrize("variant", VARIANTS)
def test_our_repo_layout(ours: Impl, upstream: Impl, tmp_path: Path, variant: int) -> None:
    """Our repository has the spec v1 layout, and upstream reaches every snapshot in it."""
    repo = tmp_path / "repo"
    ours.run("write_repo.py", repo, "--variant", str(variant))
    check_layout(repo, dump(upstream, repo, tmp_path), deleted_tags=("temp",))


# ---------------------------------------------------------------------------------------------
# (e): the same script writes the same content under both implementations


@pytest.mark.parametrize("variant", VARIANTS)
def test_same_script_same_content(ours: Impl, upstream: Impl, tmp_path: Path, variant: int) -> None:
    """Repositories written by each implementation from one script hold the same content."""
    mine, theirs = tmp_path / "ours", tmp_path / "upstream"
    ours.run("write_repo.py", mine, "--variant", str(variant))
    upstream.run("write_repo.py", theirs, "--variant", str(variant))
    assert_same(
        normalize(dump(upstream, theirs, tmp_path), keep_manifests=False),
        normalize(dump(upstream, mine, tmp_path), keep_manifests=False),
        "upstream-written vs ours-written (normalized)",
    )


# ---------------------------------------------------------------------------------------------
# harness self-check: upstream on every side (passes independently of our engine)


def test_harness_self_check(upstream: Impl, tmp_path: Path) -> None:
    """The scripts are deterministic and the checks hold for upstream alone."""
    one, two = tmp_path / "one", tmp_path / "two"
    upstream.run("write_repo.py", one)
    upstream.run("write_repo.py", two)
    d_one, d_two = dump(upstream, one, tmp_path), dump(upstream, two, tmp_path)
    assert d_one != d_two  # ids and timestamps are random ...
    _scenario_checks(d_one)
    assert_same(normalize(d_one), normalize(d_two), "two upstream writes")  # ... nothing else
    assert_same(d_one, dump(upstream, one, tmp_path), "dumping twice")
    check_layout(one, d_one, deleted_tags=("temp",))

    upstream.run("commit_on_top.py", one, "--label", "x")
    upstream.run("commit_on_top.py", two, "--label", "x")
    upstream.run("commit_on_top.py", one, "--label", "y")
    upstream.run("commit_on_top.py", two, "--label", "y")
    d_one, d_two = dump(upstream, one, tmp_path), dump(upstream, two, tmp_path)
    assert_same(normalize(d_one), normalize(d_two), "two upstream writes + commits on top")
    check_layout(one, d_one, deleted_tags=("temp",))

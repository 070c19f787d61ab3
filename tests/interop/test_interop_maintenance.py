"""Expiry and garbage collection agree across implementations, and leave readable repos."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from interop_harness import Impl
from test_interop import dump

pytestmark = pytest.mark.interop


@pytest.mark.parametrize("order", ["ours-maintains", "upstream-maintains"])
def test_maintenance_results_match_and_repos_stay_readable(
    ours: Impl, upstream: Impl, tmp_path: Path, order: str
) -> None:
    results = {}
    for impl in (ours, upstream):
        repo = tmp_path / f"repo-{impl.name}"
        impl.run("write_repo.py", repo)
        maintainer = ours if order == "ours-maintains" else upstream
        results[impl.name] = json.loads(maintainer.run("maintain_repo.py", repo).splitlines()[-1])
        assert dump(ours, repo, tmp_path) == dump(upstream, repo, tmp_path)
    counts = {
        name: {k: v for k, v in r.items() if k != "expired"} | {"n_expired": len(r["expired"])}
        for name, r in results.items()
    }
    assert counts[ours.name] == counts[upstream.name]
    assert counts[ours.name]["snapshots_deleted"] > 0


def test_deleted_branch_stays_deleted_for_upstream(
    ours: Impl, upstream: Impl, tmp_path: Path
) -> None:
    """Upstream lists the folders under refs/ as refs: what our local storage keeps next to a
    ref it updated (its lock file) must go with the branch."""
    repo = tmp_path / "repo"
    ours.run("write_repo.py", repo)
    before = dump(upstream, repo, tmp_path)
    ours.run("cycle_branch.py", repo)
    after = dump(upstream, repo, tmp_path)
    assert "cycle" not in after["branches"]
    assert after["branches"] == before["branches"]

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

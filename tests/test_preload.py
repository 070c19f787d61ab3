"""Manifest preload (``ManifestPreloadConfig``): which manifests a new session loads at once,
counted through the asset manager's record of manifests read from storage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr

import icechunk
from icechunk._core._preload import manifests_to_preload
from icechunk._core.repository import EngineSettings, RepositoryCore
from icechunk._sync import sync
from icechunk import ManifestPreloadCondition, ManifestPreloadConfig

# array name -> number of chunk references (one manifest each)
ARRAYS = {"data": 1200, "lat": 5, "lon": 1100, "time": 10, "x": 2}


@pytest.fixture(scope="module")
def repo_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("preload") / "repo"
    repo = icechunk.Repository.create(icechunk.local_filesystem_storage(str(path)))
    session = repo.writable_session("main")
    for name, n in ARRAYS.items():
        arr = zarr.create_array(session.store, name=name, shape=(n,), chunks=(1,), dtype="u1")
        arr[:] = np.arange(n, dtype="u1")
    session.commit("arrays")
    return path


def _open(path: Path) -> icechunk.Repository:
    return icechunk.Repository.open(icechunk.local_filesystem_storage(str(path)))


def _manifest_of(repo: icechunk.Repository) -> dict[bytes, str]:
    session = repo.readonly_session("main")
    snapshot = sync(session._core.base_snapshot())
    return {
        ref.manifest_id: node.path.lstrip("/")
        for node in snapshot.nodes
        if node.array is not None
        for ref in node.array.manifests
    }


def _preloaded(path: Path, preload: Any) -> list[str]:
    """Names of the arrays whose manifests a session opened under ``preload`` read."""
    repo = _open(path)
    names = _manifest_of(repo)
    core = RepositoryCore(repo._core.backend, EngineSettings(preload=preload), repo._core.virtual)

    async def open_and_wait() -> None:
        session = await core.open_session(await _tip(core), "main", True)
        if session.preloading is not None:
            await session.preloading

    sync(open_and_wait())
    return sorted(names[i] for i in core.assets.manifests_read)


async def _tip(core: RepositoryCore) -> bytes:
    return (await core.branch_tip("main")).snapshot_id


def test_default_preload_loads_small_coordinate_arrays(repo_path: Path) -> None:
    # upstream's default: coordinate-like names with at most 1,000 refs, 10,000 refs in all
    assert _preloaded(repo_path, None) == ["lat", "time", "x"]
    assert _preloaded(repo_path, ManifestPreloadConfig()) == ["lat", "time", "x"]


def test_facade_sessions_preload_by_default(repo_path: Path) -> None:
    names = _manifest_of(_open(repo_path))
    repo = _open(repo_path)
    assert not repo._core.assets.manifests_read
    session = repo.readonly_session("main")
    assert session._core.preloading is not None
    sync(session._core.preloading)
    assert sorted(names[i] for i in repo._core.assets.manifests_read) == ["lat", "time", "x"]
    zarr.open_array(session.store, path="time", mode="r")[:]  # served from the cache
    assert len(repo._core.assets.manifests_read) == 3


def test_preload_off(repo_path: Path) -> None:
    assert _preloaded(repo_path, ManifestPreloadConfig(max_total_refs=0)) == []
    never = ManifestPreloadConfig(preload_if=ManifestPreloadCondition.false())
    assert _preloaded(repo_path, never) == []


def test_preload_condition_matching(repo_path: Path) -> None:
    by_path = ManifestPreloadConfig(
        max_total_refs=100_000, preload_if=ManifestPreloadCondition.path_matches("^/(data|lon)$")
    )
    assert _preloaded(repo_path, by_path) == ["data", "lon"]
    small = ManifestPreloadConfig(preload_if=ManifestPreloadCondition.num_refs(None, 6))
    assert _preloaded(repo_path, small) == ["lat", "x"]
    both = ManifestPreloadConfig(
        preload_if=ManifestPreloadCondition.name_matches("^l")
        & ManifestPreloadCondition.num_refs(None, 2000)
    )
    assert _preloaded(repo_path, both) == ["lat", "lon"]


def test_preload_budget_skips_what_does_not_fit(repo_path: Path) -> None:
    # nodes in path order: data 1200 (too big), lat 5, lon 1100 (too big), time 10 (5 + 10 > 12),
    # x 2 (fits): a manifest that does not fit is skipped, later smaller ones still load
    budget = ManifestPreloadConfig(max_total_refs=12, preload_if=ManifestPreloadCondition.true())
    assert _preloaded(repo_path, budget) == ["lat", "x"]
    repo = _open(repo_path)
    snapshot = sync(repo.readonly_session("main")._core.base_snapshot())
    assert len(manifests_to_preload(snapshot, budget)) == 2

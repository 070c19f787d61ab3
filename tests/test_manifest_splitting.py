"""Manifest splitting: one manifest per region of an array's chunk grid, rewritten only when
the region changes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import zarr

import icechunk as ic
from icechunk import ManifestSplitCondition as Cond
from icechunk import ManifestSplitDimCondition as Dim


def _repo(path: Path, split: int) -> ic.Repository:
    splitting = ic.ManifestSplittingConfig.from_dict({Cond.name_matches("t"): {Dim.Axis(1): split}})
    config = ic.RepositoryConfig(
        inline_chunk_threshold_bytes=0, manifest=ic.ManifestConfig(splitting=splitting)
    )
    return ic.Repository.create(ic.local_filesystem_storage(str(path)), config=config)


def _manifests(path: Path) -> int:
    return len(list((path / "manifests").iterdir()))


def test_each_region_gets_a_manifest_and_only_changed_regions_are_rewritten(tmp_path: Path) -> None:
    repo = _repo(tmp_path, split=3)
    session = repo.writable_session("main")
    t = zarr.create_array(session.store, name="t", shape=(2, 7), chunks=(1, 1), dtype="i4")
    u = zarr.create_array(session.store, name="u", shape=(2, 7), chunks=(1, 1), dtype="i4")
    t[:] = np.arange(14).reshape(2, 7)
    u[:] = 1
    session.commit("write")
    assert _manifests(tmp_path) == 3 + 1  # t: columns 0-2, 3-5, 6; u: not split

    session = repo.writable_session("main")
    zarr.open_array(session.store, path="t")[:, 4] = -1  # only the middle region changes
    session.commit("edit one region")
    assert _manifests(tmp_path) == 5

    session = repo.writable_session("main")
    zarr.open_array(session.store, path="t").attrs["units"] = "K"  # no chunk changes
    session.commit("attributes")
    assert _manifests(tmp_path) == 5

    expected = np.arange(14).reshape(2, 7)
    expected[:, 4] = -1
    reader = zarr.open_group(repo.readonly_session(branch="main").store, mode="r")
    np.testing.assert_array_equal(reader["t"][:], expected)
    np.testing.assert_array_equal(reader["u"][:], 1)


def test_a_new_split_size_rewrites_straddling_regions(tmp_path: Path) -> None:
    repo = _repo(tmp_path, split=2)
    session = repo.writable_session("main")
    t = zarr.create_array(session.store, name="t", shape=(1, 6), chunks=(1, 1), dtype="i4")
    t[:] = np.arange(6).reshape(1, 6)
    session.commit("write")
    assert _manifests(tmp_path) == 3
    config = repo.config
    config.manifest = ic.ManifestConfig(
        splitting=ic.ManifestSplittingConfig.from_dict({Cond.name_matches("t"): {Dim.Axis(1): 3}})
    )
    repo = ic.Repository.open(ic.local_filesystem_storage(str(tmp_path)), config=config)
    session = repo.writable_session("main")
    zarr.open_array(session.store, path="t")[0, 0] = 10  # region 0-2 changes; 3-5 straddles
    session.commit("resplit")
    assert _manifests(tmp_path) == 3 + 2
    reader = zarr.open_array(repo.readonly_session(branch="main").store, path="t", mode="r")
    np.testing.assert_array_equal(reader[:], [[10, 1, 2, 3, 4, 5]])


def _manifest_counts(repo: ic.Repository) -> dict[str, int]:
    from icechunk._sync import sync

    snapshot = sync(repo.readonly_session("main")._core.base_snapshot())
    return {n.path: len(n.array.manifests) for n in snapshot.nodes if n.array is not None}


def test_rewrite_manifests_applies_a_new_splitting_config(tmp_path: Path) -> None:
    storage = ic.local_filesystem_storage(str(tmp_path))
    repo = ic.Repository.create(storage, ic.RepositoryConfig(inline_chunk_threshold_bytes=0))
    session = repo.writable_session("main")
    t = zarr.create_array(session.store, name="t", shape=(2, 7), chunks=(1, 1), dtype="i4")
    t[:] = np.arange(14).reshape(2, 7)
    session.commit("unsplit")
    assert _manifest_counts(repo) == {"/t": 1}

    splitting = ic.ManifestSplittingConfig.from_dict({Cond.name_matches("t"): {Dim.Axis(1): 2}})
    config = ic.RepositoryConfig(manifest=ic.ManifestConfig(splitting=splitting))
    repo = ic.Repository.open(storage, config)
    repo.rewrite_manifests("split by 2 columns", branch="main")
    assert _manifest_counts(repo) == {"/t": 4}  # columns 0-1, 2-3, 4-5, 6
    got = zarr.open_array(repo.readonly_session("main").store, path="t", mode="r")[:]
    np.testing.assert_array_equal(got, np.arange(14).reshape(2, 7))

    back = ic.Repository.open(storage, ic.RepositoryConfig.default())
    back.rewrite_manifests("one manifest again", branch="main")
    assert _manifest_counts(back) == {"/t": 1}

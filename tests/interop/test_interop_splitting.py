"""Split manifests (several manifests per array, ManifestSplittingConfig) written by this
package read the same under upstream Icechunk 1.1.21."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import zarr
from interop_harness import Impl, dump

import icechunk as ic
from icechunk._sync import sync

pytestmark = pytest.mark.interop


def _write_split_repo(path: Path) -> None:
    splitting = ic.ManifestSplittingConfig.from_dict(
        {
            ic.ManifestSplitCondition.name_matches("t"): {
                ic.ManifestSplitDimCondition.DimensionName("x"): 3,
                ic.ManifestSplitDimCondition.Axis(0): 2,
            }
        }
    )
    config = ic.RepositoryConfig(
        inline_chunk_threshold_bytes=0, manifest=ic.ManifestConfig(splitting=splitting)
    )
    repo = ic.Repository.create(ic.local_filesystem_storage(str(path)), config=config)
    session = repo.writable_session("main")
    t = zarr.create_array(
        session.store, name="t", shape=(5, 8), chunks=(1, 1), dtype="i4", dimension_names=("y", "x")
    )
    t[:] = np.arange(40).reshape(5, 8)
    session.commit("split")
    session = repo.writable_session("main")
    zarr.open_array(session.store, path="t")[4, 7] = -1
    session.commit("edit one region")


def test_upstream_reads_our_split_manifests(ours: Impl, upstream: Impl, tmp_path: Path) -> None:
    repo = tmp_path / "split"
    _write_split_repo(repo)
    assert len(list((repo / "manifests").iterdir())) == 3 * 3 + 1
    docs = [dump(impl, repo, tmp_path) for impl in (ours, upstream)]
    assert docs[0] == docs[1]


def test_we_read_upstreams_split_manifests(ours: Impl, upstream: Impl, tmp_path: Path) -> None:
    repo_path = tmp_path / "upstream-split"
    upstream.run("write_split_repo.py", repo_path)
    repo = ic.Repository.open(ic.local_filesystem_storage(str(repo_path)))
    session = repo.readonly_session("main")
    manifests_per_array = {
        node.path: len(node.array.manifests)
        for node in sync(session._core.base_snapshot()).nodes
        if node.array is not None
    }
    assert manifests_per_array == {"/small": 1, "/temp": 9, "/u": 3}
    t = zarr.open_array(session.store, path="temp", mode="r")
    expected = np.arange(48).reshape(6, 8)
    expected[5, 7] = -1
    np.testing.assert_array_equal(t[:], expected)
    np.testing.assert_array_equal(
        zarr.open_array(session.store, path="u", mode="r")[:], np.linspace(0, 1, 20)
    )
    # a single-chunk read loads one manifest only: the one whose extents hold the chunk
    cold = ic.Repository.open(ic.local_filesystem_storage(str(repo_path)))
    reader = cold.readonly_session("main")
    if reader._core.preloading is not None:
        sync(reader._core.preloading)
    before = len(cold._core.assets.manifests_read)
    assert zarr.open_array(reader.store, path="temp", mode="r")[3, 4] == 28
    assert len(cold._core.assets.manifests_read) == before + 1
    docs = [dump(impl, repo_path, tmp_path) for impl in (ours, upstream)]
    assert docs[0] == docs[1]

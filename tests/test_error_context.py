"""Errors name the operations they passed through (upstream shows its span trace likewise)."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import zarr

import icechunk
from icechunk._exceptions import BranchNotFoundError, FormatError, SnapshotNotFoundError


def _repo(path: Path) -> icechunk.Repository:
    return icechunk.Repository.create(icechunk.local_filesystem_storage(str(path)))


def test_ancestry_fails_at_the_call_naming_fetch_and_ancestry(tmp_path: Path) -> None:
    _repo(tmp_path)
    shutil.rmtree(tmp_path / "snapshots")
    repo = icechunk.Repository.open(icechunk.local_filesystem_storage(str(tmp_path)))
    with pytest.raises(SnapshotNotFoundError) as info:
        repo.ancestry(branch="main")  # not iterated: the call itself reads the snapshot
    text = str(info.value)
    assert text.startswith("snapshot 1CECHNKREP0F1RSTCMT0 does not exist")
    assert text.endswith(
        "context:\n  0: fetch_snapshot with snapshot_id=1CECHNKREP0F1RSTCMT0\n"
        "  1: ancestry with branch=main"
    )
    assert info.value.message.startswith("snapshot 1CECHNKREP0F1RSTCMT0")
    assert "context:" in str(pickle.loads(pickle.dumps(info.value)))


def test_ancestry_of_a_missing_branch_fails_at_the_call(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    with pytest.raises(BranchNotFoundError, match="ref not found"):
        repo.ancestry(branch="nope")
    assert [s.message for s in repo.ancestry(branch="main")] == ["Repository initialized"]


def test_damaged_manifest_names_the_manifest_and_the_key(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    session = repo.writable_session("main")
    root = zarr.group(session.store)
    root.create_array("a", shape=(4,), chunks=(2,), dtype="i4")[:] = np.arange(4)
    session.commit("one")
    [manifest] = (tmp_path / "manifests").iterdir()
    manifest.write_bytes(b"not a manifest")
    repo = icechunk.Repository.open(icechunk.local_filesystem_storage(str(tmp_path)))
    array = zarr.open_array(repo.readonly_session(branch="main").store, path="a", mode="r")
    with pytest.raises(FormatError) as info:
        array[0]
    lines = str(info.value).splitlines()
    assert lines[-2:] == [
        f"  0: fetch_manifest with manifest_id={manifest.name}",
        "  1: get with key=a/c/0",
    ]

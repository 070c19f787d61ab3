"""Large hierarchies: a snapshot of many groups, most with identical metadata, written by this
package (group metadata stored once per distinct value), read the same under upstream 1.1.21."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import zarr
from interop_harness import Impl, dump

import icechunk as ic

pytestmark = pytest.mark.interop


def _write_groups(path: Path) -> None:
    repo = ic.Repository.create(ic.local_filesystem_storage(str(path)))
    session = repo.writable_session("main")
    root = zarr.group(session.store)
    for i in range(300):
        group = root.create_group(f"g{i:03d}")
        if i % 7 == 0:
            group.attrs["index"] = i  # distinct metadata among many equal ones
    root.create_group("g000/inner/ünïcode ✓")
    zarr.create_array(session.store, name="g001/a", shape=(3,), chunks=(3,), dtype="i4")[:] = 7
    session.commit("many groups")


def test_upstream_reads_many_groups_sharing_metadata(
    ours: Impl, upstream: Impl, tmp_path: Path
) -> None:
    repo = tmp_path / "groups"
    _write_groups(repo)
    docs = [dump(impl, repo, tmp_path) for impl in (ours, upstream)]
    assert docs[0] == docs[1]
    text = json.dumps(docs[1], ensure_ascii=False)
    assert "/g299" in text and "/g000/inner/ünïcode ✓" in text and '"index": 294' in text
    reopened = ic.Repository.open(ic.local_filesystem_storage(str(repo)))
    group = zarr.open_group(reopened.readonly_session("main").store, mode="r")
    assert group["g007"].attrs["index"] == 7 and dict(group["g008"].attrs) == {}

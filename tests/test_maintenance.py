"""Snapshot expiry, garbage collection and storage statistics."""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

import numpy as np
import pytest
import zarr

import icechunk

INITIAL = "1CECHNKREP0F1RSTCMT0"


def _commit(repo: icechunk.Repository, branch: str, value: int, message: str) -> str:
    session = repo.writable_session(branch)
    root = zarr.open_group(session.store, mode="a")
    if "a" not in root:
        root.create_array("a", shape=(4,), chunks=(2,), dtype="i8", fill_value=0)
    root["a"][:] = np.arange(4) + value * 100  # 16-byte chunks, native with threshold 0
    return session.commit(message)


def _repo(tmp_path: Path) -> icechunk.Repository:
    config = icechunk.RepositoryConfig.default()
    config.inline_chunk_threshold_bytes = 0
    return icechunk.Repository.create(
        icechunk.local_filesystem_storage(str(tmp_path / "repo")), config=config
    )


def _objects(tmp_path: Path, prefix: str) -> set[str]:
    folder = tmp_path / "repo" / prefix
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


def test_expire_then_gc_keeps_recent_history_and_data(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    old = [_commit(repo, "main", i, f"old {i}") for i in range(3)]
    time.sleep(0.05)
    cutoff = dt.datetime.now(dt.UTC)
    time.sleep(0.05)
    new = [_commit(repo, "main", 10 + i, f"new {i}") for i in range(2)]

    expired = repo.expire_snapshots(older_than=cutoff)
    assert expired == set(old)
    history = [h.id for h in repo.ancestry(branch="main")]
    assert history == [new[1], new[0], INITIAL]

    dry = repo.garbage_collect(dt.datetime.now(dt.UTC), dry_run=True)
    assert dry.snapshots_deleted == 3 and dry.transaction_logs_deleted == 3
    assert _objects(tmp_path, "snapshots") >= set(old)  # dry run deletes nothing

    summary = repo.garbage_collect(dt.datetime.now(dt.UTC))
    assert summary == dry
    assert summary.chunks_deleted == 6  # two 16-byte chunks per old commit
    assert summary.manifests_deleted == 3
    assert summary.bytes_deleted > 0
    assert _objects(tmp_path, "snapshots") == {INITIAL, *new}
    fresh = icechunk.Repository.open(icechunk.local_filesystem_storage(str(tmp_path / "repo")))
    arr = zarr.open_array(fresh.readonly_session(branch="main").store, path="a")
    np.testing.assert_array_equal(arr[:], np.arange(4) + 1100)
    arr = zarr.open_array(fresh.readonly_session(snapshot_id=new[0]).store, path="a")
    np.testing.assert_array_equal(arr[:], np.arange(4) + 1000)


def test_gc_keeps_what_tags_and_branches_reach(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    tagged = _commit(repo, "main", 1, "tagged")
    repo.create_tag("keep", tagged)
    _commit(repo, "main", 2, "second")
    repo.create_branch("side", tagged)
    side = _commit(repo, "side", 3, "side")
    repo.reset_branch("main", tagged)  # "second" becomes unreachable
    summary = repo.garbage_collect(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1))
    assert summary.snapshots_deleted == 1
    assert _objects(tmp_path, "snapshots") == {INITIAL, tagged, side}
    for sid, value in ((tagged, 1), (side, 3)):
        arr = zarr.open_array(repo.readonly_session(snapshot_id=sid).store, path="a")
        np.testing.assert_array_equal(arr[:], np.arange(4) + value * 100)


def test_gc_spares_recent_objects(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _commit(repo, "main", 1, "one")
    two = _commit(repo, "main", 2, "two")
    repo.reset_branch("main", INITIAL)
    past = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    assert repo.garbage_collect(past) == icechunk.GCSummary()
    assert two in _objects(tmp_path, "snapshots")


def test_expired_refs_can_be_deleted(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    first = _commit(repo, "main", 1, "one")
    repo.create_branch("stale", first)
    repo.create_tag("stale-tag", first)
    time.sleep(0.05)
    _commit(repo, "main", 2, "two")
    repo.expire_snapshots(
        dt.datetime.now(dt.UTC), delete_expired_branches=True, delete_expired_tags=True
    )
    assert repo.list_branches() == {"main"}
    assert repo.list_tags() == set()


def test_expiry_reports_old_ref_tips(tmp_path: Path) -> None:
    """A ref whose tip is older than the cutoff reports the tip too, as upstream does."""
    repo = _repo(tmp_path)
    a = _commit(repo, "main", 1, "a")
    repo.create_branch("side", a)
    b = _commit(repo, "side", 2, "b")
    time.sleep(0.05)
    cutoff = dt.datetime.now(dt.UTC)
    time.sleep(0.05)
    c = _commit(repo, "main", 3, "c")
    repo.create_tag("kept", b)

    assert repo.expire_snapshots(cutoff) == {a, b}
    assert [h.id for h in repo.ancestry(tag="kept")] == [b, INITIAL]
    assert [h.id for h in repo.ancestry(branch="side")] == [b, INITIAL]
    assert [h.id for h in repo.ancestry(branch="main")] == [c, INITIAL]
    assert repo.expire_snapshots(cutoff) == set()  # tips already next to the root


def test_naive_datetimes_are_utc(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _commit(repo, "main", 1, "one")
    naive_future = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(hours=1)
    assert repo.expire_snapshots(naive_future) == set()  # the tip is never expired
    assert repo.garbage_collect(naive_future).snapshots_deleted == 0


def test_chunk_storage_stats(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _commit(repo, "main", 1, "one")
    on_disk = sum(p.stat().st_size for p in (tmp_path / "repo" / "chunks").iterdir())
    stats = repo.chunk_storage_stats()
    assert stats.native_bytes == on_disk > 0
    assert stats.inlined_bytes == 0 and stats.virtual_bytes == 0
    with pytest.warns(DeprecationWarning, match="total_chunks_storage is deprecated"):
        assert repo.total_chunks_storage() == on_disk
    repo.reset_branch("main", INITIAL)
    with pytest.warns(DeprecationWarning, match="chunk_storage_stats"):
        assert repo.total_chunks_storage() == 0


async def test_total_chunks_storage_async_is_deprecated(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _commit(repo, "main", 1, "one")
    with pytest.warns(DeprecationWarning, match="total_chunks_storage_async is deprecated"):
        assert await repo.total_chunks_storage_async() > 0


def test_rewrite_manifests_consolidates_history(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    for i in range(3):
        session = repo.writable_session("main")
        root = zarr.open_group(session.store, mode="a")
        if "a" not in root:
            root.create_array("a", shape=(6,), chunks=(2,), dtype="i8", fill_value=0)
        root["a"][i * 2 : i * 2 + 2] = i + 1
        session.commit(f"part {i}")
    before = repo.lookup_snapshot(repo.lookup_branch("main"))
    sid = repo.rewrite_manifests("compact", branch="main", metadata={"why": "test"})
    after = repo.lookup_snapshot(sid)
    assert after.message == "compact" and after.metadata["why"] == "test"
    assert "splitting_config" in after.metadata
    assert len(after.manifests) == 1 and after.manifests[0].num_chunk_refs == 3
    assert {m.id for m in after.manifests}.isdisjoint({m.id for m in before.manifests})
    arr = zarr.open_array(repo.readonly_session(branch="main").store, path="a")
    np.testing.assert_array_equal(arr[:], [1, 1, 2, 2, 3, 3])


def test_inspect_snapshot_describes_nodes_and_manifests(tmp_path: Path) -> None:
    import json

    repo = _repo(tmp_path)
    sid = _commit(repo, "main", 1, "inspect me")
    doc = json.loads(repo.inspect_snapshot(sid))
    assert doc["id"] == sid and doc["parent_id"] == INITIAL
    assert doc["commit_message"] == "inspect me"
    assert [n["path"] for n in doc["nodes"]] == ["/", "/a"]
    [manifest] = doc["manifests"]
    assert doc["nodes"][1]["manifest_refs"] == [{"id": manifest["id"], "extents": [[0, 2]]}]
    assert "\n" not in repo.inspect_snapshot(sid, pretty=False)


def test_allow_pickling_points_to_fork(tmp_path: Path) -> None:
    import pytest

    session = _repo(tmp_path).writable_session("main")
    with pytest.raises(RuntimeError, match="fork"):
        session.allow_pickling()


def test_gc_deletes_only_repository_object_names(tmp_path: Path) -> None:
    """Files that are not repository objects are never deleted, wherever they sit."""
    repo = _repo(tmp_path)
    _commit(repo, "main", 1, "first")
    repo.reset_branch("main", INITIAL)  # the first commit becomes unreachable
    _commit(repo, "main", 2, "second")
    root = tmp_path / "repo"
    foreign = [
        "chunks/notes.txt",
        "chunks/README",
        "chunks/sub/data.nc",
        "manifests/backup-0001",
        "snapshots/" + "X" * 19,  # one character short of an id
        "transactions/not-an-id",
    ]
    long_ago = time.time() - 10 * 24 * 3600
    for name in foreign:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"the user's own file")
        os.utime(path, (long_ago, long_ago))

    summary = repo.garbage_collect(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5))
    assert summary.chunks_deleted == 2  # the first commit's chunks
    for name in foreign:
        assert (root / name).read_bytes() == b"the user's own file", name
    np.testing.assert_array_equal(
        zarr.open_array(repo.readonly_session("main").store, path="a")[:], np.arange(4) + 200
    )

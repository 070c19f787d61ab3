"""Sessions: staging, status, commit, flush, read-only rules, conflicts."""

from __future__ import annotations

import pickle
import threading

import numpy as np
import pytest
import zarr

import icechunk
from icechunk._exceptions import (
    NoChangesToCommitError,
    ReadOnlySessionError,
    SessionNotPicklableError,
)


def _make_array(session: icechunk.Session, name: str = "a", **kwargs: object) -> zarr.Array:
    root = zarr.open_group(session.store, mode="a")
    opts = {"shape": (10,), "chunks": (5,), "dtype": "i4", **kwargs}
    return root.create_array(name, **opts)  # type: ignore[arg-type]


def test_uncommitted_changes_are_invisible_to_others(repo: icechunk.Repository) -> None:
    writer = repo.writable_session("main")
    _make_array(writer)[:] = np.arange(10)
    assert writer.has_uncommitted_changes
    reader = repo.readonly_session(branch="main")
    assert not _sync_exists(reader)
    sid = writer.commit("add a")
    assert not writer.has_uncommitted_changes
    assert writer.read_only
    assert writer.snapshot_id == sid
    fresh = repo.readonly_session(branch="main")
    np.testing.assert_array_equal(zarr.open_array(fresh.store, path="a")[:], np.arange(10))


def _sync_exists(session: icechunk.Session) -> bool:
    from icechunk._sync import sync

    return sync(session.store.exists("zarr.json"))


def test_session_becomes_read_only_after_commit(repo: icechunk.Repository) -> None:
    session = repo.writable_session("main")
    _make_array(session)
    session.commit("one")
    with pytest.raises(ValueError, match="read-only"):
        zarr.open_group(session.store, mode="a")
    _assert_store_write_refused(session)


def test_readonly_session_refuses_writes(repo: icechunk.Repository) -> None:
    session = repo.readonly_session(branch="main")
    assert session.read_only
    _assert_store_write_refused(session)


def _assert_store_write_refused(session: icechunk.Session) -> None:
    from zarr.core.buffer import cpu

    from icechunk._sync import sync

    group = b'{"zarr_format": 3, "node_type": "group"}'
    with pytest.raises(ReadOnlySessionError, match="read-only"):
        sync(session.store.set("g/zarr.json", cpu.Buffer.from_bytes(group)))
    with pytest.raises(ReadOnlySessionError):
        sync(session.store.delete("zarr.json"))


def test_status_and_discard(repo: icechunk.Repository) -> None:
    session = repo.writable_session("main")
    root = zarr.group(session.store)
    _make_array(session)[:] = 1
    root.create_group("g")
    status = session.status()
    assert status.new_arrays == {"/a"}
    assert status.new_groups == {"/", "/g"}
    assert status.updated_chunks == {"/a": [[0], [1]]}
    session.discard_changes()
    assert not session.has_uncommitted_changes
    assert session.status().is_empty()
    with pytest.raises(NoChangesToCommitError):
        session.commit("nothing")


def test_commit_without_changes_fails(repo: icechunk.Repository) -> None:
    with pytest.raises(NoChangesToCommitError, match="no changes"):
        repo.writable_session("main").commit("empty")


def test_flush_does_not_move_branch(repo: icechunk.Repository) -> None:
    session = repo.writable_session("main")
    _make_array(session)[:] = 7
    sid = session.flush("detached")
    assert repo.lookup_branch("main") == "1CECHNKREP0F1RSTCMT0"
    assert session.read_only and session.snapshot_id == sid
    detached = repo.readonly_session(snapshot_id=sid)
    np.testing.assert_array_equal(zarr.open_array(detached.store, path="a")[:], 7)
    assert repo.lookup_snapshot(sid).parent_id == "1CECHNKREP0F1RSTCMT0"


def test_transaction_commits_on_success_and_discards_on_error(repo: icechunk.Repository) -> None:
    with repo.transaction("main", message="in a transaction") as store:
        zarr.group(store).create_array("a", shape=(2,), dtype="i4")[:] = 3
    [latest, _] = list(repo.ancestry(branch="main"))
    assert latest.message == "in a transaction"
    with pytest.raises(RuntimeError, match="boom"), repo.transaction("main", message="never") as store:
        zarr.open_array(store, path="a")[:] = 9
        raise RuntimeError("boom")
    assert repo.lookup_branch("main") == latest.id
    np.testing.assert_array_equal(
        zarr.open_array(repo.readonly_session(branch="main").store, path="a")[:], 3
    )


def test_first_commit_wins_second_conflicts(repo: icechunk.Repository) -> None:
    base = repo.lookup_branch("main")
    s1 = repo.writable_session("main")
    s2 = repo.writable_session("main")
    _make_array(s1, "one")
    _make_array(s2, "two")
    winner = s1.commit("first")
    with pytest.raises(icechunk.ConflictError) as info:
        s2.commit("second")
    assert info.value.expected_parent == base
    assert info.value.actual_parent == winner
    assert isinstance(info.value, icechunk.IcechunkError)
    assert repo.lookup_branch("main") == winner


def test_concurrent_commits_from_threads_one_winner(repo: icechunk.Repository) -> None:
    sessions = [repo.writable_session("main") for _ in range(8)]
    for i, s in enumerate(sessions):
        _make_array(s, f"a{i}")
    barrier = threading.Barrier(len(sessions))
    outcomes: list[str] = []
    lock = threading.Lock()

    def commit(s: icechunk.Session) -> None:
        barrier.wait()
        try:
            s.commit("race")
            result = "won"
        except icechunk.ConflictError:
            result = "conflict"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=commit, args=(s,)) for s in sessions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["conflict"] * 7 + ["won"]
    assert len(list(repo.ancestry(branch="main"))) == 2


def test_inline_and_native_chunks(storage: icechunk.Storage) -> None:
    config = icechunk.RepositoryConfig.default()
    config.inline_chunk_threshold_bytes = 40
    repo = icechunk.Repository.create(storage, config=config)
    session = repo.writable_session("main")
    small = _make_array(session, "small", shape=(10,), chunks=(10,), dtype="i4", compressors=None)
    big = _make_array(session, "big", shape=(100,), chunks=(100,), dtype="i4", compressors=None)
    small[:] = np.arange(10)  # exactly 40 bytes: inline
    big[:] = np.arange(100)  # 400 bytes: chunk object
    sid = session.commit("sizes")
    backend = storage._backend()
    from icechunk._sync import sync

    async def chunk_objects() -> list[str]:
        return [o.key async for o in backend.list("chunks/")]

    assert len(sync(chunk_objects())) == 1
    reader = repo.readonly_session(snapshot_id=sid)
    np.testing.assert_array_equal(zarr.open_array(reader.store, path="small")[:], np.arange(10))
    np.testing.assert_array_equal(zarr.open_array(reader.store, path="big")[:], np.arange(100))


def test_pickling_rules(repo: icechunk.Repository) -> None:
    session = repo.writable_session("main")
    _make_array(session)[:] = 4
    with pytest.raises(SessionNotPicklableError, match="fork"):
        pickle.dumps(session)
    sid = session.commit("x")
    readonly = repo.readonly_session(snapshot_id=sid)
    clone = pickle.loads(pickle.dumps(readonly))
    assert clone.snapshot_id == sid and clone.read_only
    np.testing.assert_array_equal(zarr.open_array(clone.store, path="a")[:], 4)
    store_clone = pickle.loads(pickle.dumps(readonly.store))
    np.testing.assert_array_equal(zarr.open_array(store_clone, path="a")[:], 4)


def test_resize_drops_chunks_outside_new_shape(repo: icechunk.Repository) -> None:
    session = repo.writable_session("main")
    arr = _make_array(session)
    arr[:] = np.arange(10)
    session.commit("ten")
    session = repo.writable_session("main")
    arr = zarr.open_array(session.store, path="a")
    arr.resize((5,))
    arr.resize((10,))
    session.commit("shrink and grow")
    arr = zarr.open_array(repo.readonly_session(branch="main").store, path="a")
    np.testing.assert_array_equal(arr[:], [0, 1, 2, 3, 4, 0, 0, 0, 0, 0])


def test_delete_group_deletes_descendants(repo: icechunk.Repository) -> None:
    session = repo.writable_session("main")
    root = zarr.group(session.store)
    g = root.create_group("g")
    g.create_array("x", shape=(2,), dtype="i4")[:] = 1
    g.create_group("h")
    root.create_group("g2")
    session.commit("tree")
    session = repo.writable_session("main")
    del zarr.open_group(session.store)["g"]
    session.commit("delete g")
    root = zarr.open_group(repo.readonly_session(branch="main").store, mode="r")
    assert sorted(root.keys()) == ["g2"]


class _NotJson:
    pass


@pytest.mark.parametrize(
    ("metadata", "words"),
    [
        ({"foo": _NotJson()}, r"^'_NotJson' object cannot be cast as a JSON value: .*\['foo'\]"),
        ({"deep": [1, {"x": {1, 2}}]}, r"^'set' object cannot be cast .*\['deep'\]\[1\]\['x'\]"),
        ({1: "a"}, r"^'int' object cannot be cast as a JSON object key"),
    ],
)
def test_commit_metadata_must_be_json(
    repo: icechunk.Repository, metadata: dict, words: str
) -> None:
    """As upstream: a TypeError naming the type, before anything is written."""
    session = repo.writable_session("main")
    zarr.group(session.store)
    with pytest.raises(TypeError, match=words) as info:
        session.commit("x", metadata)
    assert isinstance(info.value, icechunk.IcechunkError)
    assert session.has_uncommitted_changes
    assert len(list(repo.ancestry(branch="main"))) == 1
    session.commit("fine", {"a": [1, {"b": None}], "c": 1.5, "d": True})


def test_listing_while_other_threads_write_chunks(repo: icechunk.Repository) -> None:
    """Threads with their own event loops list a store while others write to it."""
    import asyncio

    session = repo.writable_session("main")
    array = zarr.create_array(session.store, name="a", shape=(800,), chunks=(1,), dtype="u1")
    errors: list[BaseException] = []
    done = threading.Event()

    def write() -> None:
        try:
            for i in range(800):
                array[i] = 1
        finally:
            done.set()

    def list_keys() -> None:
        async def once() -> int:
            return len([k async for k in session.store.list_prefix("")])

        try:
            while not done.is_set():
                asyncio.run(once())
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=write)] + [threading.Thread(target=list_keys)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []

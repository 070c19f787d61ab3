"""The session engine (``_core.session``, ``_core.store``, ``_core.commit``, ``_core.rebase``)
driven directly, on a memory backend."""

from __future__ import annotations

import pytest
from _engine import new_repository, with_array
from zarr.abc.store import OffsetByteRequest, RangeByteRequest, SuffixByteRequest

from icechunk._conflicts import ConflictDetector
from icechunk._core.commit import commit, flush
from icechunk._core.rebase import rebase_session
from icechunk._core.repository import RepositoryCore
from icechunk._core.session import SessionCore
from icechunk._core.store import StoreCore, value_range
from icechunk._exceptions import (
    ConflictError,
    ForkSessionError,
    NodeNotFoundError,
    ReadOnlySessionError,
    RebaseFailedError,
)
from icechunk._format.ids import encode_id
from icechunk._format.manifest import InlineChunk, NativeChunk

BIG = bytes(range(10))  # above the inline threshold of 4 bytes


async def test_small_chunks_stay_inline_and_large_ones_become_objects() -> None:
    repo = await new_repository()
    session = await repo.writable_session("main")
    store = await with_array(session)
    await store.set("a/c/0", b"abc")
    await store.set("a/c/1", BIG)
    node = await session.array_node("a")
    assert await session.get_chunk_ref(node, (0,)) == InlineChunk(b"abc")
    native = await session.get_chunk_ref(node, (1,))
    assert isinstance(native, NativeChunk)
    assert await repo.backend.get("chunks/" + encode_id(native.chunk_id)) == BIG
    assert [await session.chunk_kind("a", (i,)) for i in range(3)] == [3, 1, 0]


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        (None, (0, 10)),
        (RangeByteRequest(2, 5), (2, 5)),
        (RangeByteRequest(8, 50), (8, 10)),
        (RangeByteRequest(6, 3), (3, 3)),
        (OffsetByteRequest(7), (7, 10)),
        (OffsetByteRequest(70), (10, 10)),
        (SuffixByteRequest(3), (7, 10)),
        (SuffixByteRequest(30), (0, 10)),
        (SuffixByteRequest(0), (10, 10)),
    ],
)
def test_value_range_clamps_zarr_requests_to_the_value(
    request_: object, expected: tuple[int, int]
) -> None:
    assert value_range(request_, 10) == expected


def test_value_range_refuses_other_requests() -> None:
    with pytest.raises(TypeError, match="Unexpected byte_range"):
        value_range((1, 2), 10)


@pytest.mark.parametrize("key", ["a/c/0", "a/c/1", "a/zarr.json"])
@pytest.mark.parametrize(
    "request_", [RangeByteRequest(1, 3), OffsetByteRequest(2), SuffixByteRequest(2), None]
)
async def test_ranged_reads_of_inline_native_and_metadata_values(key: str, request_: object) -> None:
    repo = await new_repository()
    session = await repo.writable_session("main")
    store = await with_array(session)
    await store.set("a/c/0", b"abc")
    await store.set("a/c/1", BIG)
    whole = await store.get(key)
    assert whole is not None
    start, end = value_range(request_, len(whole))
    assert await store.get(key, request_) == whole[start:end]
    await commit(session, "chunks")
    reader = await repo.readonly_session("main", None, None, None)
    assert await StoreCore(reader).get(key, request_) == whole[start:end]


async def test_array_node_names_what_is_missing() -> None:
    repo = await new_repository()
    session = await repo.writable_session("main")
    await with_array(session)
    assert (await session.array_node("/a/")).path == "/a"
    with pytest.raises(NodeNotFoundError, match="no array at '/b'"):
        await session.array_node("b")
    with pytest.raises(NodeNotFoundError, match="no array at '/'"):
        await session.array_node("")  # the root is a group


async def test_commit_moves_the_branch_and_ends_the_transaction() -> None:
    repo = await new_repository()
    session = await repo.writable_session("main")
    store = await with_array(session)
    await store.set("a/c/0", b"abc")
    snapshot = await commit(session, "first", {"k": 1})
    assert await repo.lookup_branch("main") == snapshot == session.snapshot_name
    assert session.read_only and not session.has_uncommitted_changes
    info = await repo.lookup_snapshot(snapshot)
    assert (info.message, info.metadata) == ("first", {"k": 1})
    with pytest.raises(ReadOnlySessionError):
        await store.set("a/c/1", b"x")


async def test_flush_writes_a_snapshot_but_leaves_the_branch() -> None:
    repo = await new_repository()
    before = await repo.lookup_branch("main")
    session = await repo.writable_session("main")
    await with_array(session)
    snapshot = await flush(session, "detached")
    assert await repo.lookup_branch("main") == before != snapshot
    assert (await repo.lookup_snapshot(snapshot)).parent_id == before


async def _two_writers() -> tuple[RepositoryCore, SessionCore, SessionCore]:
    repo = await new_repository()
    setup = await repo.writable_session("main")
    await with_array(setup)
    await commit(setup, "array")
    first, second = await repo.writable_session("main"), await repo.writable_session("main")
    return repo, first, second


async def test_a_conflicting_commit_rebases_and_retries_with_a_solver() -> None:
    repo, first, second = await _two_writers()
    await StoreCore(first).set("a/c/0", b"one")
    await StoreCore(second).set("a/c/1", b"two")
    theirs = await commit(first, "first")
    with pytest.raises(ConflictError):
        await commit(second, "second")
    with pytest.raises(ConflictError):
        await commit(second, "second", rebase_with=ConflictDetector(), rebase_tries=0)
    ours = await commit(second, "second", rebase_with=ConflictDetector())
    assert (await repo.lookup_snapshot(ours)).parent_id == theirs
    reader = StoreCore(await repo.readonly_session("main", None, None, None))
    assert [await reader.get("a/c/0"), await reader.get("a/c/1")] == [b"one", b"two"]


async def test_rebase_fails_on_a_conflict_the_solver_cannot_settle() -> None:
    _, first, second = await _two_writers()
    await StoreCore(first).set("a/c/0", b"one")
    await StoreCore(second).set("a/c/0", b"two")
    await commit(first, "first")
    with pytest.raises(RebaseFailedError):
        await rebase_session(second, ConflictDetector())


async def test_merge_refuses_a_fork_of_another_snapshot() -> None:
    repo = await new_repository()
    session = await repo.writable_session("main")
    await with_array(session)
    await commit(session, "array")
    newer = await repo.writable_session("main")
    stale = repo.session(b"\x00" * 12, "main", False)
    with pytest.raises(ForkSessionError, match="forks must come from this session"):
        await newer.merge(stale.change_set, stale.snapshot_id)


async def test_status_lists_new_nodes_and_chunks_as_paths() -> None:
    repo = await new_repository()
    session = await repo.writable_session("main")
    store = await with_array(session)
    await store.set("a/c/3", b"x")
    status = (await session.status()).to_public()
    assert status.new_groups == {"/"} and status.new_arrays == {"/a"}
    assert status.updated_chunks == {"/a": [[3]]}

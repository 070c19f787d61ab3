"""Chunk changes staged in bulk: one columnar table per array in the change set
(``ArrayChunks.bulk``), overlaid by single writes, through merge, pickling, logs and status."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import numpy as np
import pytest

from icechunk._change_set import (
    ArrayChunks,
    ChangeSet,
    chunk_collisions,
    merge_change_sets,
)
from icechunk._change_set_bytes import change_set_from_bytes, change_set_to_bytes
from icechunk._format._codec_transaction_log import decode_transaction_log, encode_transaction_log
from icechunk._format._coords import CoordSet
from icechunk._format.manifest import (
    ChunkRefTable,
    InlineChunk,
    NativeChunk,
    VirtualChunk,
)

NODE = b"N" * 8
URL = "s3://bucket/f{}.nc"


def _bulk(rows: int = 6, cols: int = 5, etag: str | None = "e1") -> ChunkRefTable:
    coords = np.indices((rows, cols)).reshape(2, -1).T
    n = rows * cols
    locations = [URL.format(i % 3) for i in range(n)]
    table, index = (tuple(dict.fromkeys(locations)), np.arange(n) % 3)
    return ChunkRefTable.virtual(coords, table, index, np.arange(n) * 10, np.full(n, 10), etag=etag)


def test_bulk_refs_stay_columnar_and_are_found() -> None:
    changes = ArrayChunks()
    changes.set_bulk(_bulk())
    assert changes.staged == {} and changes.bulk is not None and len(changes.bulk) == 30
    assert changes[(1, 2)] == VirtualChunk(URL.format(7 % 3), 70, 10, "e1")
    assert (9, 9) not in changes and len(changes) == 30
    assert changes.bulk.locations == tuple(URL.format(i) for i in range(3))


def test_later_writes_win_whichever_kind() -> None:
    changes = ArrayChunks()
    changes[(0, 0)] = InlineChunk(b"x")
    changes[(0, 1)] = None
    changes.set_bulk(_bulk(1, 1))  # replaces the single write at (0, 0)
    assert changes[(0, 0)].location == URL.format(0)  # type: ignore[union-attr]
    assert changes.staged == {(0, 1): None}
    changes[(0, 0)] = None  # a single write over a bulk ref
    assert changes[(0, 0)] is None
    assert set(changes) == {(0, 0), (0, 1)} and len(changes) == 2
    base = ChunkRefTable.from_payloads(
        2, [((0, 0), InlineChunk(b"old")), ((3, 3), InlineChunk(b"k"))]
    )
    assert dict(changes.apply_to(base).items()) == {(3, 3): InlineChunk(b"k")}


def test_drop_and_delete_remove_bulk_rows() -> None:
    changes = ArrayChunks(bulk=_bulk())
    changes.drop([(0, 0), (5, 4), (7, 7)])
    del changes[(1, 1)]
    assert len(changes) == 27 and (0, 0) not in changes and (1, 1) not in changes
    with pytest.raises(KeyError):
        del changes[(1, 1)]


def test_fork_bytes_round_trip_keeps_bulk_tables() -> None:
    cs = ChangeSet()
    cs.array_chunks(NODE).set_bulk(_bulk(etag=None))
    cs.set_chunk(NODE, (9, 9), NativeChunk(b"c" * 12, 0, 5, 123))
    back = change_set_from_bytes(change_set_to_bytes(cs))
    restored = back.chunks[NODE]
    assert restored.bulk is not None and restored.staged == {
        (9, 9): NativeChunk(b"c" * 12, 0, 5, 123)
    }
    assert dict(restored.items()) == dict(cs.chunks[NODE].items())


def test_merge_and_collisions_see_bulk_refs() -> None:
    ours, theirs = ChangeSet(), ChangeSet()
    ours.set_chunk(NODE, (0, 0), InlineChunk(b"mine"))
    ours.set_chunk(NODE, (9, 9), InlineChunk(b"only mine"))
    theirs.array_chunks(NODE).set_bulk(_bulk(2, 2))
    collisions = chunk_collisions(ours, theirs)
    assert [(c.coords, c.ours) for c in collisions] == [((0, 0), InlineChunk(b"mine"))]
    merge_change_sets(ours, theirs)
    merged = ours.chunks[NODE]
    assert merged.bulk is not None and len(merged) == 5
    assert isinstance(merged[(0, 0)], VirtualChunk)
    assert merged[(9, 9)] == InlineChunk(b"only mine")


def test_transaction_log_of_bulk_changes_is_numpy_backed() -> None:
    cs = ChangeSet()
    cs.array_chunks(NODE).set_bulk(_bulk())
    cs.set_chunk(NODE, (7, 0), None)
    log = cs.to_transaction_log(b"S" * 12)
    changed = log.updated_chunks[NODE]
    assert isinstance(changed, CoordSet) and len(changed) == 31
    assert (7, 0) in changed and (2, 3) in changed and (8, 8) not in changed
    decoded = decode_transaction_log(encode_transaction_log(log))
    assert set(decoded.updated_chunks[NODE]) == set(changed)


def test_inside_grid_filters_bulk_coords() -> None:
    changes = ArrayChunks(bulk=_bulk())
    inside = changes.inside_grid((3, 5))
    assert isinstance(inside, CoordSet) and set(inside) == {
        (i, j) for i in range(3) for j in range(5)
    }


def test_store_bulk_refs_are_one_table_through_status_fork_and_commit(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import pickle

    import zarr

    import icechunk

    prefix = "s3://bucket/archive/"
    config = icechunk.RepositoryConfig.default()
    config.set_virtual_chunk_container(
        icechunk.VirtualChunkContainer(prefix, icechunk.s3_store(region="us-east-1"))
    )
    repo = icechunk.Repository.create(
        icechunk.local_filesystem_storage(str(tmp_path / "r")), config
    )
    session = repo.writable_session("main")
    zarr.create_array(session.store, name="v", shape=(50, 50), chunks=(10, 10), dtype="f4")
    session.commit("array")
    session = repo.writable_session("main")
    n = 20
    locations = [f"{prefix}f{i % 2}.nc" for i in range(n)]
    offsets, lengths = np.arange(n, dtype=np.uint64) * 40, np.full(n, 40, dtype=np.uint64)
    fork = pickle.loads(pickle.dumps(session.fork()))
    fork.store.set_virtual_refs_arr("v", (4, 5), locations, offsets, lengths)
    (changes,) = fork._core.change_set.chunks.values()
    assert changes.staged == {} and changes.bulk is not None and len(changes.bulk) == n
    assert len(fork.status().updated_chunks["/v"]) == n
    zarr.open_array(session.store, path="v")[40:50, 0:10] = 1.0  # chunk (4, 0): not in the fork
    session.merge(pickle.loads(pickle.dumps(fork)))
    assert len(session.status().updated_chunks["/v"]) == n + 1
    session.commit("bulk")
    snap = repo.readonly_session("main")

    async def collect() -> list[Any]:
        return [b async for b in snap.store.array_chunk_iterator("v")]

    refs = {tuple(c): p for batch in asyncio.run(collect()) for c, p in _rows(batch)}
    assert len(refs) == n + 1 and refs[(4, 0)] == ""
    assert refs[(3, 4)] == f"{prefix}f1.nc" and refs[(0, 0)] == f"{prefix}f0.nc"
    log = next(iter(repo.ancestry(branch="main")))
    diff = repo.diff(from_snapshot_id=log.parent_id, to_snapshot_id=log.id)
    assert len(diff.updated_chunks["/v"]) == n + 1


def _rows(batch):  # type: ignore[no-untyped-def]
    coords, _, paths, *_ = batch
    return zip(coords.tolist(), paths)


def test_core_set_virtual_refs_stages_specs_as_one_table(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import zarr

    import icechunk
    from icechunk._core import virtual_refs
    from icechunk._exceptions import InvalidKeyError

    prefix = "s3://bucket/archive/"
    config = icechunk.RepositoryConfig.default()
    config.set_virtual_chunk_container(
        icechunk.VirtualChunkContainer(prefix, icechunk.s3_store(region="us-east-1"))
    )
    repo = icechunk.Repository.create(icechunk.local_filesystem_storage(str(tmp_path)), config)
    session = repo.writable_session("main")
    zarr.create_array(session.store, name="v", shape=(30,), chunks=(10,), dtype="f4")
    core = session._core
    node = asyncio.run(core.get_node("/v"))
    specs = [
        icechunk.VirtualChunkSpec(index=[0], location=prefix + "a.nc", offset=0, length=4),
        icechunk.VirtualChunkSpec(index=[1], location="s3://elsewhere/b.nc", offset=4, length=4),
        icechunk.VirtualChunkSpec(index=[0], location=prefix + "c.nc", offset=8, length=4),
        icechunk.VirtualChunkSpec(index=[2], location=prefix + "a.nc", offset=12, length=4),
    ]
    assert virtual_refs.set_virtual_refs(core, node, specs, True) == [(1,)]
    changes = core.change_set.chunks[node.node_id]
    assert changes.staged == {} and changes.bulk is not None
    assert dict(changes.items()) == {
        (0,): VirtualChunk(prefix + "c.nc", 8, 4),  # the later spec for one chunk wins
        (2,): VirtualChunk(prefix + "a.nc", 12, 4),
    }
    outside = [icechunk.VirtualChunkSpec(index=[3], location=prefix + "a.nc", offset=0, length=1)]
    with pytest.raises(InvalidKeyError, match="outside the chunk grid"):
        virtual_refs.set_virtual_refs(core, node, outside, True)


def test_sorted_coord_lists_of_every_shape() -> None:
    from icechunk._format._coords import sorted_coord_lists

    assert sorted_coord_lists(frozenset({()})) == [[]]  # a 0-d array's one chunk
    assert sorted_coord_lists(frozenset({(2, 1), (0, 5)})) == [[0, 5], [2, 1]]
    assert sorted_coord_lists(CoordSet(np.array([[3], [1]]))) == [[1], [3]]


# --- packed coordinates of single writes: computed once, always current -------------------------


def test_staged_coords_follow_every_change() -> None:
    changes = ArrayChunks()
    changes[(0, 1)] = InlineChunk(b"a")
    changes[(2, 3)] = InlineChunk(b"b")
    assert changes.staged_coords(2).tolist() == [[0, 1], [2, 3]]
    changes[(0, 1)] = InlineChunk(b"c")  # overwrite: same coordinates
    assert changes.staged_coords(2).tolist() == [[0, 1], [2, 3]]
    changes[(4, 4)] = None  # a deletion is a change too
    assert changes.staged_coords(2).tolist() == [[0, 1], [2, 3], [4, 4]]
    del changes[(2, 3)]
    assert changes.staged_coords(2).tolist() == [[0, 1], [4, 4]]
    changes.drop([(0, 1)])
    assert changes.staged_coords(2).tolist() == [[4, 4]]
    other = ArrayChunks({(7, 7): InlineChunk(b"z")})
    changes.merge(other)
    assert sorted(changes.staged_coords(2).tolist()) == [[4, 4], [7, 7]]
    changes.set_bulk(_bulk(8, 8))  # bulk refs replace the single writes they cover
    assert changes.staged == {} and changes.staged_coords(2).shape == (0, 2)
    assert len(changes) == 64


def test_changes_applied_after_packing_are_committed() -> None:
    """A table built after more writes sees them (the packed keys are not stale)."""
    changes = ArrayChunks({(0,): InlineChunk(b"a")})
    changes.staged_coords(1)
    changes[(5,)] = InlineChunk(b"b")
    table = changes.copy().apply_to(ChunkRefTable.empty(1))
    assert [c for c, _ in table.items()] == [(0,), (5,)]
    assert table.lookup((5,)) == InlineChunk(b"b")
    assert isinstance(changes.changed(), CoordSet) and set(changes.changed()) == {(0,), (5,)}
    assert set(changes.inside_grid((3,))) == {(0,)}


def test_mixed_ranks_stay_python_sets() -> None:
    changes = ArrayChunks({(0,): InlineChunk(b"a"), (1, 2): InlineChunk(b"b")})
    assert changes.changed() == frozenset({(0,), (1, 2)})
    assert changes.inside_grid((4, 4)) == frozenset({(0,), (1, 2)})


def test_key_log_survives_removals_and_odd_keys() -> None:
    changes = ArrayChunks()
    for i in range(5):
        changes[(i, i)] = InlineChunk(b"x")
    del changes[(2, 2)]
    changes[(2, 2)] = InlineChunk(b"y")  # back, now last in order
    changes[(9, 9)] = None
    assert changes.staged_coords(2).tolist() == [[0, 0], [1, 1], [3, 3], [4, 4], [2, 2], [9, 9]]
    assert changes.staged_coords(2).tolist() == [list(k) for k in changes.staged]
    changes[(7,)] = InlineChunk(b"w")  # another rank: the log gives way to the dict
    changes[(5, 5)] = InlineChunk(b"v")
    assert changes.staged_coords(1).tolist() == [[7]]
    assert changes.staged_coords(2).tolist()[-2:] == [[9, 9], [5, 5]]


def test_inline_chunks_are_their_bytes() -> None:
    import pickle

    chunk = InlineChunk(memoryview(b"abc"))
    assert chunk == InlineChunk(b"abc") and chunk != InlineChunk(b"abd")
    assert type(chunk.data) is bytes and chunk.data == b"abc" and len(chunk) == 3
    assert repr(chunk) == "InlineChunk(b'abc')"
    again = pickle.loads(pickle.dumps(chunk))
    assert type(again) is InlineChunk and again == chunk
    assert chunk != NativeChunk(b"i" * 12, 0, 3) and chunk != VirtualChunk("s3://b/k", 0, 3)


def test_threads_writing_while_coordinates_are_packed_stay_aligned() -> None:
    """Keys and packed coordinates stay in the same order with writers on many threads."""
    import threading

    changes = ArrayChunks()
    stop = threading.Event()
    errors: list[Exception] = []

    def write(start: int) -> None:
        try:
            for i in range(start, start + 3_000):
                changes[(i, i % 7)] = InlineChunk(i.to_bytes(4, "little"))
        except (AssertionError, BufferError, RuntimeError, ValueError) as e:  # reported below
            errors.append(e)

    def pack() -> None:
        try:
            while not stop.is_set():
                packed = changes.staged_coords(2)
                keys = list(changes.staged)[: len(packed)]
                assert [tuple(k) for k in packed.tolist()] == keys
        except (AssertionError, BufferError, RuntimeError, ValueError) as e:  # reported below
            errors.append(e)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often, so that a missing lock shows
    try:
        packer = threading.Thread(target=pack)
        packer.start()
        writers = [threading.Thread(target=write, args=(k * 100_000,)) for k in range(4)]
        for t in writers:
            t.start()
        for t in writers:
            t.join()
        stop.set()
        packer.join()
    finally:
        sys.setswitchinterval(interval)
    assert not errors
    table = changes.copy().apply_to(ChunkRefTable.empty(2))
    assert len(table) == 12_000
    for i in (5, 100_003, 302_999):
        assert table.lookup((i, i % 7)) == InlineChunk(i.to_bytes(4, "little"))

"""The async API, and the sync API from scripts, threads and running event loops."""

from __future__ import annotations

import asyncio
import inspect
import threading

import numpy as np
import pytest
import zarr
from zarr.core.buffer import cpu, default_buffer_prototype

import icechunk
from icechunk._exceptions import AsyncContextError

GROUP = b'{"zarr_format": 3, "node_type": "group", "attributes": {}}'


def _array_meta(n: int) -> bytes:
    import json

    return json.dumps(
        {
            "zarr_format": 3,
            "node_type": "array",
            "shape": [n],
            "data_type": "int64",
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [1]}},
            "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
            "fill_value": 0,
            "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}],
            "attributes": {},
        }
    ).encode()


def test_every_repository_io_method_has_an_async_twin() -> None:
    io_methods = [
        "create", "open", "open_or_create", "exists", "fetch_config", "save_config",
        "create_branch", "list_branches", "lookup_branch", "lookup_snapshot", "reset_branch",
        "delete_branch", "create_tag", "list_tags", "lookup_tag", "delete_tag", "diff",
        "readonly_session", "writable_session",
    ]
    for name in io_methods:
        twin = getattr(icechunk.Repository, f"{name}_async")
        assert inspect.iscoroutinefunction(twin), name
    for name in ["commit", "flush", "rebase", "merge", "status", "chunk_type"]:
        assert inspect.iscoroutinefunction(getattr(icechunk.Session, f"{name}_async")), name
    assert inspect.isasyncgenfunction(icechunk.Repository.async_ancestry)


async def test_full_workflow_async() -> None:
    storage = icechunk.in_memory_storage()
    repo = await icechunk.Repository.create_async(storage)
    assert await icechunk.Repository.exists_async(storage)
    session = await repo.writable_session_async("main")
    store = session.store
    await store.set("zarr.json", cpu.Buffer.from_bytes(GROUP))
    await store.set("a/zarr.json", cpu.Buffer.from_bytes(_array_meta(4)))
    await store.set("a/c/0", cpu.Buffer.from_bytes(np.int64(7).tobytes()))
    sid = await session.commit_async("async commit", metadata={"via": "async"})
    await repo.create_tag_async("t", sid)
    await repo.create_branch_async("b", sid)
    assert await repo.list_tags_async() == {"t"}
    assert await repo.list_branches_async() == {"main", "b"}
    assert await repo.lookup_branch_async("b") == sid
    history = [info async for info in repo.async_ancestry(branch="main")]
    assert [h.message for h in history] == ["async commit", "Repository initialized"]
    reader = await repo.readonly_session_async(tag="t")
    got = await reader.store.get("a/c/0", default_buffer_prototype())
    assert got is not None and np.frombuffer(got.to_bytes(), "i8")[0] == 7
    diff = await repo.diff_async(from_snapshot_id=history[1].id, to_tag="t")
    assert diff.new_arrays == {"/a"}
    reopened = await icechunk.Repository.open_async(storage)
    assert (await reopened.lookup_snapshot_async(sid)).metadata == {"via": "async"}


async def test_hundreds_of_concurrent_async_writes_and_reads() -> None:
    repo = await icechunk.Repository.create_async(icechunk.in_memory_storage())
    session = await repo.writable_session_async("main")
    store = session.store
    n = 400
    await store.set("zarr.json", cpu.Buffer.from_bytes(GROUP))
    await store.set("a/zarr.json", cpu.Buffer.from_bytes(_array_meta(n)))
    values = np.arange(n, dtype="i8") * 3
    await asyncio.gather(
        *(store.set(f"a/c/{i}", cpu.Buffer.from_bytes(values[i].tobytes())) for i in range(n))
    )
    got = await asyncio.gather(*(store.get(f"a/c/{i}", default_buffer_prototype()) for i in range(n)))
    assert [np.frombuffer(g.to_bytes(), "i8")[0] for g in got if g is not None] == values.tolist()
    await session.commit_async("many")
    reader = await repo.readonly_session_async(branch="main")
    got = await asyncio.gather(
        *(reader.store.get(f"a/c/{i}", default_buffer_prototype()) for i in range(n))
    )
    assert [np.frombuffer(g.to_bytes(), "i8")[0] for g in got if g is not None] == values.tolist()


def test_sync_api_from_threads() -> None:
    repo = icechunk.Repository.create(icechunk.in_memory_storage())
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            repo.create_branch(f"b{i}", repo.lookup_branch("main"))
            session = repo.writable_session(f"b{i}")
            zarr.group(session.store).create_array("x", shape=(2,), dtype="i4")[:] = i
            session.commit(f"thread {i}")
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for i in range(8):
        arr = zarr.open_array(repo.readonly_session(branch=f"b{i}").store, path="x")
        assert int(arr[0]) == i


def test_sync_api_inside_a_running_event_loop() -> None:
    """Like a notebook cell: blocking calls while the caller's own loop is running."""

    async def notebook_cell() -> list[str]:
        repo = icechunk.Repository.create(icechunk.in_memory_storage())
        session = repo.writable_session("main")
        zarr.group(session.store).create_array("x", shape=(3,), dtype="i4")[:] = 1
        session.commit("from a running loop")
        return [h.message for h in repo.ancestry(branch="main")]

    assert asyncio.run(notebook_cell()) == ["from a running loop", "Repository initialized"]


def test_blocking_call_inside_zarr_loop_is_a_clear_error() -> None:
    from zarr.core.sync import sync as zarr_sync

    repo = icechunk.Repository.create(icechunk.in_memory_storage())

    async def inside_zarr_loop() -> None:
        repo.list_branches()

    with pytest.raises(AsyncContextError, match="_async"):
        zarr_sync(inside_zarr_loop())

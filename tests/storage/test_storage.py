"""The public Storage object: factories, repr, backend caching and pickling rules."""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import pickle
from pathlib import Path

import pytest

from icechunk.storage import Storage, in_memory_storage, local_filesystem_storage
from icechunk.storage._backend import StorageBackend
from icechunk.storage._local import LocalFilesystemBackend
from icechunk.storage._memory import MemoryBackend

from .conformance import collect


def _keys(backend: StorageBackend) -> set[str]:
    return set(asyncio.run(collect(backend)))


def test_factories_build_the_right_backends(tmp_path: Path) -> None:
    assert isinstance(in_memory_storage()._backend(), MemoryBackend)
    local = local_filesystem_storage(str(tmp_path))
    backend = local._backend()
    assert isinstance(backend, LocalFilesystemBackend)
    assert backend.root == tmp_path
    assert local._backend() is backend  # cached


def test_storage_is_not_constructed_directly() -> None:
    with pytest.raises(TypeError):
        Storage("/some/path")  # type: ignore[arg-type]


def test_repr(tmp_path: Path) -> None:
    assert str(tmp_path) in repr(local_filesystem_storage(str(tmp_path)))
    assert "LocalFileSystem" in repr(local_filesystem_storage(str(tmp_path)))
    assert "InMemory" in repr(in_memory_storage())


def test_in_memory_instances_do_not_share() -> None:
    first, second = in_memory_storage(), in_memory_storage()
    asyncio.run(first._backend().put("k", b"v"))
    assert _keys(second._backend()) == set()


def test_local_pickles_as_its_path(tmp_path: Path) -> None:
    storage = local_filesystem_storage(str(tmp_path))
    asyncio.run(storage._backend().put("k", b"v"))
    payload = pickle.dumps(storage)
    assert str(tmp_path).encode() in payload
    copy = pickle.loads(payload)
    assert copy._backend() is not storage._backend()
    assert asyncio.run(copy._backend().get("k")) == b"v"


def test_relative_local_path_is_made_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    storage = local_filesystem_storage("repo")
    monkeypatch.chdir("/")
    copy = pickle.loads(pickle.dumps(storage))
    assert copy._backend().root == tmp_path / "repo"  # type: ignore[attr-defined]


def test_in_memory_pickle_shares_data_within_process() -> None:
    storage = in_memory_storage()
    asyncio.run(storage._backend().put("k", b"v"))
    copy = pickle.loads(pickle.dumps(storage))
    assert copy._backend() is storage._backend()
    asyncio.run(copy._backend().put("k2", b"v2"))
    assert _keys(storage._backend()) == {"k", "k2"}


def test_in_memory_copy_keeps_data_alive() -> None:
    storage = in_memory_storage()
    asyncio.run(storage._backend().put("k", b"v"))
    copy = pickle.loads(pickle.dumps(storage))
    del storage
    gc.collect()
    assert _keys(copy._backend()) == {"k"}


def test_in_memory_pickle_after_every_copy_is_gone_is_empty() -> None:
    storage = in_memory_storage()
    asyncio.run(storage._backend().put("k", b"v"))
    payload = pickle.dumps(storage)
    del storage
    gc.collect()
    assert _keys(pickle.loads(payload)._backend()) == set()


def _list_in_child(payload: bytes) -> tuple[list[str], list[str]]:
    storage = pickle.loads(payload)
    before = sorted(asyncio.run(collect(storage._backend())))
    asyncio.run(storage._backend().put("child", b"c"))
    again = pickle.loads(payload)  # same process: the same (child-local) store
    return before, sorted(asyncio.run(collect(again._backend())))


def test_in_memory_pickle_in_another_process_is_its_own_store() -> None:
    storage = in_memory_storage()
    asyncio.run(storage._backend().put("parent", b"p"))
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        before, after = pool.apply(_list_in_child, (pickle.dumps(storage),))
    assert before == []
    assert after == ["child"]
    assert _keys(storage._backend()) == {"parent"}


def test_wrapping_a_backend() -> None:
    backend = MemoryBackend("custom")
    storage = Storage._from_backend(backend)
    assert storage._backend() is backend
    assert "custom" in repr(storage)

"""The read-only HTTP backend against a WebDAV server (wsgidav) on 127.0.0.1.

wsgidav serves byte ranges and PROPFIND listings (plain ``http.server`` ignores ranges). Without
it the tests are skipped, except under ``CI=true`` where a missing server is a failure.
"""

from __future__ import annotations

import asyncio
import pickle
from collections.abc import Iterator
from pathlib import Path

import pytest
from http_server import serve_directory

from icechunk import StorageRetriesSettings
from icechunk._exceptions import ObjectNotFoundError, ReadOnlyStorageError
from icechunk.storage import Storage
from icechunk.storage._backend import ByteRange, PutMode, StorageBackend
from icechunk.storage._specs import HttpSpec, effective_retries

from .conformance import collect

FILES = {
    "config.yaml": b"inline_chunk_threshold_bytes: 512\n",
    "refs/branch.main/ref.json": b'{"snapshot":"1CECHNKREP0F1RSTCMT0"}',
    "chunks/ABC": bytes(range(256)) * 4,
}


@pytest.fixture(scope="module")
def http_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    root = tmp_path_factory.mktemp("http")
    for key, data in FILES.items():
        path = root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    with serve_directory(root) as url:
        yield url, root


@pytest.fixture
def backend(http_root: tuple[str, Path]) -> StorageBackend:
    url, _ = http_root
    return HttpSpec(url, retries=effective_retries(StorageRetriesSettings(max_tries=1))).make_backend()


async def test_get_and_ranges(backend: StorageBackend) -> None:
    for key, data in FILES.items():
        assert await backend.get(key) == data
    chunk = FILES["chunks/ABC"]
    assert await backend.get("chunks/ABC", ByteRange(10, 20)) == chunk[10:20]
    assert await backend.get("chunks/ABC", ByteRange(1000)) == chunk[1000:]
    assert await backend.get("chunks/ABC", ByteRange(-7)) == chunk[-7:]
    assert await backend.get("chunks/ABC", ByteRange(0, 0)) == b""
    versioned = await backend.get_versioned("config.yaml")
    assert versioned.data == FILES["config.yaml"] and versioned.version


async def test_missing(backend: StorageBackend) -> None:
    with pytest.raises(ObjectNotFoundError):
        await backend.get("nothing/here")
    assert not await backend.exists("nothing")
    assert await backend.exists("config.yaml")


async def test_list(backend: StorageBackend) -> None:
    listed = await collect(backend)
    assert set(listed) == set(FILES)
    assert listed["chunks/ABC"].size == len(FILES["chunks/ABC"])
    assert set(await collect(backend, "refs/")) == {"refs/branch.main/ref.json"}


async def test_read_only(backend: StorageBackend) -> None:
    assert not backend.can_write
    with pytest.raises(ReadOnlyStorageError):
        await backend.put("new", b"x")
    with pytest.raises(ReadOnlyStorageError):
        await backend.put("new", b"x", mode=PutMode.CREATE)
    with pytest.raises(ReadOnlyStorageError):
        await backend.delete(["config.yaml"])


def test_http_storage_pickles(http_root: tuple[str, Path]) -> None:
    url, _ = http_root
    storage = Storage._new_http(url)
    assert url in repr(storage)
    copy = pickle.loads(pickle.dumps(storage))
    assert asyncio.run(copy._backend().get("config.yaml")) == FILES["config.yaml"]


def test_repository_served_over_http_lists_its_refs(tmp_path: Path) -> None:
    """A repository served read-only over HTTP (WebDAV listing) shows its branches and tags,
    names with spaces and deleted tags included."""
    import numpy as np
    import zarr

    import icechunk

    root = tmp_path / "repo"
    repo = icechunk.Repository.create(icechunk.local_filesystem_storage(str(root)))
    session = repo.writable_session("main")
    zarr.create_array(session.store, name="a", shape=(4,), chunks=(2,), dtype="i4")[:] = 7
    first = session.commit("data")
    repo.create_branch("my branch", first)
    repo.create_tag("it works!", first)
    repo.create_tag("gone", first)
    repo.delete_tag("gone")
    with serve_directory(root) as url:
        served = icechunk.Repository.open(icechunk.http_storage(url))
        assert served.list_branches() == {"main", "my branch"}
        assert served.list_tags() == {"it works!"}
        assert next(s.message for s in served.ancestry(tag="it works!")) == "data"
        store = served.readonly_session(branch="my branch").store
        np.testing.assert_array_equal(zarr.open_array(store, path="a", mode="r")[:], 7)

"""Virtual chunks: references into files outside the repository, read back through zarr.

Real components only: local files, S3 served by moto on 127.0.0.1, and HTTP served by wsgidav
on 127.0.0.1. Without moto or wsgidav those tests are skipped, except under ``CI=true`` where a
missing server is a failure.
"""

from __future__ import annotations

import asyncio
import datetime
import os
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import obstore
import pytest
import zarr
from _helpers.s3 import REGION, moto_server, new_bucket, s3_client  # noqa: F401  (fixture)
from http_server import serve_directory
from obstore.store import LocalStore

import icechunk
from icechunk import VirtualChunkContainer, VirtualChunkSpec
from icechunk._exceptions import VirtualChunkError
from icechunk._format.manifest import VirtualChunk
from icechunk._virtual import VirtualChunkResolver
from icechunk.session import ChunkType
from icechunk.storage._specs import HttpSpec

UTC = datetime.UTC


# --- helpers -----------------------------------------------------------------------------------


def _values(n: int, start: int = 0) -> np.ndarray:
    return np.arange(start, start + n, dtype="<i4")


def _local_source(tmp_path: Path, name: str = "data.bin") -> tuple[Path, str, np.ndarray]:
    """A file with a 16-byte header followed by 40 int32 values (4 chunks of 10)."""
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    values = _values(40, 100)
    path = src / name
    path.write_bytes(b"HEADER--HEADER--" + values.tobytes())
    return src, f"file://{path}", values


def _config(*containers: VirtualChunkContainer) -> icechunk.RepositoryConfig:
    config = icechunk.RepositoryConfig.default()
    for container in containers:
        config.set_virtual_chunk_container(container)
    return config


def _local_container(src: Path) -> VirtualChunkContainer:
    return VirtualChunkContainer(f"file://{src}/", icechunk.local_filesystem_store(str(src)))


def _new_array(session: icechunk.Session, shape: int = 40, name: str = "a") -> Any:
    return zarr.create_array(
        session.store,
        name=name,
        shape=(shape,),
        chunks=(10,),
        dtype="<i4",
        compressors=None,
        fill_value=-1,
    )


def _read(repo: icechunk.Repository, name: str = "a") -> np.ndarray:
    session = repo.readonly_session("main")
    return np.asarray(zarr.open_array(session.store, path=name, mode="r")[:])


@pytest.fixture
def local_repo(tmp_path: Path) -> tuple[icechunk.Storage, str, Path, str, np.ndarray]:
    """A committed repository whose array ``a`` is 4 virtual chunks of a local file."""
    src, url, values = _local_source(tmp_path)
    prefix = f"file://{src}/"
    storage = icechunk.local_filesystem_storage(str(tmp_path / "repo"))
    repo = icechunk.Repository.create(
        storage, _config(_local_container(src)), authorize_virtual_chunk_access={prefix: None}
    )
    session = repo.writable_session("main")
    _new_array(session)
    store = session.store
    store.set_virtual_ref("a/c/0", url, offset=16, length=40)
    store.set_virtual_ref("a/c/1", url, offset=56, length=40)
    failed = store.set_virtual_refs(
        "a",
        [
            VirtualChunkSpec([2], url, 96, 40),
            VirtualChunkSpec([3], url, 136, 40),
        ],
    )
    assert failed is None
    session.commit("virtual refs")
    return storage, prefix, src, url, values


# --- local files ---------------------------------------------------------------------------------


def test_local_read_in_fresh_repo(local_repo: Any) -> None:
    storage, prefix, _, url, values = local_repo
    repo = icechunk.Repository.open(storage, authorize_virtual_chunk_access={prefix: None})
    np.testing.assert_array_equal(_read(repo), values)
    session = repo.readonly_session("main")
    assert session.all_virtual_chunk_locations() == [url] * 4  # one per reference
    assert session.chunk_type("a", [0]) == ChunkType.VIRTUAL
    assert session.chunk_type("/a", [3]) == ChunkType.VIRTUAL
    # slices that span chunk boundaries
    array = zarr.open_array(session.store, path="a", mode="r")
    np.testing.assert_array_equal(array[5:27], values[5:27])


def test_local_config_is_persisted(local_repo: Any) -> None:
    """The container is saved with the repository: opening needs only the authorization."""
    storage, prefix, *_ = local_repo
    repo = icechunk.Repository.open(storage, authorize_virtual_chunk_access={prefix: None})
    assert prefix in (repo.config.virtual_chunk_containers or {})
    assert repo.authorized_virtual_container_prefixes == {prefix}  # a property, as upstream
    assert repo.authorized_virtual_container_prefixes() == {prefix}  # calling it still works


def test_unauthorized_read_fails_with_advice(local_repo: Any) -> None:
    storage, prefix, *_ = local_repo
    repo = icechunk.Repository.open(storage)
    with pytest.raises(VirtualChunkError) as info:
        _read(repo)
    message = str(info.value)
    assert prefix in message
    assert "authorize_virtual_chunk_access" in message
    # authorizing some other prefix does not help
    other = icechunk.Repository.open(
        storage, authorize_virtual_chunk_access={"file:///somewhere/else/": None}
    )
    with pytest.raises(VirtualChunkError, match="authorize_virtual_chunk_access"):
        _read(other)


def test_reopen_with_authorization(local_repo: Any) -> None:
    storage, prefix, _, _, values = local_repo
    repo = icechunk.Repository.open(storage)
    with pytest.raises(VirtualChunkError):
        _read(repo)
    np.testing.assert_array_equal(
        _read(repo.reopen(authorize_virtual_chunk_access={prefix: None})), values
    )


def test_pickled_repository_keeps_authorization(local_repo: Any) -> None:
    storage, prefix, _, _, values = local_repo
    repo = icechunk.Repository.open(storage, authorize_virtual_chunk_access={prefix: None})
    np.testing.assert_array_equal(_read(pickle.loads(pickle.dumps(repo))), values)
    session = pickle.loads(pickle.dumps(repo.readonly_session("main")))
    np.testing.assert_array_equal(zarr.open_array(session.store, path="a", mode="r")[:], values)


def test_location_outside_containers(tmp_path: Path) -> None:
    src, url, values = _local_source(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "x.bin").write_bytes(values.tobytes())
    outside = f"file://{elsewhere}/x.bin"
    prefix = f"file://{src}/"
    storage = icechunk.local_filesystem_storage(str(tmp_path / "repo"))
    repo = icechunk.Repository.create(
        storage, _config(_local_container(src)), authorize_virtual_chunk_access={prefix: None}
    )
    session = repo.writable_session("main")
    _new_array(session)
    store = session.store
    with pytest.raises(icechunk.IcechunkError, match="no matching virtual chunk container"):
        store.set_virtual_ref("a/c/0", outside, offset=0, length=40)
    assert session.chunk_type("a", [0]) == ChunkType.UNINITIALIZED
    failed = store.set_virtual_refs(
        "a", [VirtualChunkSpec([0], outside, 0, 40), VirtualChunkSpec([1], url, 56, 40)]
    )
    assert failed == [(0,)]
    store.set_virtual_ref("a/c/0", outside, offset=0, length=40, validate_container=False)
    store.set_virtual_refs("a", [VirtualChunkSpec([2], outside, 0, 40)], validate_containers=False)
    session.commit("outside")
    session = repo.readonly_session("main")
    assert sorted(session.all_virtual_chunk_locations()) == sorted([outside, url, outside])
    array = zarr.open_array(session.store, path="a", mode="r")
    np.testing.assert_array_equal(array[10:20], values[10:20])
    np.testing.assert_array_equal(array[30:], -1)
    for chunk in (slice(0, 10), slice(20, 30)):
        with pytest.raises(VirtualChunkError) as info:
            array[chunk]
        assert outside in str(info.value)
        assert "set_virtual_chunk_container" in str(info.value)


@pytest.mark.parametrize(
    ("location", "words"),
    [
        ("", "^error parsing virtual ref URL: ''"),
        ("some/relative/url", "^error parsing virtual ref URL"),
        ("/abs/path/without/scheme", "^error parsing virtual ref URL"),
        ("s3:///no-bucket/key", "^error parsing bucket name from virtual ref URL"),
    ],
)
def test_invalid_locations_are_refused_whatever_the_containers(location: str, words: str) -> None:
    """As upstream: a location must be an absolute URL (with a bucket unless file://)."""
    repo = icechunk.Repository.create(icechunk.in_memory_storage())
    session = repo.writable_session("main")
    _new_array(session)
    store = session.store
    with pytest.raises(VirtualChunkError, match=words):
        store.set_virtual_ref("a/c/0", location, offset=0, length=4, validate_container=False)
    with pytest.raises(VirtualChunkError, match=words):
        store.set_virtual_refs("a", [VirtualChunkSpec([1], location, 0, 4)])
    if location:  # an empty location in the bulk columns means "no chunk here"
        with pytest.raises(VirtualChunkError, match=words):
            store.set_virtual_refs_arr(
                "a", (1,), [location], np.array([0]), np.array([4]), validate_containers=False
            )
    assert session.status().updated_chunks == {}


def test_containers_keyed_by_name_match_by_url_prefix() -> None:
    """Configs of older versions key containers by name ("s3"); the url prefix decides."""
    store = icechunk.s3_store(region="us-east-1")
    named = {"s3": VirtualChunkContainer("s3://testbucket/", store)}
    resolver = VirtualChunkResolver(named, {"s3://testbucket/": None})
    assert resolver.container_for("s3://testbucket/key") is named["s3"]
    assert resolver.container_for("s3://other/key") is None
    assert resolver._authorized("s3://testbucket/key")[0] == "s3://testbucket/"


def test_longest_prefix_wins(tmp_path: Path) -> None:
    src, _, _ = _local_source(tmp_path)
    sub = src / "sub"
    sub.mkdir()
    values = _values(10, 7)
    (sub / "s.bin").write_bytes(values.tobytes())
    outer, inner = f"file://{src}/", f"file://{sub}/"
    config = _config(
        _local_container(src),
        VirtualChunkContainer(inner, icechunk.local_filesystem_store(str(sub))),
    )
    storage = icechunk.local_filesystem_storage(str(tmp_path / "repo"))
    repo = icechunk.Repository.create(storage, config)
    session = repo.writable_session("main")
    _new_array(session, shape=10)
    session.store.set_virtual_ref("a/c/0", f"{inner}s.bin", offset=0, length=40)
    session.commit("sub")
    # the inner container serves the location: authorizing the outer one is not enough
    only_outer = icechunk.Repository.open(storage, authorize_virtual_chunk_access={outer: None})
    with pytest.raises(VirtualChunkError, match=inner):
        _read(only_outer)
    only_inner = icechunk.Repository.open(storage, authorize_virtual_chunk_access={inner: None})
    np.testing.assert_array_equal(_read(only_inner), values)


def test_resolver_byte_ranges(tmp_path: Path) -> None:
    src, url, values = _local_source(tmp_path)
    prefix = f"file://{src}/"
    resolver = VirtualChunkResolver({prefix: _local_container(src)}, {prefix: None})
    raw = values.tobytes()
    chunk = VirtualChunk(url, 16, 40)

    async def run() -> None:
        assert await resolver.fetch(chunk) == raw[:40]
        assert await resolver.fetch(chunk, 4, 12) == raw[4:12]
        assert await resolver.fetch(chunk, 36) == raw[36:40]
        assert await resolver.fetch(chunk, 10, 1000) == raw[10:40]
        assert await resolver.fetch(chunk, 40) == b""
        assert await resolver.fetch(chunk, 8, 8) == b""

    asyncio.run(run())


def test_concurrent_reads(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    values = _values(2000)
    path = src / "big.bin"
    path.write_bytes(values.tobytes())
    prefix = f"file://{src}/"
    storage = icechunk.local_filesystem_storage(str(tmp_path / "repo"))
    repo = icechunk.Repository.create(
        storage, _config(_local_container(src)), authorize_virtual_chunk_access={prefix: None}
    )
    session = repo.writable_session("main")
    _new_array(session, shape=2000)
    specs = [VirtualChunkSpec([i], f"file://{path}", i * 40, 40) for i in range(200)]
    assert session.store.set_virtual_refs("a", specs) is None
    session.commit("many")
    np.testing.assert_array_equal(_read(repo), values)

    resolver = VirtualChunkResolver({prefix: _local_container(src)}, {prefix: None})
    raw = values.tobytes()

    async def run() -> list[bytes]:
        chunks = [VirtualChunk(f"file://{path}", i * 40, 40) for i in range(200)]
        return await asyncio.gather(*(resolver.fetch(c) for c in chunks))

    assert b"".join(asyncio.run(run())) == raw


def test_local_etag_checksum(tmp_path: Path) -> None:
    src, url, values = _local_source(tmp_path)
    prefix = f"file://{src}/"
    etag = obstore.head(LocalStore(), str(src / "data.bin").lstrip("/"))["e_tag"]
    assert etag
    storage = icechunk.local_filesystem_storage(str(tmp_path / "repo"))
    repo = icechunk.Repository.create(
        storage, _config(_local_container(src)), authorize_virtual_chunk_access={prefix: None}
    )
    session = repo.writable_session("main")
    _new_array(session)
    session.store.set_virtual_ref("a/c/0", url, offset=16, length=40, checksum=etag)
    session.store.set_virtual_refs("a", [VirtualChunkSpec([1], url, 56, 40, etag_checksum=etag)])
    session.store.set_virtual_ref("a/c/2", url, offset=96, length=40, checksum="not-the-etag")
    # upstream records local etags unquoted: both spellings are the same etag
    session.store.set_virtual_ref("a/c/3", url, offset=136, length=40, checksum=etag.strip('"'))
    session.commit("etags")
    array = zarr.open_array(repo.readonly_session("main").store, path="a", mode="r")
    np.testing.assert_array_equal(array[:20], values[:20])
    np.testing.assert_array_equal(array[30:], values[30:])
    with pytest.raises(VirtualChunkError, match="modified since the reference was written"):
        array[20:30]
    # rewriting the source changes its etag: the good references now fail too
    (src / "data.bin").write_bytes(b"HEADER--HEADER--" + (values * 2).tobytes())
    with pytest.raises(VirtualChunkError, match="has changed"):
        array[:10]


def test_local_last_modified_checksum(tmp_path: Path) -> None:
    src, url, values = _local_source(tmp_path)
    prefix = f"file://{src}/"
    path = src / "data.bin"
    mtime = 1_700_000_000
    os.utime(path, (mtime, mtime))
    storage = icechunk.local_filesystem_storage(str(tmp_path / "repo"))
    repo = icechunk.Repository.create(
        storage, _config(_local_container(src)), authorize_virtual_chunk_access={prefix: None}
    )
    session = repo.writable_session("main")
    _new_array(session)
    store = session.store
    at = datetime.datetime.fromtimestamp(mtime, UTC)
    store.set_virtual_ref("a/c/0", url, offset=16, length=40, checksum=at)
    store.set_virtual_refs(
        "a",
        [
            VirtualChunkSpec(
                [1], url, 56, 40, last_updated_at_checksum=at + datetime.timedelta(days=1)
            ),
            VirtualChunkSpec(
                [2], url, 96, 40, last_updated_at_checksum=at - datetime.timedelta(seconds=1)
            ),
        ],
    )
    session.commit("times")
    array = zarr.open_array(repo.readonly_session("main").store, path="a", mode="r")
    np.testing.assert_array_equal(array[:20], values[:20])
    with pytest.raises(VirtualChunkError, match="modified since the reference was written"):
        array[20:30]
    # touching the file after the recorded time invalidates the references
    later = mtime + 3600
    os.utime(path, (later, later))
    with pytest.raises(VirtualChunkError, match="has changed"):
        array[:10]
    np.testing.assert_array_equal(array[10:20], values[10:20])  # 1 day later still fine


def test_missing_and_short_sources(tmp_path: Path) -> None:
    src, url, _ = _local_source(tmp_path)
    prefix = f"file://{src}/"
    storage = icechunk.local_filesystem_storage(str(tmp_path / "repo"))
    repo = icechunk.Repository.create(
        storage, _config(_local_container(src)), authorize_virtual_chunk_access={prefix: None}
    )
    session = repo.writable_session("main")
    _new_array(session)
    missing = f"{prefix}missing.bin"
    session.store.set_virtual_ref("a/c/0", missing, offset=0, length=40)
    session.store.set_virtual_ref("a/c/1", url, offset=150, length=40)  # runs past the end
    session.store.set_virtual_ref("a/c/2", url, offset=10_000, length=40)  # starts past it
    session.commit("bad refs")
    array = zarr.open_array(repo.readonly_session("main").store, path="a", mode="r")
    with pytest.raises(VirtualChunkError, match="does not exist") as info:
        array[:10]
    assert missing in str(info.value)
    for chunk in (slice(10, 20), slice(20, 30)):
        with pytest.raises(VirtualChunkError, match="not enough data"):
            array[chunk]


def test_mismatched_credentials_type(tmp_path: Path) -> None:
    prefix = "s3://some-bucket/"
    container = VirtualChunkContainer(prefix, icechunk.s3_store(region=REGION))
    creds = icechunk.containers_credentials({prefix: icechunk.gcs_credentials(anonymous=True)})
    resolver = VirtualChunkResolver({prefix: container}, creds)
    with pytest.raises(VirtualChunkError, match="S3"):
        asyncio.run(resolver.fetch(VirtualChunk(f"{prefix}key", 0, 4)))


def test_bad_locations(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    prefix = f"file://{src}/"
    resolver = VirtualChunkResolver({prefix: _local_container(src)}, {prefix: None})
    with pytest.raises(VirtualChunkError, match="query"):
        asyncio.run(resolver.fetch(VirtualChunk(f"{prefix}x.bin?v=1", 0, 4)))


# --- S3 (moto) -----------------------------------------------------------------------------------


@pytest.fixture
def s3_source(moto_endpoint: str) -> tuple[Any, str]:
    return s3_client(moto_endpoint), new_bucket(moto_endpoint, "src")


def _s3_container(endpoint: str, prefix: str) -> VirtualChunkContainer:
    return VirtualChunkContainer(
        prefix,
        icechunk.s3_store(
            endpoint_url=endpoint, allow_http=True, region=REGION, force_path_style=True
        ),
    )


def _s3_creds(prefix: str) -> dict[str, Any]:
    return icechunk.containers_credentials(
        {prefix: icechunk.s3_credentials(access_key_id="testing", secret_access_key="testing")}
    )


def test_s3_virtual_chunks(tmp_path: Path, moto_endpoint: str, s3_source: Any) -> None:
    client, bucket = s3_source
    values = _values(30, 5)
    client.put_object(Bucket=bucket, Key="dir/data.bin", Body=b"0123" + values.tobytes())
    etag = client.head_object(Bucket=bucket, Key="dir/data.bin")["ETag"]
    prefix = f"s3://{bucket}/"
    url = f"{prefix}dir/data.bin"
    storage = icechunk.local_filesystem_storage(str(tmp_path / "repo"))
    repo = icechunk.Repository.create(
        storage,
        _config(_s3_container(moto_endpoint, prefix)),
        authorize_virtual_chunk_access=_s3_creds(prefix),
    )
    session = repo.writable_session("main")
    _new_array(session)
    session.store.set_virtual_ref("a/c/0", url, offset=4, length=40, checksum=etag)
    session.store.set_virtual_refs(
        "a",
        [
            VirtualChunkSpec([1], url, 44, 40, etag_checksum=etag.strip('"')),
            VirtualChunkSpec([2], url, 84, 40),
            VirtualChunkSpec([3], url, 84, 40, etag_checksum='"0000"'),
        ],
    )
    session.commit("s3 refs")

    reopened = icechunk.Repository.open(storage, authorize_virtual_chunk_access=_s3_creds(prefix))
    array = zarr.open_array(reopened.readonly_session("main").store, path="a", mode="r")
    np.testing.assert_array_equal(array[:30], values)
    with pytest.raises(VirtualChunkError, match="has changed"):
        array[30:]
    # the source changes: references with its old etag fail, the one without a checksum reads
    client.put_object(Bucket=bucket, Key="dir/data.bin", Body=b"0123" + (values + 1).tobytes())
    with pytest.raises(VirtualChunkError, match="has changed"):
        array[:10]
    np.testing.assert_array_equal(array[20:30], values[20:30] + 1)
    # without authorization
    with pytest.raises(VirtualChunkError, match="authorize_virtual_chunk_access"):
        _read(icechunk.Repository.open(storage))


def test_s3_missing_object_and_last_modified(
    tmp_path: Path, moto_endpoint: str, s3_source: Any
) -> None:
    client, bucket = s3_source
    values = _values(10)
    client.put_object(Bucket=bucket, Key="data.bin", Body=values.tobytes())
    modified = client.head_object(Bucket=bucket, Key="data.bin")["LastModified"]
    prefix = f"s3://{bucket}/"
    container = _s3_container(moto_endpoint, prefix)
    resolver = VirtualChunkResolver({prefix: container}, _s3_creds(prefix))

    async def run() -> None:
        assert await resolver.fetch(VirtualChunk(f"{prefix}data.bin", 0, 40)) == values.tobytes()
        fresh = VirtualChunk(
            f"{prefix}data.bin", 0, 40, last_modified=int(modified.timestamp()) + 60
        )
        assert await resolver.fetch(fresh, 8, 16) == values.tobytes()[8:16]
        stale = VirtualChunk(
            f"{prefix}data.bin", 0, 40, last_modified=int(modified.timestamp()) - 3600
        )
        with pytest.raises(VirtualChunkError, match="has changed"):
            await resolver.fetch(stale)
        with pytest.raises(VirtualChunkError, match="does not exist") as info:
            await resolver.fetch(VirtualChunk(f"{prefix}nope.bin", 0, 40))
        assert f"{prefix}nope.bin" in str(info.value)

    asyncio.run(run())


# --- HTTP (wsgidav) ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def http_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    root = tmp_path_factory.mktemp("http")
    with serve_directory(root) as url:
        yield url, root


def test_http_virtual_chunks(tmp_path: Path, http_root: tuple[str, Path]) -> None:
    base, root = http_root
    values = _values(40, 1000)
    (root / "files").mkdir(exist_ok=True)
    (root / "files" / "data.bin").write_bytes(b"12345678" + values.tobytes())
    url = f"{base}files/data.bin"
    backend: Any = HttpSpec(base).make_backend()
    etag = obstore.head(backend.store, "files/data.bin")["e_tag"]
    container = VirtualChunkContainer(base, icechunk.http_store())
    storage = icechunk.local_filesystem_storage(str(tmp_path / "repo"))
    repo = icechunk.Repository.create(
        storage, _config(container), authorize_virtual_chunk_access={base: None}
    )
    session = repo.writable_session("main")
    _new_array(session)
    session.store.set_virtual_ref("a/c/0", url, offset=8, length=40, checksum=etag)
    session.store.set_virtual_refs(
        "a",
        [
            VirtualChunkSpec([1], url, 48, 40),
            VirtualChunkSpec([2], url, 88, 40),
            VirtualChunkSpec([3], url, 128, 40, etag_checksum='"wrong"'),
        ],
    )
    session.commit("http refs")
    reopened = icechunk.Repository.open(storage, authorize_virtual_chunk_access={base: None})
    array = zarr.open_array(reopened.readonly_session("main").store, path="a", mode="r")
    np.testing.assert_array_equal(array[:30], values[:30])
    np.testing.assert_array_equal(array[7:23], values[7:23])
    with pytest.raises(VirtualChunkError, match="has changed"):
        array[30:]
    missing = VirtualChunk(f"{base}files/missing.bin", 0, 4)
    resolver = VirtualChunkResolver({base: container}, {base: None})
    with pytest.raises(VirtualChunkError, match="does not exist"):
        asyncio.run(resolver.fetch(missing))
    with pytest.raises(VirtualChunkError, match="authorize_virtual_chunk_access"):
        _read(icechunk.Repository.open(storage))

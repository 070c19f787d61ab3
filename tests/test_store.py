"""``IcechunkStore`` against zarr's own store conformance suite, plus key-mapping checks.

zarr's ``StoreTests`` treat a store as a plain key-value map and write arbitrary bytes under
arbitrary keys ("foo", "k", a ``zarr.json`` holding ``b"bar"``). An Icechunk store only holds
Zarr v3 hierarchies (that is what makes it readable by upstream Icechunk), so, as upstream
does, the tests that write such content are re-expressed below with valid Zarr metadata and
chunk keys; they assert the same behaviour. Writing non-Zarr content is itself tested: it is a
clear ``InvalidKeyError``.
"""

from __future__ import annotations

import json
import pickle
from typing import Any

import pytest
from zarr.abc.store import OffsetByteRequest, RangeByteRequest, SuffixByteRequest
from zarr.core.buffer import Buffer, cpu, default_buffer_prototype
from zarr.testing.store import StoreTests

import icechunk
from icechunk import IcechunkStore
from icechunk._core.store import ChunkKey, MetadataKey
from icechunk._exceptions import InvalidKeyError, ReadOnlySessionError

GROUP = json.dumps({"zarr_format": 3, "node_type": "group", "attributes": {}}).encode()


def array_meta(ndim: int = 1, name: str = "default", separator: str = "/", n: int = 4) -> bytes:
    return json.dumps(
        {
            "zarr_format": 3,
            "node_type": "array",
            "shape": [n] * ndim,
            "data_type": "uint8",
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [1] * ndim}},
            "chunk_key_encoding": {"name": name, "configuration": {"separator": separator}},
            "fill_value": 0,
            "codecs": [{"name": "bytes"}],
            "attributes": {},
        }
    ).encode()


# array metadata that makes each key used by zarr's suite a chunk key
_CHUNK_KEY_OWNERS = {
    "c/0": ("zarr.json", array_meta(1)),
    "foo/c/0.0": ("foo/c/zarr.json", array_meta(2, "v2", ".")),
    "foo/0/0": ("foo/zarr.json", array_meta(2, "v2", "/")),
}


def _writable_session() -> icechunk.Session:
    repo = icechunk.Repository.create(icechunk.in_memory_storage())
    return repo.writable_session("main")


class TestIcechunkStore(StoreTests[IcechunkStore, cpu.Buffer]):
    store_cls = IcechunkStore
    buffer_cls = cpu.Buffer

    async def set(self, store: IcechunkStore, key: str, value: Buffer) -> None:
        """Write through the session engine, creating the array that owns a chunk key."""
        owner = _CHUNK_KEY_OWNERS.get(key)
        if key.isdigit():  # zarr's get_many test uses keys "0".."9"
            owner = ("zarr.json", array_meta(1, "v2", ".", n=10))
        if owner is not None:
            await store._core.set(owner[0], owner[1])
        await store._core.set(key, value.to_bytes())

    async def get(self, store: IcechunkStore, key: str) -> Buffer | None:
        data = await store._core.get(key)
        return None if data is None else self.buffer_cls.from_bytes(data)

    @pytest.fixture
    def store_kwargs(self) -> dict[str, Any]:
        return {"session": _writable_session()}

    @pytest.fixture
    def store_not_open(self, store_kwargs: dict[str, Any]) -> IcechunkStore:
        store = IcechunkStore(**store_kwargs)  # made directly, a store is open; zarr's suite
        store._is_open = False  # wants one that is not
        return store

    def test_store_repr(self, store: IcechunkStore) -> None:
        assert "IcechunkStore" in repr(store) and "branch='main'" in repr(store)

    def test_store_supports_writes(self, store: IcechunkStore) -> None:
        assert store.supports_writes

    def test_store_supports_listing(self, store: IcechunkStore) -> None:
        assert store.supports_listing

    # --- re-expressed with Zarr v3 content ---------------------------------------------------

    async def test_serializable_store(self, store: IcechunkStore) -> None:
        await store.set("zarr.json", self.buffer_cls.from_bytes(GROUP))
        session = store.session
        session.commit("for pickling")
        new_store = pickle.loads(pickle.dumps(store))
        assert new_store.read_only == store.read_only
        observed = await new_store.get("zarr.json", prototype=default_buffer_prototype())
        assert observed is not None and observed.to_bytes() == GROUP

    async def test_with_read_only_store(self, open_kwargs: dict[str, Any]) -> None:
        store = await self.store_cls.open(**{**open_kwargs, "read_only": True})
        with pytest.raises(ValueError, match="^cannot write to read-only store .*opened in read"):
            await store.set("zarr.json", self.buffer_cls.from_bytes(GROUP))
        writer = store.with_read_only(read_only=False)
        assert not writer._is_open and not writer.read_only
        await writer.set("zarr.json", self.buffer_cls.from_bytes(GROUP))
        await writer.delete("zarr.json")
        reader = store.with_read_only(read_only=True)
        with pytest.raises(ValueError, match="store was opened in read-only mode"):
            await reader.delete("zarr.json")

    @pytest.mark.parametrize("key", ["zarr.json", "c/0", "foo/c/0.0", "foo/0/0"])
    @pytest.mark.parametrize("data", [b"\x01\x02\x03\x04", b""])
    async def test_set(self, store: IcechunkStore, key: str, data: bytes) -> None:
        if key == "zarr.json":
            data = GROUP
        else:
            owner, meta = _CHUNK_KEY_OWNERS[key]
            await store.set(owner, self.buffer_cls.from_bytes(meta))
        await store.set(key, self.buffer_cls.from_bytes(data))
        observed = await self.get(store, key)
        assert observed is not None and observed.to_bytes() == data

    async def test_set_not_open(self, store_not_open: IcechunkStore) -> None:
        await store_not_open.set("zarr.json", self.buffer_cls.from_bytes(array_meta()))
        await store_not_open.set("c/0", self.buffer_cls.from_bytes(b"\x01"))
        observed = await self.get(store_not_open, "c/0")
        assert observed is not None and observed.to_bytes() == b"\x01"

    async def test_set_many(self, store: IcechunkStore) -> None:
        values = {
            "foo/zarr.json": array_meta(1),
            "foo/c/0": b"a",
            "foo/c/1": b"b",
            "bar/zarr.json": GROUP,
        }
        await store._set_many((k, self.buffer_cls.from_bytes(v)) for k, v in values.items())
        for k, v in values.items():
            observed = await self.get(store, k)
            assert observed is not None and observed.to_bytes() == v

    @pytest.mark.parametrize(
        "key_ranges",
        [
            [],
            [("zarr.json", RangeByteRequest(0, 2))],
            [("c/0/0", RangeByteRequest(0, 2)), ("zarr.json", None)],
            [
                ("c/0/0", RangeByteRequest(0, 2)),
                ("c/0/1", SuffixByteRequest(2)),
                ("c/0/2", OffsetByteRequest(2)),
            ],
        ],
    )
    async def test_get_partial_values(
        self, store: IcechunkStore, key_ranges: list[tuple[str, Any]]
    ) -> None:
        await store.set("zarr.json", self.buffer_cls.from_bytes(array_meta(2)))
        for i in range(4):
            await store.set(f"c/0/{i}", self.buffer_cls.from_bytes(f"chunk{i}".encode()))
        observed = await store.get_partial_values(default_buffer_prototype(), key_ranges)
        for (key, byte_range), got in zip(key_ranges, observed, strict=True):
            expected = await store.get(key, default_buffer_prototype(), byte_range)
            assert got is not None and expected is not None
            assert got.to_bytes() == expected.to_bytes()
        if key_ranges and key_ranges[0][0] == "c/0/0":
            assert observed[0].to_bytes() == b"ch"  # type: ignore[union-attr]

    async def test_getsize_prefix(self, store: IcechunkStore) -> None:
        await store.set("zarr.json", self.buffer_cls.from_bytes(array_meta(2)))
        keys = ["c/0/0", "c/0/1", "c/1/0", "c/1/1"]
        await store._set_many((k, self.buffer_cls.from_bytes(b"abcd")) for k in keys)
        assert await store.getsize_prefix("c") == 4 * len(keys)

    async def test_exists(self, store: IcechunkStore) -> None:
        with pytest.raises(InvalidKeyError, match="can never exist"):
            await store.exists("foo")  # neither metadata nor a chunk key, as upstream
        assert not await store.exists("foo/zarr.json")
        assert not await store.exists("foo/.zarray")  # zarr probes v2 names: absent, no error
        assert not await store.exists("foo/c/0")
        await store.set("foo/zarr.json", self.buffer_cls.from_bytes(GROUP))
        assert await store.exists("foo/zarr.json")

    async def test_delete(self, store: IcechunkStore) -> None:
        await store.set("foo/zarr.json", self.buffer_cls.from_bytes(GROUP))
        assert await store.exists("foo/zarr.json")
        await store.delete("foo/zarr.json")
        assert not await store.exists("foo/zarr.json")

    async def test_delete_dir(self, store: IcechunkStore) -> None:
        await store.set("zarr.json", self.buffer_cls.from_bytes(GROUP))
        await store.set("foo-bar/zarr.json", self.buffer_cls.from_bytes(GROUP))
        await store.set("foo/zarr.json", self.buffer_cls.from_bytes(array_meta()))
        await store.set("foo/c/0", self.buffer_cls.from_bytes(b"chunk"))
        await store.delete_dir("foo")
        assert await store.exists("zarr.json")
        assert await store.exists("foo-bar/zarr.json")
        assert not await store.exists("foo/zarr.json")
        assert not await store.exists("foo/c/0")

    async def test_is_empty(self, store: IcechunkStore) -> None:
        assert await store.is_empty("")
        await store.set("foo/zarr.json", self.buffer_cls.from_bytes(GROUP))
        assert not await store.is_empty("")
        assert await store.is_empty("fo")
        assert not await store.is_empty("foo/")
        assert not await store.is_empty("foo")
        assert await store.is_empty("spam/")

    async def test_clear(self, store: IcechunkStore) -> None:
        await store.set("zarr.json", self.buffer_cls.from_bytes(GROUP))
        await store.set("a/zarr.json", self.buffer_cls.from_bytes(array_meta()))
        await store.clear()
        assert await store.is_empty("")

    async def test_list(self, store: IcechunkStore) -> None:
        assert [k async for k in store.list()] == []
        values = {"foo/zarr.json": array_meta(1, n=10)}
        values.update({f"foo/c/{i}": b"x" for i in range(10)})
        await store._set_many((k, self.buffer_cls.from_bytes(v)) for k, v in values.items())
        assert sorted([k async for k in store.list()]) == sorted(values)

    async def test_list_prefix(self, store: IcechunkStore) -> None:
        prefixes = ("", "a/", "a/b/", "a/b/c/")
        for p in prefixes:
            await store.set(p + "zarr.json", self.buffer_cls.from_bytes(GROUP))
        for prefix in prefixes:
            observed = sorted([k async for k in store.list_prefix(prefix)])
            expected = sorted(p + "zarr.json" for p in prefixes if p.startswith(prefix))
            assert observed == expected

    async def test_list_empty_path(self, store: IcechunkStore) -> None:
        values = {
            "foo/zarr.json": GROUP,
            "foo/bar/zarr.json": array_meta(1),
            "foo/bar/c/1": b"",
            "foo/baz/zarr.json": array_meta(1),
            "foo/baz/c/0": b"",
        }
        await store._set_many((k, self.buffer_cls.from_bytes(v)) for k, v in values.items())
        assert sorted([k async for k in store.list()]) == sorted(values)
        assert sorted([k async for k in store.list_prefix("")]) == sorted(values)
        assert sorted([k async for k in store.list_prefix("foo/bar/")]) == [
            "foo/bar/c/1",
            "foo/bar/zarr.json",
        ]

    async def test_list_dir(self, store: IcechunkStore) -> None:
        assert [k async for k in store.list_dir("")] == []
        await store.set("foo/zarr.json", self.buffer_cls.from_bytes(array_meta()))
        await store.set("foo/c/1", self.buffer_cls.from_bytes(b"\x01"))
        for root in ("foo", "foo/"):
            assert sorted([k async for k in store.list_dir(root)]) == ["c", "zarr.json"]
        await store.set("g/zarr.json", self.buffer_cls.from_bytes(GROUP))
        await store.set("g/child/zarr.json", self.buffer_cls.from_bytes(GROUP))
        await store.set("g/leaf/zarr.json", self.buffer_cls.from_bytes(array_meta()))
        assert sorted([k async for k in store.list_dir("g")]) == ["child", "leaf", "zarr.json"]
        assert sorted([k async for k in store.list_dir("")]) == ["foo", "g"]

    async def test_set_if_not_exists(self, store: IcechunkStore) -> None:
        await store.set("zarr.json", self.buffer_cls.from_bytes(array_meta()))
        await self.set(store, "c/0", self.buffer_cls.from_bytes(b"0000"))
        await store.set_if_not_exists("c/0", self.buffer_cls.from_bytes(b"1111"))
        assert (await self.get(store, "c/0")).to_bytes() == b"0000"  # type: ignore[union-attr]
        await store.set_if_not_exists("c/1", self.buffer_cls.from_bytes(b"1111"))
        assert (await self.get(store, "c/1")).to_bytes() == b"1111"  # type: ignore[union-attr]

    def test_get_bytes_sync(self, store: IcechunkStore) -> None:
        store._sync(store.set("zarr.json", self.buffer_cls.from_bytes(GROUP)))
        assert store._get_bytes_sync("zarr.json", prototype=default_buffer_prototype()) == GROUP

    def test_get_json_sync(self, store: IcechunkStore) -> None:
        store._sync(store.set("zarr.json", self.buffer_cls.from_bytes(GROUP)))
        assert store._get_json_sync("zarr.json", prototype=default_buffer_prototype()) == json.loads(GROUP)

    async def test_get_bytes(self, store: IcechunkStore) -> None:
        await store.set("zarr.json", self.buffer_cls.from_bytes(GROUP))
        assert await store._get_bytes("zarr.json", prototype=default_buffer_prototype()) == GROUP

    async def test_get_json(self, store: IcechunkStore) -> None:
        await store.set("zarr.json", self.buffer_cls.from_bytes(GROUP))
        assert await store._get_json("zarr.json", prototype=default_buffer_prototype()) == json.loads(GROUP)


# --- Icechunk-specific store behaviour ---------------------------------------------------------


async def test_non_zarr_keys_and_content_are_rejected() -> None:
    store = _writable_session().store
    with pytest.raises(InvalidKeyError, match="neither a zarr.json"):
        await store.set("foo", cpu.Buffer.from_bytes(b"bar"))
    with pytest.raises(InvalidKeyError, match="not valid JSON"):
        await store.set("zarr.json", cpu.Buffer.from_bytes(b"root"))
    with pytest.raises(InvalidKeyError, match="Zarr v3"):
        await store.set("zarr.json", cpu.Buffer.from_bytes(b'{"zarr_format": 2}'))
    for bad in ("/abs/zarr.json", "a//zarr.json", "../zarr.json", "a/../zarr.json"):
        with pytest.raises(InvalidKeyError):
            await store.set(bad, cpu.Buffer.from_bytes(GROUP))


async def test_chunk_outside_grid_is_rejected() -> None:
    store = _writable_session().store
    await store.set("a/zarr.json", cpu.Buffer.from_bytes(array_meta(1, n=4)))
    with pytest.raises(InvalidKeyError, match="outside the chunk grid"):
        await store.set("a/c/4", cpu.Buffer.from_bytes(b"x"))


async def test_nodes_below_an_array_are_kept_as_upstream() -> None:
    """Raw keys can put a node below an array (upstream allows it); both stay readable."""
    session = _writable_session()
    store = session.store
    await store.set("zarr.json", cpu.Buffer.from_bytes(array_meta(1, n=1)))
    await store.set("0/zarr.json", cpu.Buffer.from_bytes(array_meta(1, n=1)))
    await store.set("0/c/0", cpu.Buffer.from_bytes(b"x"))
    await store.set("c/0", cpu.Buffer.from_bytes(b"y"))
    keys = sorted([k async for k in store.list_prefix("")])
    assert keys == ["0/c/0", "0/zarr.json", "c/0", "zarr.json"]
    for key in keys:
        assert await store.get(key, default_buffer_prototype()) is not None, key


async def test_key_resolution() -> None:
    store = _writable_session().store
    await store.set("g/zarr.json", cpu.Buffer.from_bytes(GROUP))
    await store.set("g/a/zarr.json", cpu.Buffer.from_bytes(array_meta(2)))
    core = store._core
    assert await core.resolve("g/zarr.json") == MetadataKey("/g")
    resolved = await core.resolve("g/a/c/1/2")
    assert isinstance(resolved, ChunkKey) and resolved.coords == (1, 2)
    assert await core.resolve("g/a/c/1") is None  # wrong number of dimensions
    assert await core.resolve("g/other") is None


async def test_read_only_session_store_raises_typed_error() -> None:
    repo = icechunk.Repository.create(icechunk.in_memory_storage())
    store = repo.readonly_session(branch="main").store
    assert store.read_only
    with pytest.raises(ReadOnlySessionError):
        await store.set("zarr.json", cpu.Buffer.from_bytes(GROUP))


async def test_set_of_a_non_buffer_is_a_type_error_with_zarrs_message() -> None:
    store = _writable_session().store
    await store.set("zarr.json", cpu.Buffer.from_bytes(array_meta()))
    with pytest.raises(TypeError, match=r"IcechunkStore\.set\(\): `value` must be a Buffer"):
        await store.set("c/0", 0)  # type: ignore[arg-type]


async def test_prefixes_are_paths_and_slash_is_the_root() -> None:
    store = _writable_session().store
    await store.set("zarr.json", cpu.Buffer.from_bytes(GROUP))
    await store.set("foo/zarr.json", cpu.Buffer.from_bytes(array_meta()))
    await store.set("foo/c/1", cpu.Buffer.from_bytes(b"x"))
    await store.set("foo-bar/zarr.json", cpu.Buffer.from_bytes(GROUP))
    everything = ["foo-bar/zarr.json", "foo/c/1", "foo/zarr.json", "zarr.json"]
    assert sorted([k async for k in store.list_prefix("/")]) == everything
    assert sorted([k async for k in store.list_prefix("foo")]) == ["foo/c/1", "foo/zarr.json"]
    assert sorted([k async for k in store.list_prefix("fo")]) == []
    assert sorted([k async for k in store.list_prefix("foo/c/1")]) == ["foo/c/1"]
    assert sorted([k async for k in store.list_dir("/")]) == ["foo", "foo-bar", "zarr.json"]


async def test_writes_after_clear_are_listed() -> None:
    repo = icechunk.Repository.create(icechunk.in_memory_storage())
    session = repo.writable_session("main")
    await session.store.set("zarr.json", cpu.Buffer.from_bytes(GROUP))
    await session.store.set("a/zarr.json", cpu.Buffer.from_bytes(array_meta()))
    session.commit("hierarchy")
    store = repo.writable_session("main").store
    await store.clear()
    await store.set("zarr.json", cpu.Buffer.from_bytes(GROUP))
    await store.set("a/zarr.json", cpu.Buffer.from_bytes(array_meta()))
    await store.set("a/c/0", cpu.Buffer.from_bytes(b"x"))
    assert sorted([k async for k in store.list_prefix("/")]) == [
        "a/c/0",
        "a/zarr.json",
        "zarr.json",
    ]


async def test_bytes_handle_reads_and_writes_bytes() -> None:
    store = _writable_session().store
    handle = store._store
    await handle.set("zarr.json", array_meta())
    await handle.set("c/1", b"abcd")
    assert await handle.get("c/1") == b"abcd"
    assert await handle.get("c/1", (1, 3)) == b"bc"
    assert await handle.get("c/1", (2, None)) == b"cd"
    assert await handle.get("c/1", (None, 1)) == b"d"
    with pytest.raises(KeyError):
        await handle.get("c/2")
    assert await handle.exists("c/1") and not await handle.exists("c/2")
    assert sorted([k async for k in handle.list_prefix("")]) == ["c/1", "zarr.json"]
    await handle.delete("c/1")
    assert not await handle.exists("c/1")


async def test_getsize_of_a_key_that_can_never_exist_is_an_icechunk_error() -> None:
    store = _writable_session().store
    with pytest.raises(InvalidKeyError, match="can never exist"):
        await store.getsize("not-a-real-key")
    with pytest.raises(FileNotFoundError):
        await store.getsize("a/zarr.json")


def test_a_sessions_store_is_open_and_with_read_only_gives_an_unopened_store() -> None:
    store = _writable_session().store
    assert store._is_open
    other = store.with_read_only(read_only=False)
    assert not other._is_open and not other.read_only
    assert store.with_read_only(read_only=True).read_only


def test_store_does_not_offer_zarrs_blocking_protocol() -> None:
    """As upstream's store: zarr reads and writes through the async methods."""
    from zarr.abc.store import SupportsDeleteSync, SupportsGetSync, SupportsSetSync

    store = _writable_session().store
    assert not isinstance(store, SupportsGetSync | SupportsSetSync | SupportsDeleteSync)


async def test_listings_iterate_with_plain_for_too() -> None:
    store = _writable_session().store
    await store.set("zarr.json", cpu.Buffer.from_bytes(GROUP))
    await store.set("a/zarr.json", cpu.Buffer.from_bytes(array_meta()))
    await store.set("a/c/1", cpu.Buffer.from_bytes(b"x"))
    assert sorted(store.list_prefix("")) == ["a/c/1", "a/zarr.json", "zarr.json"]
    assert sorted(store.list()) == sorted([k async for k in store.list()])
    assert sorted(store.list_dir("a")) == ["c", "zarr.json"]
    for key in store.list_prefix("a"):
        assert await store.get(key, default_buffer_prototype()) is not None


async def test_list_dir_of_an_array_always_names_its_chunk_folder() -> None:
    store = _writable_session().store
    await store.set("a/zarr.json", cpu.Buffer.from_bytes(array_meta()))  # no chunks yet
    assert sorted([k async for k in store.list_dir("a")]) == ["c", "zarr.json"]
    await store.set("v/zarr.json", cpu.Buffer.from_bytes(array_meta(2, "v2", ".")))
    assert sorted([k async for k in store.list_dir("v")]) == ["zarr.json"]
    await store.set("v/1.2", cpu.Buffer.from_bytes(b"x"))
    assert sorted([k async for k in store.list_dir("v")]) == ["1.2", "zarr.json"]

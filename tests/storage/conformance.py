"""A conformance suite every storage backend must pass (in the style of zarr's ``StoreTests``).

Subclass :class:`StorageBackendTests` and provide a ``backend`` fixture returning a fresh, empty
:class:`~icechunk.storage._backend.StorageBackend`. The fixture is synchronous so that the thread
tests can drive the backend from several event loops; async tests share pytest's loop.
Backends on remote stores also subclass :class:`RemoteBackendTests` (prefixes, lost answers,
connections reset before a conditional put reached the server).
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from icechunk._exceptions import (
    InvalidKeyError,
    ObjectNotFoundError,
    PreconditionFailedError,
    StorageError,
)
from icechunk.storage._backend import ByteRange, ObjectInfo, PutMode, StorageBackend

RACERS = 16

INVALID_KEYS = [
    "",
    "/absolute",
    "a//b",
    "trailing/",
    "../escape",
    "a/../../escape",
    "a/..",
    "./a",
    "a/./b",
    "back\\slash",
    "nul\x00byte",
    ".icechunk-tmp-0123",
    "dir/.icechunk-locks/x",
]

INVALID_PREFIXES = ["/abs", "a//", "../", "a/../b", "x\\y", "n\x00", ".icechunk-locks/"]


async def collect(backend: StorageBackend, prefix: str = "") -> dict[str, ObjectInfo]:
    """List ``prefix`` into a dict keyed by object key (failing on duplicates)."""
    found: dict[str, ObjectInfo] = {}
    async for info in backend.list(prefix):
        assert info.key not in found, f"listed twice: {info.key}"
        found[info.key] = info
    return found


def run_threads(target: object, count: int) -> list[object]:
    """Run ``target(index)`` in ``count`` threads started together; return results or errors."""
    results: list[object] = [None] * count
    barrier = threading.Barrier(count)

    def worker(index: int) -> None:
        barrier.wait()
        try:
            results[index] = target(index)  # type: ignore[operator]
        except BaseException as error:  # noqa: BLE001 - the test inspects it
            results[index] = error

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


class StorageBackendTests:
    """Behaviour every :class:`StorageBackend` must have. Subclasses provide ``backend``."""

    #: Whether writing identical bytes again yields a new version token (S3 ETags are MD5s).
    new_version_on_identical_write = True
    #: Whether suffix ranges (last n bytes) are supported.
    supports_suffix_ranges = True

    @pytest.fixture
    def backend(self) -> StorageBackend:
        raise NotImplementedError("subclasses provide a backend fixture")

    # --- get -----------------------------------------------------------------------------

    async def test_get_missing(self, backend: StorageBackend) -> None:
        with pytest.raises(ObjectNotFoundError):
            await backend.get("missing")
        with pytest.raises(ObjectNotFoundError):
            await backend.get("no/such/nested/key", ByteRange(0, 4))
        with pytest.raises(ObjectNotFoundError):
            await backend.get_versioned("missing")
        with pytest.raises(KeyError):  # ObjectNotFoundError is also a KeyError
            await backend.get("missing")

    async def test_missing_is_a_storage_error(self, backend: StorageBackend) -> None:
        with pytest.raises(StorageError):
            await backend.get("missing")

    async def test_put_get_roundtrip(self, backend: StorageBackend) -> None:
        await backend.put("a", b"hello")
        await backend.put("nested/deeper/b", b"world")
        assert await backend.get("a") == b"hello"
        assert await backend.get("nested/deeper/b") == b"world"

    async def test_get_returns_bytes(self, backend: StorageBackend) -> None:
        await backend.put("a", bytearray(b"abc"))
        value = await backend.get("a")
        assert type(value) is bytes and value == b"abc"

    async def test_bytes_like_payloads(self, backend: StorageBackend) -> None:
        await backend.put("ba", bytearray(b"bytearray"))
        await backend.put("mv", memoryview(b"xxmemoryviewxx")[2:-2])
        assert await backend.get("ba") == b"bytearray"
        assert await backend.get("mv") == b"memoryview"

    async def test_empty_object(self, backend: StorageBackend) -> None:
        await backend.put("empty", b"")
        assert await backend.get("empty") == b""
        assert await backend.exists("empty")
        infos = await collect(backend)
        assert infos["empty"].size == 0

    async def test_large_object(self, backend: StorageBackend) -> None:
        data = os.urandom(5 * 1024 * 1024 + 17)
        await backend.put("chunks/big", data)
        assert await backend.get("chunks/big") == data
        middle = ByteRange(1024 * 1024, 4 * 1024 * 1024 + 3)
        assert await backend.get("chunks/big", middle) == data[middle.start : middle.end]

    async def test_special_characters_in_keys(self, backend: StorageBackend) -> None:
        keys = [
            "with space",
            "dots.in.name",
            "dash-and_under",
            "equals=1",
            "refs/tag.v1.0/ref.json",
        ]
        for index, key in enumerate(keys):
            await backend.put(key, str(index).encode())
        for index, key in enumerate(keys):
            assert await backend.get(key) == str(index).encode()
        assert set(await collect(backend)) == set(keys)

    # --- byte ranges ---------------------------------------------------------------------

    @pytest.mark.parametrize(
        ("start", "end"),
        [(0, 10), (0, 4), (3, 7), (9, 10), (0, 0), (5, 5), (4, None), (0, None), (10, None)],
    )
    async def test_byte_ranges(self, backend: StorageBackend, start: int, end: int | None) -> None:
        data = b"0123456789"
        await backend.put("r", data)
        assert await backend.get("r", ByteRange(start, end)) == data[start:end]

    @pytest.mark.parametrize(("start", "end"), [(5, 100), (10, 20), (12, None), (50, 60)])
    async def test_byte_ranges_clamped(
        self, backend: StorageBackend, start: int, end: int | None
    ) -> None:
        data = b"0123456789"
        await backend.put("r", data)
        assert await backend.get("r", ByteRange(start, end)) == data[start:end]

    @pytest.mark.parametrize("length", [1, 4, 10, 25])
    async def test_suffix_ranges(self, backend: StorageBackend, length: int) -> None:
        if not self.supports_suffix_ranges:
            pytest.skip("this backend has no suffix ranges")
        data = b"0123456789"
        await backend.put("r", data)
        assert await backend.get("r", ByteRange(-length)) == data[-length:]

    def test_invalid_byte_ranges(self) -> None:
        with pytest.raises(ValueError):
            ByteRange(-3, 5)
        with pytest.raises(ValueError):
            ByteRange(5, 3)

    # --- put modes and versions ----------------------------------------------------------

    async def test_overwrite(self, backend: StorageBackend) -> None:
        await backend.put("k", b"one")
        await backend.put("k", b"two", mode=PutMode.OVERWRITE)
        assert await backend.get("k") == b"two"

    async def test_put_returns_current_version(self, backend: StorageBackend) -> None:
        version = await backend.put("k", b"one")
        current = await backend.get_versioned("k")
        assert current.data == b"one"
        assert current.version == version
        assert isinstance(version, str) and version

    async def test_versions_change_on_every_write(self, backend: StorageBackend) -> None:
        versions = [await backend.put("k", f"value {i}".encode()) for i in range(20)]
        assert len(set(versions)) == len(versions)
        assert (await backend.get_versioned("k")).version == versions[-1]

    async def test_versions_change_on_identical_writes(self, backend: StorageBackend) -> None:
        if not self.new_version_on_identical_write:
            pytest.skip("this backend's versions are content hashes")
        versions = [await backend.put("k", b"same") for _ in range(20)]
        assert len(set(versions)) == len(versions)

    async def test_create_when_absent(self, backend: StorageBackend) -> None:
        version = await backend.put("refs/tag.t/ref.json", b"x", mode=PutMode.CREATE)
        assert (await backend.get_versioned("refs/tag.t/ref.json")).version == version

    async def test_create_when_present_fails(self, backend: StorageBackend) -> None:
        await backend.put("k", b"original")
        with pytest.raises(PreconditionFailedError):
            await backend.put("k", b"other", mode=PutMode.CREATE)
        assert await backend.get("k") == b"original"

    async def test_create_after_delete(self, backend: StorageBackend) -> None:
        await backend.put("k", b"one", mode=PutMode.CREATE)
        await backend.delete(["k"])
        await backend.put("k", b"two", mode=PutMode.CREATE)
        assert await backend.get("k") == b"two"

    async def test_if_match_success(self, backend: StorageBackend) -> None:
        first = await backend.put("k", b"one")
        second = await backend.put("k", b"two", if_match=first)
        assert second != first
        third = await backend.put("k", b"three", if_match=second)
        assert await backend.get_versioned("k") == type(await backend.get_versioned("k"))(
            b"three", third
        )

    async def test_if_match_with_version_from_get(self, backend: StorageBackend) -> None:
        await backend.put("k", b"one")
        read = await backend.get_versioned("k")
        await backend.put("k", b"two", if_match=read.version)
        assert await backend.get("k") == b"two"

    async def test_if_match_stale_version_fails(self, backend: StorageBackend) -> None:
        first = await backend.put("k", b"one")
        await backend.put("k", b"two")
        with pytest.raises(PreconditionFailedError):
            await backend.put("k", b"three", if_match=first)
        assert await backend.get("k") == b"two"

    async def test_if_match_missing_object_fails(self, backend: StorageBackend) -> None:
        version = await backend.put("other", b"x")
        with pytest.raises(PreconditionFailedError):
            await backend.put("k", b"one", if_match=version)
        assert not await backend.exists("k")

    async def test_if_match_after_delete_fails(self, backend: StorageBackend) -> None:
        version = await backend.put("k", b"one")
        await backend.delete(["k"])
        with pytest.raises(PreconditionFailedError):
            await backend.put("k", b"two", if_match=version)
        assert not await backend.exists("k")

    async def test_if_match_bogus_version_fails(self, backend: StorageBackend) -> None:
        await backend.put("k", b"one")
        with pytest.raises(PreconditionFailedError):
            await backend.put("k", b"two", if_match="not-a-real-version")

    async def test_create_and_if_match_together_rejected(self, backend: StorageBackend) -> None:
        version = await backend.put("k", b"one")
        with pytest.raises(ValueError):
            await backend.put("k", b"two", mode=PutMode.CREATE, if_match=version)

    # --- exists, list, delete ------------------------------------------------------------

    async def test_exists(self, backend: StorageBackend) -> None:
        assert not await backend.exists("k")
        await backend.put("k", b"1")
        assert await backend.exists("k")
        assert not await backend.exists("k/below")
        await backend.put("d/child", b"1")
        assert not await backend.exists("d")  # a "directory" is not an object

    async def test_list_empty(self, backend: StorageBackend) -> None:
        assert await collect(backend) == {}
        assert await collect(backend, "nothing/") == {}

    async def test_repository_refuses_a_non_empty_location(self, backend: StorageBackend) -> None:
        """A repository is created only where nothing is: GC would treat other files as its own."""
        from icechunk._core.repository import EngineSettings, RepositoryCore
        from icechunk._exceptions import LocationNotEmptyError

        await backend.put("chunks/user-notes.txt", b"precious")
        with pytest.raises(LocationNotEmptyError, match="not empty"):
            await RepositoryCore(backend, EngineSettings()).initialize(None)
        assert set(await collect(backend)) == {"chunks/user-notes.txt"}  # nothing written
        assert await backend.get("chunks/user-notes.txt") == b"precious"

    async def test_list_all_and_prefixes(self, backend: StorageBackend) -> None:
        keys = {
            "config.yaml": b"c",
            "refs/branch.main/ref.json": b"main",
            "refs/branch.dev/ref.json": b"dev!",
            "refs/tag.v1/ref.json": b"tag",
            "snapshots/AAAA": b"s" * 100,
            "chunks/X1": b"chunk",
            "chunks/X2": b"chunk2",
        }
        for key, value in keys.items():
            await backend.put(key, value)
        everything = await collect(backend)
        assert set(everything) == set(keys)
        for key, info in everything.items():
            assert info.size == len(keys[key])
        assert set(await collect(backend, "refs/")) == {k for k in keys if k.startswith("refs/")}
        assert set(await collect(backend, "refs/branch.")) == {
            "refs/branch.main/ref.json",
            "refs/branch.dev/ref.json",
        }
        assert set(await collect(backend, "refs")) == {k for k in keys if k.startswith("refs")}
        assert set(await collect(backend, "chunks/X")) == {"chunks/X1", "chunks/X2"}
        assert set(await collect(backend, "chunks/X1")) == {"chunks/X1"}
        assert set(await collect(backend, "c")) == {"config.yaml", "chunks/X1", "chunks/X2"}
        assert await collect(backend, "refs/nothing") == {}

    async def test_list_deeply_nested(self, backend: StorageBackend) -> None:
        keys = [f"a/b{i}/c/d{i}" for i in range(5)] + ["a/top"]
        for key in keys:
            await backend.put(key, b"x")
        assert set(await collect(backend, "a/")) == set(keys)
        assert set(await collect(backend, "a/b3/")) == {"a/b3/c/d3"}

    async def test_list_many(self, backend: StorageBackend) -> None:
        """More objects than one listing page (1000 on S3) or one local list batch."""
        keys = {f"chunks/{i:05d}" for i in range(1234)}
        limit = asyncio.Semaphore(16)

        async def put(key: str) -> None:
            async with limit:
                await backend.put(key, b"v")

        await asyncio.gather(*(put(key) for key in keys))
        assert set(await collect(backend, "chunks/")) == keys

    async def test_list_last_modified(self, backend: StorageBackend) -> None:
        before = datetime.now(UTC) - timedelta(seconds=5)
        await backend.put("k", b"v")
        after = datetime.now(UTC) + timedelta(seconds=5)
        info = (await collect(backend))["k"]
        assert info.last_modified.tzinfo is not None
        assert before <= info.last_modified <= after

    async def test_delete(self, backend: StorageBackend) -> None:
        for key in ("a", "b", "c/d"):
            await backend.put(key, b"v")
        await backend.delete(["a", "c/d"])
        assert set(await collect(backend)) == {"b"}
        with pytest.raises(ObjectNotFoundError):
            await backend.get("a")

    async def test_delete_missing_is_ignored(self, backend: StorageBackend) -> None:
        await backend.put("a", b"v")
        await backend.delete(["missing", "a", "also/missing", "a"])
        await backend.delete([])
        assert await collect(backend) == {}

    # --- key validation ------------------------------------------------------------------

    @pytest.mark.parametrize("key", INVALID_KEYS)
    async def test_invalid_keys_rejected(self, backend: StorageBackend, key: str) -> None:
        with pytest.raises(InvalidKeyError):
            await backend.put(key, b"x")
        with pytest.raises(InvalidKeyError):
            await backend.put(key, b"x", mode=PutMode.CREATE)
        with pytest.raises(InvalidKeyError):
            await backend.get(key)
        with pytest.raises(InvalidKeyError):
            await backend.get_versioned(key)
        with pytest.raises(InvalidKeyError):
            await backend.delete([key])
        assert await collect(backend) == {}

    @pytest.mark.parametrize("prefix", INVALID_PREFIXES)
    async def test_invalid_prefixes_rejected(self, backend: StorageBackend, prefix: str) -> None:
        with pytest.raises(InvalidKeyError):
            await collect(backend, prefix)

    # --- concurrency ---------------------------------------------------------------------

    async def test_tasks_race_create(self, backend: StorageBackend) -> None:
        async def attempt(index: int) -> int:
            await backend.put("refs/tag.race/ref.json", f"{index}".encode(), mode=PutMode.CREATE)
            return index

        results = await asyncio.gather(*(attempt(i) for i in range(RACERS)), return_exceptions=True)
        winners = [r for r in results if isinstance(r, int)]
        losers = [r for r in results if isinstance(r, PreconditionFailedError)]
        assert len(winners) == 1 and len(losers) == RACERS - 1, results
        assert await backend.get("refs/tag.race/ref.json") == f"{winners[0]}".encode()

    async def test_tasks_race_if_match(self, backend: StorageBackend) -> None:
        version = await backend.put("refs/branch.main/ref.json", b"base")

        async def attempt(index: int) -> int:
            await backend.put("refs/branch.main/ref.json", f"{index}".encode(), if_match=version)
            return index

        results = await asyncio.gather(*(attempt(i) for i in range(RACERS)), return_exceptions=True)
        winners = [r for r in results if isinstance(r, int)]
        losers = [r for r in results if isinstance(r, PreconditionFailedError)]
        assert len(winners) == 1 and len(losers) == RACERS - 1, results
        assert await backend.get("refs/branch.main/ref.json") == f"{winners[0]}".encode()

    def test_threads_race_create(self, backend: StorageBackend) -> None:
        def attempt(index: int) -> int:
            asyncio.run(backend.put("race", f"{index}".encode(), mode=PutMode.CREATE))
            return index

        results = run_threads(attempt, RACERS)
        winners = [r for r in results if isinstance(r, int)]
        losers = [r for r in results if isinstance(r, PreconditionFailedError)]
        assert len(winners) == 1 and len(losers) == RACERS - 1, results
        assert asyncio.run(backend.get("race")) == f"{winners[0]}".encode()

    def test_threads_race_if_match(self, backend: StorageBackend) -> None:
        version = asyncio.run(backend.put("race", b"base"))

        def attempt(index: int) -> int:
            asyncio.run(backend.put("race", f"{index}".encode(), if_match=version))
            return index

        results = run_threads(attempt, RACERS)
        winners = [r for r in results if isinstance(r, int)]
        losers = [r for r in results if isinstance(r, PreconditionFailedError)]
        assert len(winners) == 1 and len(losers) == RACERS - 1, results
        assert asyncio.run(backend.get("race")) == f"{winners[0]}".encode()

    def test_threads_cas_counter(self, backend: StorageBackend) -> None:
        """Threads increment a counter by read + compare-and-swap; no increment is lost."""
        asyncio.run(backend.put("counter", b"0"))
        per_thread = 10

        async def increment_many() -> int:
            retries = 0
            for _ in range(per_thread):
                while True:
                    current = await backend.get_versioned("counter")
                    new = str(int(current.data) + 1).encode()
                    try:
                        await backend.put("counter", new, if_match=current.version)
                        break
                    except PreconditionFailedError:
                        retries += 1
            return retries

        threads = 8
        results = run_threads(lambda _: asyncio.run(increment_many()), threads)
        assert all(isinstance(r, int) for r in results), results
        assert asyncio.run(backend.get("counter")) == str(threads * per_thread).encode()


#: ``make_backend(prefix, endpoint, retries)``: a backend on the test server (or at
#: ``endpoint``, a proxy in front of it) under ``prefix``, with ``retries`` (or fast ones).
MakeBackend = Callable[..., StorageBackend]


class RemoteBackendTests:
    """Behaviour of backends in a bucket of a remote store that stamp their conditional puts
    (:class:`~icechunk.storage._readback.StampedBackend`). Subclasses provide ``endpoint``
    (the test server's URL) and ``make_backend`` fixtures and :meth:`conditional_put`."""

    @staticmethod
    def conditional_put(method: str, target: str, headers: dict[str, str]) -> bool:
        """Whether a request (as the fault proxy sees it) is a conditional put."""
        raise NotImplementedError("subclasses say what a conditional put looks like")

    async def test_prefix_isolates_repositories(self, make_backend: MakeBackend) -> None:
        first, second = make_backend("one"), make_backend("two/deeper")
        whole = make_backend(None)
        await first.put("config.yaml", b"1")
        await second.put("config.yaml", b"2")
        assert await first.get("config.yaml") == b"1"
        assert await second.get("config.yaml") == b"2"
        assert set(await collect(whole)) == {"one/config.yaml", "two/deeper/config.yaml"}
        assert set(await collect(first)) == {"config.yaml"}

    async def test_lost_response_retry_is_not_a_conflict(
        self, make_backend: MakeBackend, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A conditional put that landed but whose answer was lost, sent again, succeeds."""
        backend = make_backend("repo")
        original = backend._put_once  # type: ignore[attr-defined]

        async def send_twice(key: str, data: Any, mode: Any, if_match: Any, stamp: Any) -> str:
            if stamp is not None:
                await original(key, data, mode, if_match, stamp)  # its answer is "lost"
            return await original(key, data, mode, if_match, stamp)  # type: ignore[no-any-return]

        monkeypatch.setattr(backend, "_put_once", send_twice)
        created = await backend.put("refs/tag.t/ref.json", b"x", mode=PutMode.CREATE)
        assert (await backend.get_versioned("refs/tag.t/ref.json")).version == created
        base = await backend.put("refs/branch.main/ref.json", b"a")
        updated = await backend.put("refs/branch.main/ref.json", b"b", if_match=base)
        assert (await backend.get_versioned("refs/branch.main/ref.json")).version == updated
        monkeypatch.undo()
        with pytest.raises(PreconditionFailedError):  # a different writer still loses
            await backend.put("refs/tag.t/ref.json", b"y", mode=PutMode.CREATE)
        with pytest.raises(PreconditionFailedError):
            await backend.put("refs/branch.main/ref.json", b"c", if_match=base)

    async def test_unreachable_endpoint_is_a_storage_error(
        self, make_backend: MakeBackend
    ) -> None:
        backend = make_backend("repo", "http://127.0.0.1:9")
        with pytest.raises(StorageError):
            await backend.get("config.yaml")
        with pytest.raises(StorageError):
            await backend.put("config.yaml", b"x", mode=PutMode.CREATE)

    async def test_conditional_put_reset_before_reaching_the_server_is_retried(
        self, endpoint: str, make_backend: MakeBackend
    ) -> None:
        from icechunk import StorageRetriesSettings

        from .fault_proxy import fault_proxy

        retries = StorageRetriesSettings(max_tries=3, initial_backoff_ms=10, max_backoff_ms=50)
        conditional = self.conditional_put
        with fault_proxy(endpoint) as proxy:
            backend = make_backend("repo", proxy.url, retries)
            proxy.reset(conditional, times=1)
            created = await backend.put("refs/tag.t/ref.json", b"x", mode=PutMode.CREATE)
            assert len(proxy.resets) == 1
            assert (await backend.get_versioned("refs/tag.t/ref.json")).version == created

            base = await backend.put("refs/branch.main/ref.json", b"a")
            proxy.reset(conditional, times=2)  # within the 3 tries
            updated = await backend.put("refs/branch.main/ref.json", b"b", if_match=base)
            assert len(proxy.resets) == 3
            assert (await backend.get_versioned("refs/branch.main/ref.json")).version == updated

            proxy.reset(conditional, times=3)  # every try is reset: it never lands
            with pytest.raises(StorageError, match="did not land"):
                await backend.put("refs/branch.main/ref.json", b"c", if_match=updated)
            assert len(proxy.resets) == 6
            assert await backend.get("refs/branch.main/ref.json") == b"b"

            proxy.reset(conditional, times=1)  # a real conflict stays a conflict
            with pytest.raises(PreconditionFailedError):
                await backend.put("refs/branch.main/ref.json", b"d", if_match=base)

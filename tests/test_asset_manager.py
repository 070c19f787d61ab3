"""The asset manager's caches: weight bounds, shared fetches, caching config."""

from __future__ import annotations

import asyncio

import icechunk
from icechunk._asset_manager import _LruCache
from icechunk._core.repository import EngineSettings


async def test_cache_is_bounded_by_weight_but_keeps_the_newest() -> None:
    cache: _LruCache[str, int] = _LruCache(10, weigh=lambda v: v)
    for key, weight in (("a", 4), ("b", 4), ("c", 4)):
        cache.put(key, weight)
    assert cache.peek("a") is None and cache.peek("b") == 4 and cache.peek("c") == 4
    cache.put("huge", 100)  # heavier than the capacity: kept alone
    assert cache.peek("huge") == 100 and cache.peek("b") is None and cache.peek("c") is None


async def test_concurrent_misses_share_one_fetch() -> None:
    cache: _LruCache[str, int] = _LruCache(10)
    calls = 0

    async def fetch() -> int:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        return 7

    results = await asyncio.gather(*(cache.get_or_fetch("k", fetch) for _ in range(20)))
    assert results == [7] * 20 and calls == 1


def test_caching_config_sets_cache_bounds() -> None:
    config = icechunk.RepositoryConfig.default()
    config.caching = icechunk.CachingConfig(num_snapshot_nodes=123, num_chunk_refs=456)
    config.compression = icechunk.CompressionConfig(level=7)
    settings = EngineSettings.from_config(config).assets
    assert (settings.snapshot_cache_nodes, settings.manifest_cache_refs) == (123, 456)
    assert settings.compression_level == 7
    defaults = EngineSettings.from_config(icechunk.RepositoryConfig.default()).assets
    assert defaults.manifest_cache_refs == 15_000_000


def _counting_gets(repo: icechunk.Repository, prefix: str) -> list[str]:
    """Keys under ``prefix`` that the repository's storage backend reads from now on."""
    backend = repo._core.assets.backend
    seen: list[str] = []
    original = backend.get

    async def get(key: str, byte_range=None):  # type: ignore[no-untyped-def]
        if key.startswith(prefix):
            seen.append(key)
        return await original(key, byte_range)

    backend.get = get  # type: ignore[method-assign]
    return seen


def _history(path: str, caching: icechunk.CachingConfig | None) -> tuple[icechunk.Repository, str]:
    import numpy as np
    import zarr

    config = icechunk.RepositoryConfig(caching=caching, inline_chunk_threshold_bytes=0)
    storage = icechunk.local_filesystem_storage(path)
    repo = icechunk.Repository.create(storage, config)
    session = repo.writable_session("main")
    arr = zarr.create_array(session.store, name="a", shape=(6,), chunks=(1,), dtype="i8")
    first = session.commit("array")
    for i in range(5):
        session = repo.writable_session("main")
        zarr.open_array(session.store, path="a")[i] = np.int64(i + 1)
        session.commit(f"chunk {i}")
    del arr
    return icechunk.Repository.open(storage, config), first


def test_transaction_logs_cached_by_num_transaction_changes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    repo, first = _history(str(tmp_path / "none"), None)  # upstream's default: 0 changes
    reads = _counting_gets(repo, "transactions/")
    for _ in range(2):
        assert repo.diff(from_snapshot_id=first, to_branch="main").updated_chunks == {
            "/a": [[i] for i in range(5)]
        }
    assert len(reads) == 10  # nothing kept

    caching = icechunk.CachingConfig(num_transaction_changes=5)  # each log: one change
    cached, first = _history(str(tmp_path / "some"), caching)
    reads = _counting_gets(cached, "transactions/")
    for _ in range(2):
        cached.diff(from_snapshot_id=first, to_branch="main")
    assert len(reads) == 5  # the second diff reads none


def test_chunk_bytes_cached_by_num_bytes_chunks(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import zarr

    for limit, expected in ((None, 4), (8 * 5, 2)):
        caching = icechunk.CachingConfig(num_bytes_chunks=limit)
        repo, _ = _history(str(tmp_path / f"chunks-{limit}"), caching)
        reads = _counting_gets(repo, "chunks/")
        for _ in range(2):
            arr = zarr.open_array(repo.readonly_session("main").store, path="a", mode="r")
            assert arr[0] == 1 and arr[1] == 2
        assert len(reads) == expected

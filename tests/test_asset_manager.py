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

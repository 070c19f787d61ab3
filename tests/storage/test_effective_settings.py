"""The documented defaults of retries and the S3 stream timeout hold for repository storage
and virtual chunk reads alike (no server needed: the obstore stores' settings are read back).

Documented: ``StorageRetriesSettings`` unset fields mean 10 tries, 100 ms initial backoff and
180,000 ms maximum backoff; ``S3Options.network_stream_timeout_seconds`` ``None`` means 60 s
and 0 disables the timeout.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

import icechunk
from icechunk import S3Options, StorageRetriesSettings, VirtualChunkContainer
from icechunk._virtual import VirtualChunkResolver
from icechunk.storage import Storage

PREFIX = "s3://bucket/"


def _repository_store(options: S3Options, retries: StorageRetriesSettings | None = None) -> Any:
    storage = Storage.new_s3(options, "bucket", "prefix", icechunk.s3_anonymous_credentials())
    return storage._backend(retries).store


def _virtual_store(options: S3Options, settings: icechunk.StorageSettings | None = None) -> Any:
    container = VirtualChunkContainer(PREFIX, icechunk.ObjectStoreConfig.S3(options))
    resolver = VirtualChunkResolver({PREFIX: container}, {PREFIX: None}, settings)
    store, _ = resolver._store_for(PREFIX, container, None, f"{PREFIX}key")
    return store


def _timeout(store: Any) -> Any:
    return (store.client_options or {}).get("read_timeout")


def _retries(store: Any) -> tuple[int, timedelta, timedelta]:
    config = store.retry_config
    backoff = config["backoff"]
    return config["max_retries"], backoff["init_backoff"], backoff["max_backoff"]


@pytest.mark.parametrize(
    ("given", "expected"), [(None, "1m"), (5, "5s"), (0, None)], ids=["default", "5s", "off"]
)
def test_stream_timeout_is_the_same_for_storage_and_virtual_reads(
    given: int | None, expected: str | None
) -> None:
    options = S3Options(anonymous=True, network_stream_timeout_seconds=given)
    assert _timeout(_repository_store(options)) == expected
    assert _timeout(_virtual_store(options)) == expected


def test_s3_storage_factory_default_timeout_matches_s3_options() -> None:
    storage = icechunk.s3_storage(bucket="b", prefix="p", anonymous=True)
    assert _timeout(storage._backend().store) == _timeout(_repository_store(S3Options()))


def test_unset_retries_are_the_documented_defaults_everywhere() -> None:
    documented = (9, timedelta(milliseconds=100), timedelta(milliseconds=180_000))
    assert _retries(_repository_store(S3Options())) == documented
    assert _retries(_virtual_store(S3Options())) == documented
    only_tries = StorageRetriesSettings(max_tries=3)
    assert _retries(_repository_store(S3Options(), only_tries)) == (
        2,
        timedelta(milliseconds=100),
        timedelta(milliseconds=180_000),
    )


def test_given_retries_are_kept() -> None:
    given = StorageRetriesSettings(max_tries=4, initial_backoff_ms=20, max_backoff_ms=500)
    assert _retries(_repository_store(S3Options(), given)) == (
        3,
        timedelta(milliseconds=20),
        timedelta(milliseconds=500),
    )


def test_virtual_reads_take_the_storage_settings_given() -> None:
    given = StorageRetriesSettings(max_tries=4, initial_backoff_ms=20)
    store = _virtual_store(S3Options(), icechunk.StorageSettings(retries=given))
    assert _retries(store) == (3, timedelta(milliseconds=20), timedelta(milliseconds=180_000))


def test_a_repository_reads_virtual_chunks_with_its_configured_retries() -> None:
    config = icechunk.RepositoryConfig.default()
    container = VirtualChunkContainer(PREFIX, icechunk.ObjectStoreConfig.S3(S3Options()))
    config.set_virtual_chunk_container(container)
    config.storage = icechunk.StorageSettings(
        retries=StorageRetriesSettings(max_tries=5, initial_backoff_ms=30)
    )
    repo = icechunk.Repository.create(
        icechunk.in_memory_storage(), config, authorize_virtual_chunk_access={PREFIX: None}
    )
    resolver = repo._core.virtual
    store, _ = resolver._store_for(PREFIX, container, None, f"{PREFIX}key")
    assert _retries(store) == (4, timedelta(milliseconds=30), timedelta(milliseconds=180_000))

"""How Icechunk uses its storage backend: retries, concurrency, conditional writes, classes.

:class:`StorageRetriesSettings` is the package's one retry type: the storage layer reads its
effective values with :meth:`~StorageRetriesSettings._key` and its backoff with
:meth:`~StorageRetriesSettings._backoff_seconds`.
"""

from __future__ import annotations

import random
from typing import ClassVar, cast

from .._records import (
    Record,
    instance_of,
    opt_bool,
    opt_str,
    record,
    setting,
    u32,
    u64,
    uint,
)
from .._records import upstream_repr as _upstream_repr
from . import defaults


@record
class StorageRetriesSettings(Record):
    """How Icechunk retries failed requests (exponential backoff).

    Parameters
    ----------
    max_tries
        Maximum number of tries including the first; 1 disables retries (default 10).
    initial_backoff_ms
        Initial backoff in milliseconds (default 100).
    max_backoff_ms
        Upper limit of the backoff in milliseconds (default 180,000).
    """

    max_tries: int | None = setting(
        default=None, check=uint(16, nonzero=True), effective=defaults.MAX_TRIES
    )
    initial_backoff_ms: int | None = setting(
        default=None, check=u32, effective=defaults.INITIAL_BACKOFF_MS
    )
    max_backoff_ms: int | None = setting(default=None, check=u32, effective=defaults.MAX_BACKOFF_MS)

    # The storage layer's view of a retry policy.

    def _key(self) -> tuple[int, int, int]:
        """The effective ``(max_tries, initial_backoff_ms, max_backoff_ms)``, defaults filled in.

        Hashable (the settings object itself is not, as upstream's): a key for caching one
        backend per retry policy.
        """
        full = self._with_defaults()
        return (
            cast(int, full.max_tries),
            cast(int, full.initial_backoff_ms),
            cast(int, full.max_backoff_ms),
        )

    def _backoff_seconds(self, attempt: int) -> float:
        """Seconds to wait after failed try number ``attempt`` (from 1) before the next one.

        Exponential with jitter in its upper half: a random value in ``[c/2, c]`` where
        ``c = min(initial_backoff_ms * 2 ** (attempt - 1), max_backoff_ms) / 1000``.
        """
        _, initial_ms, max_ms = self._key()
        ceiling = min(initial_ms * 2 ** max(attempt - 1, 0), max_ms) / 1000
        return random.uniform(ceiling / 2, ceiling)


@record
class StorageConcurrencySettings(Record):
    """How many concurrent requests Icechunk uses to fetch one object.

    Parameters
    ----------
    max_concurrent_requests_for_object
        Maximum concurrent requests for one object (default 18).
    ideal_concurrent_request_size
        Ideal size in bytes of each request (default 12 MiB).
    """

    max_concurrent_requests_for_object: int | None = setting(
        default=None,
        check=uint(16, nonzero=True),
        effective=defaults.MAX_CONCURRENT_REQUESTS_FOR_OBJECT,
    )
    ideal_concurrent_request_size: int | None = setting(
        default=None, check=uint(64, nonzero=True), effective=defaults.IDEAL_CONCURRENT_REQUEST_SIZE
    )


@record
class StorageSettings(Record):
    """How Icechunk uses its storage backend.

    Parameters
    ----------
    concurrency
        Per-object request concurrency.
    retries
        Retry policy for failed requests.
    unsafe_use_conditional_create
        If False, writes that must create a new object are not conditional (loses consistency
        guarantees; for stores without the feature). Default True.
    unsafe_use_conditional_update
        If False, updates are not conditional (same caveat). Default True.
    unsafe_use_metadata
        If False, no object metadata is written. Default True.
    storage_class
        Storage class for all objects (store default if None).
    metadata_storage_class
        Storage class for metadata objects (defaults to ``storage_class``).
    chunks_storage_class
        Storage class for chunk objects (defaults to ``storage_class``).
    minimum_size_for_multipart_upload
        Objects larger than this many bytes use multipart upload (default 100 MiB).
    """

    concurrency: StorageConcurrencySettings | None = setting(
        default=None,
        check=instance_of(StorageConcurrencySettings),
        effective=StorageConcurrencySettings,
    )
    retries: StorageRetriesSettings | None = setting(
        default=None, check=instance_of(StorageRetriesSettings), effective=StorageRetriesSettings
    )
    unsafe_use_conditional_create: bool | None = setting(
        default=None, check=opt_bool, effective=defaults.UNSAFE_USE_CONDITIONAL_CREATE
    )
    unsafe_use_conditional_update: bool | None = setting(
        default=None, check=opt_bool, effective=defaults.UNSAFE_USE_CONDITIONAL_UPDATE
    )
    unsafe_use_metadata: bool | None = setting(
        default=None, check=opt_bool, effective=defaults.UNSAFE_USE_METADATA
    )
    storage_class: str | None = setting(default=None, check=opt_str)
    metadata_storage_class: str | None = setting(
        default=None, check=opt_str, effective=lambda s: s.storage_class
    )
    chunks_storage_class: str | None = setting(
        default=None, check=opt_str, effective=lambda s: s.storage_class
    )
    minimum_size_for_multipart_upload: int | None = setting(
        default=None, check=u64, effective=defaults.MINIMUM_SIZE_FOR_MULTIPART_UPLOAD
    )
    _yaml_order: ClassVar[tuple[str, ...]] = (
        "concurrency", "retries", "unsafe_use_conditional_update",
        "unsafe_use_conditional_create", "unsafe_use_metadata", "storage_class",
        "metadata_storage_class", "chunks_storage_class", "minimum_size_for_multipart_upload",
    )  # fmt: skip

    def __repr__(self) -> str:
        return _upstream_repr(
            self,
            (
                "concurrency",
                "retries",
                "unsafe_use_conditional_create",
                "unsafe_use_conditional_update",
                "unsafe_use_metadata",
                "storage_class",
                "metadata_storage_class",
                "chunks_storage_class",
            ),
        )

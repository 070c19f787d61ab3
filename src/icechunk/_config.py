"""Repository configuration value objects and the ``config.yaml`` round trip.

Every class mirrors upstream Icechunk 1.1's Python API name for name: unset fields are ``None``
(meaning "use the built-in default"), settable where upstream's are, and compared by value. The
engine reads effective values through :meth:`RepositoryConfig._with_defaults` (a copy with every
``None`` replaced by the default) or the ``DEFAULT_*`` constants below.

``config.yaml`` is what upstream's ``Repository.save_config`` writes (serde_yaml of the Rust
``RepositoryConfig``): every field is written, unset ones as ``null``; enums are YAML tags
(``store: !s3 {...}``, ``preload_if: !or [...]``, ``from: !Included 1``) and unit variants are
plain strings (``any_array``, ``'true'``, ``Unbounded``, ``in_memory``). :func:`config_to_yaml`
writes that layout and :func:`config_from_yaml` reads it (unknown keys are ignored, missing keys
are unset, as upstream does).
"""

from __future__ import annotations

import datetime
import enum
import os
import pathlib
import random
import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, TypeAlias, cast
from urllib.parse import urlsplit

import yaml

from ._exceptions import ConfigError
from ._values import (
    Record,
    Variant,
    instance_of,
    nest,
    opt_bool,
    opt_datetime,
    opt_str,
    req_bool,
    req_str,
    str_map,
    uint,
)

__all__ = [
    "AnyObjectStoreConfig",
    "CachingConfig",
    "CompressionAlgorithm",
    "CompressionConfig",
    "ManifestConfig",
    "ManifestPreloadCondition",
    "ManifestPreloadConfig",
    "ManifestSplitCondition",
    "ManifestSplitDimCondition",
    "ManifestSplittingConfig",
    "ObjectStoreConfig",
    "RepositoryConfig",
    "S3Options",
    "StorageConcurrencySettings",
    "StorageRetriesSettings",
    "StorageSettings",
    "VirtualChunkContainer",
    "VirtualChunkSpec",
    "azure_store",
    "config_from_yaml",
    "config_to_yaml",
    "gcs_store",
    "http_store",
    "local_filesystem_store",
    "s3_store",
]

# --- effective defaults (upstream 1.1's built-in values) --------------------------------------

DEFAULT_INLINE_CHUNK_THRESHOLD_BYTES = 512
DEFAULT_GET_PARTIAL_VALUES_CONCURRENCY = 10
DEFAULT_MAX_CONCURRENT_REQUESTS = 256
DEFAULT_COMPRESSION_LEVEL = 3
DEFAULT_NUM_SNAPSHOT_NODES = 500_000
DEFAULT_NUM_CHUNK_REFS = 15_000_000
DEFAULT_NUM_TRANSACTION_CHANGES = 0
DEFAULT_NUM_BYTES_ATTRIBUTES = 0
DEFAULT_NUM_BYTES_CHUNKS = 0
DEFAULT_MAX_TRIES = 10
DEFAULT_INITIAL_BACKOFF_MS = 100
DEFAULT_MAX_BACKOFF_MS = 3 * 60 * 1000
DEFAULT_MAX_CONCURRENT_REQUESTS_FOR_OBJECT = 18
DEFAULT_IDEAL_CONCURRENT_REQUEST_SIZE = 12 * 1024 * 1024
DEFAULT_MINIMUM_SIZE_FOR_MULTIPART_UPLOAD = 100 * 1024 * 1024
DEFAULT_MANIFEST_PRELOAD_MAX_TOTAL_REFS = 10_000
DEFAULT_S3_NETWORK_STREAM_TIMEOUT_SECONDS = 60

_u8, _u16, _u32, _u64 = uint(8), uint(16), uint(32), uint(64)


def _repr_value(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else repr(value)


def _upstream_repr(record: Record, shown: tuple[str, ...]) -> str:
    """``Name(field=value, ...)`` with upstream's fields in its order, strings double-quoted;
    fields upstream does not print follow, when set."""
    extra = [f for f in record._field_names() if f not in shown and getattr(record, f) is not None]
    inner = ", ".join(f"{f}={_repr_value(getattr(record, f))}" for f in (*shown, *extra))
    return f"{type(record).__name__}({inner})"


# --- compression ------------------------------------------------------------------------------


class CompressionAlgorithm(enum.Enum):
    """The compression algorithm for Icechunk's metadata files.

    Attributes
    ----------
    Zstd
        The Zstd compression algorithm (the only one, and the default).
    """

    Zstd = 0

    @staticmethod
    def default() -> CompressionAlgorithm:
        """The default compression algorithm (``Zstd``).

        Returns
        -------
        CompressionAlgorithm
        """
        return CompressionAlgorithm.Zstd

    def __repr__(self) -> str:
        return f"CompressionAlgorithm.{self.name}"


class CompressionConfig(Record):
    """How Icechunk compresses its metadata files.

    Parameters
    ----------
    algorithm
        The compression algorithm (default Zstd).
    level
        The compression level, 0-255 (default 3).
    """

    __slots__ = ("algorithm", "level")
    _checks: ClassVar[dict[str, Any]] = {
        "algorithm": instance_of(CompressionAlgorithm),
        "level": _u8,
    }
    algorithm: CompressionAlgorithm | None
    level: int | None

    def __init__(
        self, algorithm: CompressionAlgorithm | None = None, level: int | None = None
    ) -> None:
        self.algorithm = algorithm
        self.level = level

    @staticmethod
    def default() -> CompressionConfig:
        """The default compression configuration (all fields unset).

        Returns
        -------
        CompressionConfig
        """
        return CompressionConfig()


# --- caching ----------------------------------------------------------------------------------


_CACHING_FIELDS = (
    "num_snapshot_nodes",
    "num_chunk_refs",
    "num_transaction_changes",
    "num_bytes_attributes",
    "num_bytes_chunks",
)


class CachingConfig(Record):
    """Sizes of Icechunk's in-memory caches.

    Parameters
    ----------
    num_snapshot_nodes
        Snapshot nodes to cache (default 500,000).
    num_chunk_refs
        Chunk references to cache (default 15,000,000).
    num_transaction_changes
        Transaction log changes to cache (default 0).
    num_bytes_attributes
        Bytes of attributes to cache (default 0).
    num_bytes_chunks
        Bytes of chunks to cache (default 0).
    """

    __slots__ = _CACHING_FIELDS
    _checks: ClassVar[dict[str, Any]] = {f: _u64 for f in _CACHING_FIELDS}
    num_snapshot_nodes: int | None
    num_chunk_refs: int | None
    num_transaction_changes: int | None
    num_bytes_attributes: int | None
    num_bytes_chunks: int | None

    def __init__(
        self,
        num_snapshot_nodes: int | None = None,
        num_chunk_refs: int | None = None,
        num_transaction_changes: int | None = None,
        num_bytes_attributes: int | None = None,
        num_bytes_chunks: int | None = None,
    ) -> None:
        self.num_snapshot_nodes = num_snapshot_nodes
        self.num_chunk_refs = num_chunk_refs
        self.num_transaction_changes = num_transaction_changes
        self.num_bytes_attributes = num_bytes_attributes
        self.num_bytes_chunks = num_bytes_chunks

    @staticmethod
    def default() -> CachingConfig:
        """The default caching configuration (all fields unset: built-in sizes apply).

        Returns
        -------
        CachingConfig
        """
        return CachingConfig()


# --- storage settings -------------------------------------------------------------------------


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

    __slots__ = ("initial_backoff_ms", "max_backoff_ms", "max_tries")
    _checks: ClassVar[dict[str, Any]] = {
        "max_tries": uint(16, nonzero=True),
        "initial_backoff_ms": _u32,
        "max_backoff_ms": _u32,
    }
    max_tries: int | None
    initial_backoff_ms: int | None
    max_backoff_ms: int | None

    def __init__(
        self,
        max_tries: int | None = None,
        initial_backoff_ms: int | None = None,
        max_backoff_ms: int | None = None,
    ) -> None:
        self.max_tries = max_tries
        self.initial_backoff_ms = initial_backoff_ms
        self.max_backoff_ms = max_backoff_ms

    # The storage layer's view of a retry policy (the one retry type of the package).

    def _with_defaults(self) -> StorageRetriesSettings:
        """A copy with every unset field set to the built-in default.

        Returns
        -------
        StorageRetriesSettings
            ``max_tries`` 10, ``initial_backoff_ms`` 100 and ``max_backoff_ms`` 180,000 where
            this object leaves them unset.
        """
        return StorageRetriesSettings(*self._key())

    def _key(self) -> tuple[int, int, int]:
        """The effective ``(max_tries, initial_backoff_ms, max_backoff_ms)``, defaults filled in.

        Hashable (the settings object itself is not, as upstream's): a key for caching one
        backend per retry policy.
        """
        return (
            DEFAULT_MAX_TRIES if self.max_tries is None else self.max_tries,
            DEFAULT_INITIAL_BACKOFF_MS
            if self.initial_backoff_ms is None
            else self.initial_backoff_ms,
            DEFAULT_MAX_BACKOFF_MS if self.max_backoff_ms is None else self.max_backoff_ms,
        )

    def _backoff_seconds(self, attempt: int) -> float:
        """Seconds to wait after failed try number ``attempt`` (from 1) before the next one.

        Exponential with full jitter in its upper half: a random value in ``[c/2, c]`` where
        ``c = min(initial_backoff_ms * 2 ** (attempt - 1), max_backoff_ms) / 1000``.
        """
        _, initial_ms, max_ms = self._key()
        ceiling = min(initial_ms * 2 ** max(attempt - 1, 0), max_ms) / 1000
        return random.uniform(ceiling / 2, ceiling)


class StorageConcurrencySettings(Record):
    """How many concurrent requests Icechunk uses to fetch one object.

    Parameters
    ----------
    max_concurrent_requests_for_object
        Maximum concurrent requests for one object (default 18).
    ideal_concurrent_request_size
        Ideal size in bytes of each request (default 12 MiB).
    """

    __slots__ = ("ideal_concurrent_request_size", "max_concurrent_requests_for_object")
    _checks: ClassVar[dict[str, Any]] = {
        "max_concurrent_requests_for_object": uint(16, nonzero=True),
        "ideal_concurrent_request_size": uint(64, nonzero=True),
    }
    max_concurrent_requests_for_object: int | None
    ideal_concurrent_request_size: int | None

    def __init__(
        self,
        max_concurrent_requests_for_object: int | None = None,
        ideal_concurrent_request_size: int | None = None,
    ) -> None:
        self.max_concurrent_requests_for_object = max_concurrent_requests_for_object
        self.ideal_concurrent_request_size = ideal_concurrent_request_size


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

    __slots__ = (
        "chunks_storage_class",
        "concurrency",
        "metadata_storage_class",
        "minimum_size_for_multipart_upload",
        "retries",
        "storage_class",
        "unsafe_use_conditional_create",
        "unsafe_use_conditional_update",
        "unsafe_use_metadata",
    )
    _checks: ClassVar[dict[str, Any]] = {
        "concurrency": instance_of(StorageConcurrencySettings),
        "retries": instance_of(StorageRetriesSettings),
        "unsafe_use_conditional_create": opt_bool,
        "unsafe_use_conditional_update": opt_bool,
        "unsafe_use_metadata": opt_bool,
        "storage_class": opt_str,
        "metadata_storage_class": opt_str,
        "chunks_storage_class": opt_str,
        "minimum_size_for_multipart_upload": _u64,
    }
    concurrency: StorageConcurrencySettings | None
    retries: StorageRetriesSettings | None
    unsafe_use_conditional_create: bool | None
    unsafe_use_conditional_update: bool | None
    unsafe_use_metadata: bool | None
    storage_class: str | None
    metadata_storage_class: str | None
    chunks_storage_class: str | None
    minimum_size_for_multipart_upload: int | None

    def __init__(
        self,
        concurrency: StorageConcurrencySettings | None = None,
        retries: StorageRetriesSettings | None = None,
        unsafe_use_conditional_create: bool | None = None,
        unsafe_use_conditional_update: bool | None = None,
        unsafe_use_metadata: bool | None = None,
        storage_class: str | None = None,
        metadata_storage_class: str | None = None,
        chunks_storage_class: str | None = None,
        minimum_size_for_multipart_upload: int | None = None,
    ) -> None:
        self.concurrency = concurrency
        self.retries = retries
        self.unsafe_use_conditional_create = unsafe_use_conditional_create
        self.unsafe_use_conditional_update = unsafe_use_conditional_update
        self.unsafe_use_metadata = unsafe_use_metadata
        self.storage_class = storage_class
        self.metadata_storage_class = metadata_storage_class
        self.chunks_storage_class = chunks_storage_class
        self.minimum_size_for_multipart_upload = minimum_size_for_multipart_upload

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


# --- manifest preload -------------------------------------------------------------------------

Bound: TypeAlias = tuple[str, int] | None  # ("Included" | "Excluded", n), or None = unbounded


def _regex(name: str, value: Any) -> str:
    value = req_str(name, value)
    try:
        re.compile(value)
    except re.error as e:
        raise ConfigError(f"{name}: invalid regular expression {value!r}: {e}") from None
    return value


def _path_name(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]


def _conditions(name: str, items: Any, cls: type) -> tuple[Any, ...]:
    if not isinstance(items, Sequence) or isinstance(items, str):
        raise TypeError(f"{name} needs a list of {cls.__name__}, got {type(items).__name__}")
    for c in items:
        if not isinstance(c, cls):
            raise TypeError(f"{name} needs a list of {cls.__name__}, got {c!r}")
    return tuple(items)


class ManifestPreloadCondition:
    """Which manifests are loaded when a session starts.

    Build conditions with the static constructors and combine them with ``&`` and ``|``. The
    members are ``Or``, ``And``, ``PathMatches``, ``NameMatches``, ``NumRefs``, ``True`` and
    ``False`` (the last two through ``getattr``, as they are Python keywords).
    """

    __slots__ = ()
    Or: ClassVar[type[_PreloadOr]]
    And: ClassVar[type[_PreloadAnd]]
    PathMatches: ClassVar[type[_PreloadPathMatches]]
    NameMatches: ClassVar[type[_PreloadNameMatches]]
    NumRefs: ClassVar[type[_PreloadNumRefs]]

    @staticmethod
    def or_conditions(conditions: list[ManifestPreloadCondition]) -> ManifestPreloadCondition:
        """A condition that matches if any of ``conditions`` matches."""
        return _PreloadOr(conditions)

    @staticmethod
    def and_conditions(conditions: list[ManifestPreloadCondition]) -> ManifestPreloadCondition:
        """A condition that matches only if all of ``conditions`` match."""
        return _PreloadAnd(conditions)

    @staticmethod
    def path_matches(regex: str) -> ManifestPreloadCondition:
        """A condition that matches if the array's absolute path (``/a/b``) matches ``regex``."""
        return _PreloadPathMatches(regex)

    @staticmethod
    def name_matches(regex: str) -> ManifestPreloadCondition:
        """A condition that matches if the array's name (last path segment) matches ``regex``."""
        return _PreloadNameMatches(regex)

    @staticmethod
    def num_refs(from_refs: int | None, to_refs: int | None) -> ManifestPreloadCondition:
        """A condition that matches if the manifest's number of chunk references is in range.

        ``from_refs`` is inclusive, ``to_refs`` exclusive; None leaves that side open.
        """
        return _PreloadNumRefs(from_refs, to_refs)

    @staticmethod
    def true() -> ManifestPreloadCondition:
        """A condition that matches every manifest."""
        return _PreloadTrue()

    @staticmethod
    def false() -> ManifestPreloadCondition:
        """A condition that matches no manifest."""
        return _PreloadFalse()

    def __and__(self, other: ManifestPreloadCondition) -> ManifestPreloadCondition:
        """A condition that matches if both this condition and ``other`` match."""
        return _PreloadAnd([self, other])

    def __or__(self, other: ManifestPreloadCondition) -> ManifestPreloadCondition:
        """A condition that matches if this condition or ``other`` matches."""
        return _PreloadOr([self, other])

    def _matches(self, path: str, num_refs: int) -> bool:
        """Whether a manifest with ``num_refs`` references of the array at ``path`` matches."""
        raise NotImplementedError


class _PreloadList(Variant, ManifestPreloadCondition):
    __slots__ = ("_items",)
    _payload = ("_items",)
    __match_args__ = ("_0",)
    _items: tuple[ManifestPreloadCondition, ...]

    def __init__(self, conditions: list[ManifestPreloadCondition]) -> None:
        self._init(
            _items=_conditions(type(self).__qualname__, conditions, ManifestPreloadCondition)
        )

    @property
    def _0(self) -> list[ManifestPreloadCondition]:
        return list(self._items)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (list(self._items),))

    def __repr__(self) -> str:
        return f"{type(self).__qualname__}({list(self._items)!r})"


class _PreloadOr(_PreloadList):
    """Matches if any of the conditions matches."""

    __slots__ = ()

    def _matches(self, path: str, num_refs: int) -> bool:
        return any(c._matches(path, num_refs) for c in self._items)


class _PreloadAnd(_PreloadList):
    """Matches if all of the conditions match."""

    __slots__ = ()

    def _matches(self, path: str, num_refs: int) -> bool:
        return all(c._matches(path, num_refs) for c in self._items)


class _PreloadPathMatches(Variant, ManifestPreloadCondition):
    """Matches if the array path matches the regex."""

    __slots__ = ("regex",)
    _payload = ("regex",)
    __match_args__ = ("regex",)
    regex: str

    def __init__(self, regex: str) -> None:
        self._init(regex=_regex("regex", regex))

    def _matches(self, path: str, num_refs: int) -> bool:
        return re.search(self.regex, path) is not None


class _PreloadNameMatches(_PreloadPathMatches):
    """Matches if the array name matches the regex."""

    __slots__ = ()

    def _matches(self, path: str, num_refs: int) -> bool:
        return re.search(self.regex, _path_name(path)) is not None


def _bound(name: str, value: Any) -> Bound:
    if value is None:
        return None
    kind, n = value
    if kind not in ("Included", "Excluded"):
        raise ConfigError(f"{name}: a bound is Included, Excluded or Unbounded, got {kind!r}")
    return (kind, cast(int, _u32(name, n)))


class _PreloadNumRefs(Variant, ManifestPreloadCondition):
    """Matches if the manifest's number of references is within the range.

    Parameters
    ----------
    from_refs
        Inclusive lower limit, or None.
    to_refs
        Exclusive upper limit, or None.
    """

    __slots__ = ("_hi", "_lo")
    _payload = ("_lo", "_hi")
    __match_args__ = ("from", "to")
    _lo: Bound
    _hi: Bound

    def __init__(self, from_refs: int | None, to_refs: int | None) -> None:
        lo = None if from_refs is None else ("Included", _u32("from_refs", from_refs))
        hi = None if to_refs is None else ("Excluded", _u32("to_refs", to_refs))
        self._init(_lo=lo, _hi=hi)

    @classmethod
    def _from_bounds(cls, lo: Bound, hi: Bound) -> _PreloadNumRefs:
        obj = cls(None, None)
        object.__setattr__(obj, "_lo", _bound("num_refs.from", lo))
        object.__setattr__(obj, "_hi", _bound("num_refs.to", hi))
        return obj

    def _lower(self) -> int | None:
        if self._lo is None:
            return None
        return self._lo[1] if self._lo[0] == "Included" else self._lo[1] + 1

    def _upper(self) -> int | None:
        if self._hi is None:
            return None
        return self._hi[1] if self._hi[0] == "Excluded" else self._hi[1] + 1

    @property
    def to(self) -> int | None:
        """The exclusive upper limit of the range, or None."""
        return self._upper()

    def _matches(self, path: str, num_refs: int) -> bool:
        lo, hi = self._lower(), self._upper()
        return (lo is None or num_refs >= lo) and (hi is None or num_refs < hi)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_PreloadNumRefs._from_bounds, (self._lo, self._hi))

    def __repr__(self) -> str:
        return f"ManifestPreloadCondition.NumRefs({self._lower()!r}, {self._upper()!r})"


# ``from`` is a keyword: expose it as upstream does, through getattr.
setattr(
    _PreloadNumRefs,
    "from",
    property(lambda self: self._lower(), doc="The inclusive lower limit, or None."),
)


class _PreloadTrue(Variant, ManifestPreloadCondition):
    """Matches every manifest."""

    __slots__ = ()

    def __init__(self) -> None:
        pass

    def _matches(self, path: str, num_refs: int) -> bool:
        return True


class _PreloadFalse(Variant, ManifestPreloadCondition):
    """Matches no manifest."""

    __slots__ = ()

    def __init__(self) -> None:
        pass

    def _matches(self, path: str, num_refs: int) -> bool:
        return False


nest(ManifestPreloadCondition, "Or", _PreloadOr)
nest(ManifestPreloadCondition, "And", _PreloadAnd)
nest(ManifestPreloadCondition, "PathMatches", _PreloadPathMatches)
nest(ManifestPreloadCondition, "NameMatches", _PreloadNameMatches)
nest(ManifestPreloadCondition, "NumRefs", _PreloadNumRefs)
nest(ManifestPreloadCondition, "True", _PreloadTrue)
nest(ManifestPreloadCondition, "False", _PreloadFalse)


def default_preload_condition() -> ManifestPreloadCondition:
    """The condition upstream uses when ``preload_if`` is unset: coordinate-like array names
    (time, level, latitude, longitude, x, y, ...) with at most 1000 chunk references."""
    names = [
        r"^\bt\b$|^(time|min|hour|day|week|month|year)[0-9]*$",
        (
            r"^(z|nav_lev|gdep|lv_|[o]*lev|bottom_top|sigma|h(ei)?ght|altitude|depth|isobaric|"
            r"pres|isotherm)[a-z_]*[0-9]*$"
        ),
        r"^(y|j|nlat|rlat|nj)$",
        r"^y?(nav_lat|lat|gphi)[a-z0-9]*$",
        r"^x?(nav_lon|lon|glam)[a-z0-9]*$",
        r"^(x|i|nlon|rlon|ni)$",
    ]
    return _PreloadAnd(
        [
            _PreloadOr([_PreloadNameMatches(r) for r in names]),
            _PreloadNumRefs._from_bounds(None, ("Included", 1000)),
        ]
    )


class ManifestPreloadConfig(Record):
    """Which manifests are preloaded when a session starts.

    Parameters
    ----------
    max_total_refs
        Maximum number of chunk references to preload in total (default 10,000).
    preload_if
        Condition a manifest must match to be preloaded (default: coordinate-like array names
        with at most 1000 references).
    """

    __slots__ = ("max_total_refs", "preload_if")
    _checks: ClassVar[dict[str, Any]] = {
        "max_total_refs": _u32,
        "preload_if": instance_of(ManifestPreloadCondition),
    }
    max_total_refs: int | None
    preload_if: ManifestPreloadCondition | None

    def __init__(
        self,
        max_total_refs: int | None = None,
        preload_if: ManifestPreloadCondition | None = None,
    ) -> None:
        self.max_total_refs = max_total_refs
        self.preload_if = preload_if


# --- manifest splitting -----------------------------------------------------------------------


class ManifestSplitCondition:
    """Which arrays a manifest splitting rule applies to.

    Build conditions with the static constructors (or ``ManifestSplitCondition.AnyArray()``) and
    combine them with ``&`` and ``|``. Conditions are hashable, for use as dict keys in
    :meth:`ManifestSplittingConfig.from_dict`.
    """

    __slots__ = ()
    Or: ClassVar[type[_SplitOr]]
    And: ClassVar[type[_SplitAnd]]
    PathMatches: ClassVar[type[_SplitPathMatches]]
    NameMatches: ClassVar[type[_SplitNameMatches]]
    AnyArray: ClassVar[type[_SplitAnyArray]]

    @staticmethod
    def or_conditions(conditions: list[ManifestSplitCondition]) -> ManifestSplitCondition:
        """A condition that matches if any of ``conditions`` matches."""
        return _SplitOr(conditions)

    @staticmethod
    def and_conditions(conditions: list[ManifestSplitCondition]) -> ManifestSplitCondition:
        """A condition that matches only if all of ``conditions`` match."""
        return _SplitAnd(conditions)

    @staticmethod
    def path_matches(regex: str) -> ManifestSplitCondition:
        """A condition that matches if the array's absolute path matches ``regex``."""
        return _SplitPathMatches(regex)

    @staticmethod
    def name_matches(regex: str) -> ManifestSplitCondition:
        """A condition that matches if the array's name matches ``regex``."""
        return _SplitNameMatches(regex)

    def __or__(self, other: ManifestSplitCondition) -> ManifestSplitCondition:
        """A condition that matches if this condition or ``other`` matches."""
        return _SplitOr([self, other])

    def __and__(self, other: ManifestSplitCondition) -> ManifestSplitCondition:
        """A condition that matches if both this condition and ``other`` match."""
        return _SplitAnd([self, other])

    def _matches(self, path: str) -> bool:
        """Whether the array at ``path`` matches."""
        raise NotImplementedError


class _SplitList(Variant, ManifestSplitCondition):
    __slots__ = ("_items",)
    _payload = ("_items",)
    __match_args__ = ("_0",)
    _items: tuple[ManifestSplitCondition, ...]

    def __init__(self, conditions: list[ManifestSplitCondition]) -> None:
        self._init(_items=_conditions(type(self).__qualname__, conditions, ManifestSplitCondition))

    @property
    def _0(self) -> list[ManifestSplitCondition]:
        return list(self._items)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (list(self._items),))

    def __repr__(self) -> str:
        return f"{type(self).__qualname__}({list(self._items)!r})"


class _SplitOr(_SplitList):
    """Matches if any of the conditions matches."""

    __slots__ = ()

    def _matches(self, path: str) -> bool:
        return any(c._matches(path) for c in self._items)


class _SplitAnd(_SplitList):
    """Matches if all of the conditions match."""

    __slots__ = ()

    def _matches(self, path: str) -> bool:
        return all(c._matches(path) for c in self._items)


class _SplitPathMatches(Variant, ManifestSplitCondition):
    """Matches if the array path matches the regex."""

    __slots__ = ("regex",)
    _payload = ("regex",)
    __match_args__ = ("regex",)
    regex: str

    def __init__(self, regex: str) -> None:
        self._init(regex=_regex("regex", regex))

    def _matches(self, path: str) -> bool:
        return re.search(self.regex, path) is not None


class _SplitNameMatches(_SplitPathMatches):
    """Matches if the array name matches the regex."""

    __slots__ = ()

    def _matches(self, path: str) -> bool:
        return re.search(self.regex, _path_name(path)) is not None


class _SplitAnyArray(Variant, ManifestSplitCondition):
    """Matches every array."""

    __slots__ = ()

    def __init__(self) -> None:
        pass

    def _matches(self, path: str) -> bool:
        return True


nest(ManifestSplitCondition, "Or", _SplitOr)
nest(ManifestSplitCondition, "And", _SplitAnd)
nest(ManifestSplitCondition, "PathMatches", _SplitPathMatches)
nest(ManifestSplitCondition, "NameMatches", _SplitNameMatches)
nest(ManifestSplitCondition, "AnyArray", _SplitAnyArray)


class ManifestSplitDimCondition:
    """Which dimension of an array a split size applies to: ``Axis(n)``, ``DimensionName(regex)``
    or ``Any()`` (every dimension not matched by an earlier entry)."""

    __slots__ = ()
    Axis: ClassVar[type[_DimAxis]]
    DimensionName: ClassVar[type[_DimName]]
    Any: ClassVar[type[_DimAny]]

    def _matches(self, axis: int, dimension_name: str | None) -> bool:
        """Whether dimension number ``axis`` named ``dimension_name`` matches."""
        raise NotImplementedError


class _DimAxis(Variant, ManifestSplitDimCondition):
    """Split along the given axis.

    Parameters
    ----------
    axis
        The axis number, from 0.
    """

    __slots__ = ("_0",)
    _payload = ("_0",)
    __match_args__ = ("_0",)
    _0: int

    def __init__(self, axis: int) -> None:
        self._init(_0=uint(64, optional=False)("axis", axis))

    def _matches(self, axis: int, dimension_name: str | None) -> bool:
        return axis == self._0


class _DimName(Variant, ManifestSplitDimCondition):
    """Split along dimensions whose name matches the regex.

    Parameters
    ----------
    regex
        Regular expression for the dimension name.
    """

    __slots__ = ("_0",)
    _payload = ("_0",)
    __match_args__ = ("_0",)
    _0: str

    def __init__(self, regex: str) -> None:
        self._init(_0=_regex("regex", regex))

    def _matches(self, axis: int, dimension_name: str | None) -> bool:
        return dimension_name is not None and re.search(self._0, dimension_name) is not None


class _DimAny(Variant, ManifestSplitDimCondition):
    """Split along any dimension not matched before."""

    __slots__ = ()

    def __init__(self) -> None:
        pass

    def _matches(self, axis: int, dimension_name: str | None) -> bool:
        return True


nest(ManifestSplitDimCondition, "Axis", _DimAxis)
nest(ManifestSplitDimCondition, "DimensionName", _DimName)
nest(ManifestSplitDimCondition, "Any", _DimAny)

AnyDimCondition: TypeAlias = _DimAxis | _DimName | _DimAny
SplitSizes: TypeAlias = tuple[
    tuple[ManifestSplitCondition, tuple[tuple[AnyDimCondition, int], ...]], ...
]


def _split_sizes(name: str, value: Any) -> tuple[Any, ...] | None:
    if value is None:
        return None
    if isinstance(value, Mapping) or not isinstance(value, Sequence) or isinstance(value, str):
        raise TypeError(
            f"{name} must be a sequence of (ManifestSplitCondition, ((dim condition, size), ...)) "
            f"pairs; use ManifestSplittingConfig.from_dict for a dict"
        )
    out = []
    for entry in value:
        try:
            cond, dims = entry
        except (TypeError, ValueError):
            raise TypeError(f"{name}: each entry must be a (condition, dims) pair, got {entry!r}")
        if not isinstance(cond, ManifestSplitCondition):
            raise TypeError(f"{name}: {cond!r} is not a ManifestSplitCondition")
        if isinstance(dims, Mapping):
            dims = list(dims.items())
        dim_out = []
        for d in dims:
            try:
                dim, size = d
            except (TypeError, ValueError):
                raise TypeError(
                    f"{name}: each dimension entry must be (condition, size), got {d!r}"
                )
            if not isinstance(dim, ManifestSplitDimCondition):
                raise TypeError(f"{name}: {dim!r} is not a ManifestSplitDimCondition")
            dim_out.append((dim, uint(32, optional=False)(f"{name} split size", size)))
        out.append((cond, tuple(dim_out)))
    return tuple(out)


class ManifestSplittingConfig(Record):
    """How manifests of large arrays are split into several manifest files.

    Parameters
    ----------
    split_sizes
        ``((condition, ((dim_condition, num_chunks), ...)), ...)``: for the first condition an
        array matches, the number of chunks per manifest along each matched dimension.

    Examples
    --------
    >>> ManifestSplittingConfig.from_dict(
    ...     {
    ...         ManifestSplitCondition.name_matches("temperature"): {
    ...             ManifestSplitDimCondition.DimensionName("longitude"): 3
    ...         }
    ...     }
    ... )  # doctest: +ELLIPSIS
    ManifestSplittingConfig(...)
    """

    __slots__ = ("_split_sizes",)
    _checks: ClassVar[dict[str, Any]] = {}
    _split_sizes: SplitSizes | None

    def __init__(self, split_sizes: SplitSizes | None = None) -> None:
        self.split_sizes = split_sizes  # type: ignore[assignment]

    @classmethod
    def _field_names(cls) -> tuple[str, ...]:
        return ("split_sizes",)

    @property
    def split_sizes(self) -> list[tuple[ManifestSplitCondition, list[tuple[AnyDimCondition, int]]]]:
        """The split sizes, as ``[(condition, [(dim_condition, num_chunks), ...]), ...]``."""
        raw = self._split_sizes
        if raw is None:
            return None  # type: ignore[return-value]
        return [(cond, list(dims)) for cond, dims in raw]

    @split_sizes.setter
    def split_sizes(self, value: SplitSizes | None) -> None:
        object.__setattr__(self, "_split_sizes", _split_sizes("split_sizes", value))

    @staticmethod
    def from_dict(
        split_sizes: Mapping[ManifestSplitCondition, Mapping[AnyDimCondition, int]],
    ) -> ManifestSplittingConfig:
        """Build the configuration from ``{condition: {dim_condition: num_chunks}}``.

        Parameters
        ----------
        split_sizes
            Conditions in priority order (dicts keep insertion order).

        Returns
        -------
        ManifestSplittingConfig
        """
        return ManifestSplittingConfig(tuple((k, tuple(v.items())) for k, v in split_sizes.items()))

    def to_dict(self) -> dict[ManifestSplitCondition, dict[AnyDimCondition, int]]:
        """The configuration as ``{condition: {dim_condition: num_chunks}}``.

        Returns
        -------
        dict
        """
        return {cond: dict(dims) for cond, dims in (self._split_sizes or ())}

    def __repr__(self) -> str:
        return f"ManifestSplittingConfig({self.split_sizes!r})"

    def _split_size(self, path: str, axis: int, dimension_name: str | None) -> int | None:
        """The number of chunks per manifest along one dimension of the array at ``path``.

        The first condition the array matches decides; within it, the first dimension entry
        matching the dimension. None means no splitting along that dimension.
        """
        for cond, dims in self._split_sizes or ():
            if cond._matches(path):
                for dim, size in dims:
                    if dim._matches(axis, dimension_name):
                        return cast(int, size)
                return None
        return None


class ManifestConfig(Record):
    """Manifest loading and splitting.

    Parameters
    ----------
    preload
        Which manifests are preloaded when a session starts.
    splitting
        How manifests are split.
    """

    __slots__ = ("preload", "splitting")
    _checks: ClassVar[dict[str, Any]] = {
        "preload": instance_of(ManifestPreloadConfig),
        "splitting": instance_of(ManifestSplittingConfig),
    }
    preload: ManifestPreloadConfig | None
    splitting: ManifestSplittingConfig | None

    def __init__(
        self,
        preload: ManifestPreloadConfig | None = None,
        splitting: ManifestSplittingConfig | None = None,
    ) -> None:
        self.preload = preload
        self.splitting = splitting


# --- object stores ----------------------------------------------------------------------------


class S3Options(Record):
    """Options for an S3 or S3-compatible object store.

    Parameters
    ----------
    region
        The region; None uses the store's default.
    endpoint_url
        Custom endpoint, for example ``http://localhost:9000``.
    allow_http
        Allow plain HTTP.
    anonymous
        Do not sign requests.
    force_path_style
        Use path-style bucket addressing.
    network_stream_timeout_seconds
        Fail a request when no bytes move for this long; 0 disables (None: 60 s).
    requester_pays
        Enable requester-pays buckets.
    """

    __slots__ = (
        "allow_http",
        "anonymous",
        "endpoint_url",
        "force_path_style",
        "network_stream_timeout_seconds",
        "region",
        "requester_pays",
    )
    _checks: ClassVar[dict[str, Any]] = {
        "region": opt_str,
        "endpoint_url": opt_str,
        "allow_http": req_bool,
        "anonymous": req_bool,
        "force_path_style": req_bool,
        "network_stream_timeout_seconds": _u32,
        "requester_pays": req_bool,
    }
    region: str | None
    endpoint_url: str | None
    allow_http: bool
    anonymous: bool
    force_path_style: bool
    network_stream_timeout_seconds: int | None
    requester_pays: bool

    def __init__(
        self,
        region: str | None = None,
        endpoint_url: str | None = None,
        allow_http: bool = False,
        anonymous: bool = False,
        force_path_style: bool = False,
        network_stream_timeout_seconds: int | None = None,
        requester_pays: bool = False,
    ) -> None:
        self.region = region
        self.endpoint_url = endpoint_url
        self.allow_http = allow_http
        self.anonymous = anonymous
        self.force_path_style = force_path_style
        self.network_stream_timeout_seconds = network_stream_timeout_seconds
        self.requester_pays = requester_pays

    def _copy(self) -> S3Options:
        return S3Options(**self.__getstate__())


class ObjectStoreConfig:
    """Where virtual chunks of a container are read from: one of ``InMemory``,
    ``LocalFileSystem``, ``S3``, ``S3Compatible``, ``Gcs``, ``Azure``, ``Tigris``, ``Http``."""

    __slots__ = ()
    InMemory: ClassVar[type[_StoreInMemory]]
    LocalFileSystem: ClassVar[type[_StoreLocal]]
    S3Compatible: ClassVar[type[_StoreS3Compatible]]
    S3: ClassVar[type[_StoreS3]]
    Gcs: ClassVar[type[_StoreGcs]]
    Azure: ClassVar[type[_StoreAzure]]
    Tigris: ClassVar[type[_StoreTigris]]
    Http: ClassVar[type[_StoreHttp]]
    _schemes: ClassVar[tuple[str, ...]] = ()
    _yaml_tag: ClassVar[str] = ""


class _StoreInMemory(Variant, ObjectStoreConfig):
    """An in-memory store (tests only; no URL scheme reaches it)."""

    __slots__ = ()
    _yaml_tag = "in_memory"

    def __init__(self) -> None:
        pass


class _StoreLocal(Variant, ObjectStoreConfig):
    """The local file system (``file://`` URLs).

    Parameters
    ----------
    path
        The root directory.
    """

    __slots__ = ("_path",)
    _payload = ("_path",)
    __match_args__ = ("_0",)
    _schemes = ("file",)
    _yaml_tag = "local_file_system"
    _path: str

    def __init__(self, path: str) -> None:
        p = os.fspath(path) if isinstance(path, os.PathLike) else req_str("path", path)
        self._init(_path=p)

    @property
    def _0(self) -> pathlib.Path:
        """The root directory (a :class:`pathlib.Path`, as upstream returns)."""
        return pathlib.Path(self._path)


class _StoreS3Base(Variant, ObjectStoreConfig):
    __slots__ = ("_options",)
    _payload = ("_options",)
    __match_args__ = ("_0",)
    _options: S3Options

    def __init__(self, options: S3Options) -> None:
        opts = instance_of(S3Options, optional=False)("options", options)
        self._init(_options=opts._copy())

    @property
    def _0(self) -> S3Options:
        return self._options._copy()

    def __hash__(self) -> int:
        return hash((type(self).__qualname__, tuple(self._options.__getstate__().items())))

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self._options,))


class _StoreS3(_StoreS3Base):
    """Amazon S3 (``s3://`` URLs).

    Parameters
    ----------
    options
        The S3 options.
    """

    __slots__ = ()
    _schemes = ("s3",)
    _yaml_tag = "s3"


class _StoreS3Compatible(_StoreS3Base):
    """An S3-compatible store such as MinIO (``s3://`` URLs).

    Parameters
    ----------
    options
        The S3 options (usually with ``endpoint_url``).
    """

    __slots__ = ()
    _schemes = ("s3",)
    _yaml_tag = "s3_compatible"


class _StoreTigris(_StoreS3Base):
    """Tigris (``tigris://`` or ``s3://`` URLs).

    Parameters
    ----------
    opts
        The S3 options.
    """

    __slots__ = ()
    _schemes = ("tigris", "s3")
    _yaml_tag = "tigris"

    def __init__(self, opts: S3Options) -> None:
        super().__init__(opts)


class _StoreMap(Variant, ObjectStoreConfig):
    __slots__ = ("_opts",)
    _payload = ("_opts",)
    __match_args__ = ("_0",)
    _opts: dict[str, str]

    def __init__(self, opts: Mapping[str, str] | None = None) -> None:
        self._init(_opts=str_map("opts", opts))

    @property
    def _0(self) -> dict[str, str]:
        return dict(self._opts)


class _StoreGcs(_StoreMap):
    """Google Cloud Storage (``gs://`` or ``gcs://`` URLs).

    Parameters
    ----------
    opts
        object_store GCS configuration keys.
    """

    __slots__ = ()
    _schemes = ("gs", "gcs")
    _yaml_tag = "gcs"


class _StoreAzure(_StoreMap):
    """Azure Blob Storage (``az://``, ``azure://`` or ``abfs://`` URLs).

    Parameters
    ----------
    opts
        object_store Azure configuration keys; ``account`` names the storage account.
    """

    __slots__ = ()
    _schemes = ("az", "azure", "abfs")
    _yaml_tag = "azure"


class _StoreHttp(_StoreMap):
    """HTTP(S) servers (``http://`` or ``https://`` URLs).

    Parameters
    ----------
    opts
        object_store client configuration keys (for example ``timeout``).
    """

    __slots__ = ()
    _schemes = ("http", "https")
    _yaml_tag = "http"


nest(ObjectStoreConfig, "InMemory", _StoreInMemory)
nest(ObjectStoreConfig, "LocalFileSystem", _StoreLocal)
nest(ObjectStoreConfig, "S3Compatible", _StoreS3Compatible)
nest(ObjectStoreConfig, "S3", _StoreS3)
nest(ObjectStoreConfig, "Gcs", _StoreGcs)
nest(ObjectStoreConfig, "Azure", _StoreAzure)
nest(ObjectStoreConfig, "Tigris", _StoreTigris)
nest(ObjectStoreConfig, "Http", _StoreHttp)

AnyObjectStoreConfig: TypeAlias = (
    _StoreInMemory
    | _StoreLocal
    | _StoreS3
    | _StoreS3Compatible
    | _StoreGcs
    | _StoreAzure
    | _StoreTigris
    | _StoreHttp
)

_STORE_TAGS: dict[str, type[ObjectStoreConfig]] = {
    c._yaml_tag: c
    for c in (
        _StoreInMemory,
        _StoreLocal,
        _StoreS3,
        _StoreS3Compatible,
        _StoreGcs,
        _StoreAzure,
        _StoreTigris,
        _StoreHttp,
    )
}


def http_store(opts: dict[str, str] | None = None) -> _StoreHttp:
    """Build an :class:`ObjectStoreConfig` for HTTP(S) servers.

    Parameters
    ----------
    opts
        object_store client options in snake case (for example ``{"timeout": "30s"}``).

    Returns
    -------
    ObjectStoreConfig.Http
    """
    return _StoreHttp(opts)


def local_filesystem_store(path: str) -> _StoreLocal:
    """Build an :class:`ObjectStoreConfig` for local files.

    Parameters
    ----------
    path
        The root directory.

    Returns
    -------
    ObjectStoreConfig.LocalFileSystem
    """
    return _StoreLocal(path)


def s3_store(
    region: str | None = None,
    endpoint_url: str | None = None,
    allow_http: bool = False,
    anonymous: bool = False,
    s3_compatible: bool = False,
    force_path_style: bool = False,
    network_stream_timeout_seconds: int = DEFAULT_S3_NETWORK_STREAM_TIMEOUT_SECONDS,
    requester_pays: bool = False,
) -> _StoreS3Compatible | _StoreS3:
    """Build an :class:`ObjectStoreConfig` for S3 or an S3-compatible store.

    Parameters
    ----------
    region, endpoint_url, allow_http, anonymous, force_path_style,
    network_stream_timeout_seconds, requester_pays
        See :class:`S3Options`.
    s3_compatible
        Return ``ObjectStoreConfig.S3Compatible`` instead of ``ObjectStoreConfig.S3``.

    Returns
    -------
    ObjectStoreConfig.S3 | ObjectStoreConfig.S3Compatible
    """
    options = S3Options(
        region=region,
        endpoint_url=endpoint_url,
        allow_http=allow_http,
        anonymous=anonymous,
        force_path_style=force_path_style,
        network_stream_timeout_seconds=network_stream_timeout_seconds,
        requester_pays=requester_pays,
    )
    return _StoreS3Compatible(options) if s3_compatible else _StoreS3(options)


def gcs_store(opts: dict[str, str] | None = None) -> _StoreGcs:
    """Build an :class:`ObjectStoreConfig` for Google Cloud Storage.

    Parameters
    ----------
    opts
        object_store GCS configuration keys.

    Returns
    -------
    ObjectStoreConfig.Gcs
    """
    return _StoreGcs(opts)


def azure_store(*, account: str, config: dict[str, str] | None = None) -> _StoreAzure:
    """Build an :class:`ObjectStoreConfig` for Azure Blob Storage.

    Parameters
    ----------
    account
        The storage account.
    config
        More object_store Azure configuration keys.

    Returns
    -------
    ObjectStoreConfig.Azure
    """
    return _StoreAzure({"account": req_str("account", account), **(config or {})})


# --- virtual chunks ---------------------------------------------------------------------------


class VirtualChunkContainer(Record):
    """A source of virtual chunks: URLs starting with ``url_prefix`` are read from ``store``.

    Parameters
    ----------
    url_prefix
        The prefix of the chunk URLs this container serves; it must end with ``/``.
    store
        The object store configuration to read them with (``store_config=`` is accepted too,
        as the user's reference writes it).

    Attributes
    ----------
    name
        Optional name (kept for compatibility with older configurations).
    url_prefix, store
        As the parameters; settable.
    """

    __slots__ = ("name", "store", "url_prefix")
    _checks: ClassVar[dict[str, Any]] = {
        "name": opt_str,
        "url_prefix": req_str,
        "store": instance_of(ObjectStoreConfig, optional=False),
    }
    name: str | None
    url_prefix: str
    store: AnyObjectStoreConfig

    def __init__(
        self,
        url_prefix: str,
        store: AnyObjectStoreConfig | None = None,
        *,
        store_config: AnyObjectStoreConfig | None = None,
    ) -> None:
        if (store is None) == (store_config is None):
            raise TypeError("VirtualChunkContainer needs exactly one of store= or store_config=")
        self.name = None
        self.url_prefix = url_prefix
        self.store = store if store is not None else store_config  # type: ignore[assignment]

    def _stored_copy(self) -> VirtualChunkContainer:
        """The copy a configuration keeps: like upstream 1.1, later changes to this object
        don't reach the configuration, and the vestigial ``name`` is not kept."""
        return VirtualChunkContainer(self.url_prefix, self.store)

    def _validate(self) -> None:
        """Check the url prefix is a URL the store type can serve.

        Raises
        ------
        ConfigError
            With upstream's wording, when the prefix doesn't end in ``/``, is not an absolute
            URL, has a scheme the store doesn't serve, or lacks a bucket or path.
        """
        prefix = self.url_prefix
        if not prefix.endswith("/"):
            raise ConfigError("VirtualChunkContainer url_prefix must end in a / character")
        parts = urlsplit(prefix)
        if not parts.scheme or not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", prefix):
            raise ConfigError(
                f"VirtualChunkContainer url_prefix {prefix!r} is not an absolute URL "
                "(relative URL without a base)"
            )
        scheme = parts.scheme.lower()
        store = self.store
        if scheme not in store._schemes:
            raise ConfigError(
                f"Invalid url prefix scheme ({scheme}) for this object store config: "
                f"({_store_debug(store)})"
            )
        if isinstance(store, _StoreLocal):
            if not parts.netloc and parts.path in ("", "/"):
                raise ConfigError("Url prefix for file:// containers must include a path")
        elif isinstance(store, _StoreHttp):
            if not parts.hostname:
                raise ConfigError(f"VirtualChunkContainer url_prefix {prefix!r}: empty host")
        elif not parts.netloc:
            kind = {"gs": "GCS", "gcs": "GCS"}.get(scheme, f"{scheme}://")
            raise ConfigError(f"Url prefix for {kind} containers must include a host")


def _store_debug(store: ObjectStoreConfig) -> str:
    name = type(store).__name__
    if isinstance(store, _StoreS3Base):
        return f"{name}({store._options!r})"
    if isinstance(store, _StoreMap):
        return f"{name}({store._opts!r})"
    if isinstance(store, _StoreLocal):
        return f"{name}({store._path!r})"
    return name


class VirtualChunkSpec(Variant):
    """A virtual chunk reference to write with ``store.set_virtual_refs``.

    Parameters
    ----------
    index
        The chunk index, in chunk coordinates.
    location
        URL of the containing object, like ``s3://bucket/foo.nc``.
    offset
        Byte offset of the chunk within the object.
    length
        Length of the chunk in bytes.
    etag_checksum
        Optional ETag of the object; reads fail if it has changed.
    last_updated_at_checksum
        Optional time; reads fail if the object was modified after it.
    """

    __slots__ = (
        "_index",
        "etag_checksum",
        "last_updated_at_checksum",
        "length",
        "location",
        "offset",
    )
    _payload = (
        "_index",
        "location",
        "offset",
        "length",
        "etag_checksum",
        "last_updated_at_checksum",
    )
    _index: tuple[int, ...]
    location: str
    offset: int
    length: int
    etag_checksum: str | None
    last_updated_at_checksum: datetime.datetime | None

    def __init__(
        self,
        index: list[int],
        location: str,
        offset: int,
        length: int,
        etag_checksum: str | None = None,
        last_updated_at_checksum: datetime.datetime | None = None,
    ) -> None:
        if isinstance(index, str | bytes) or not isinstance(index, Sequence):
            raise TypeError(f"index must be a list of int, got {index!r}")
        idx = tuple(cast(int, uint(32, optional=False)("index", i)) for i in index)
        self._init(
            _index=idx,
            location=req_str("location", location),
            offset=uint(64, optional=False)("offset", offset),
            length=uint(64, optional=False)("length", length),
            etag_checksum=opt_str("etag_checksum", etag_checksum),
            last_updated_at_checksum=opt_datetime(
                "last_updated_at_checksum", last_updated_at_checksum
            ),
        )

    @property
    def index(self) -> list[int]:
        """The chunk index, in chunk coordinates."""
        return list(self._index)

    def __reduce__(self) -> tuple[Any, ...]:
        return (VirtualChunkSpec, (list(self._index), *self._values()[1:]))

    def __repr__(self) -> str:
        return (
            f"VirtualChunkSpec(index={list(self._index)!r}, location={self.location!r}, "
            f"offset={self.offset}, length={self.length}, etag_checksum={self.etag_checksum!r}, "
            f"last_updated_at_checksum={self.last_updated_at_checksum!r})"
        )


# --- repository config ------------------------------------------------------------------------


def _vcc_map(name: str, value: Any) -> dict[str, VirtualChunkContainer] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a dict of url prefix to VirtualChunkContainer")
    out: dict[str, VirtualChunkContainer] = {}
    for k, v in value.items():
        if not isinstance(k, str) or not isinstance(v, VirtualChunkContainer):
            raise TypeError(f"{name} must map str to VirtualChunkContainer, got {k!r}: {v!r}")
        out[k] = v._stored_copy()
    return out


def _merge_record(mine: Record | None, theirs: Record | None) -> Any:
    """Upstream's merge: fields set in ``theirs`` win, nested records merge recursively."""
    if theirs is None:
        return _copy_record(mine)
    if mine is None:
        return _copy_record(theirs)
    out = _copy_record(mine)
    for f in type(mine)._field_names():
        a, b = getattr(mine, f), getattr(theirs, f)
        if isinstance(a, Record) and isinstance(b, Record) and f not in ("preload", "splitting"):
            setattr(out, f, _merge_record(a, b))
        elif b is not None:
            setattr(out, f, _copy_record(b) if isinstance(b, Record) else b)
    return out


def _copy_record(value: Any) -> Any:
    if isinstance(value, Record):
        import copy

        return copy.deepcopy(value)
    return value


class RepositoryConfig(Record):
    """Configuration of an Icechunk repository.

    Every field is optional; ``None`` means the built-in default. A configuration given when
    opening a repository is merged over the one saved in it (see :meth:`merge`).

    Parameters
    ----------
    inline_chunk_threshold_bytes
        Chunks up to this size are stored inline in the manifest (default 512).
    get_partial_values_concurrency
        Concurrent requests for ``get_partial_values`` (default 10).
    compression
        Metadata compression.
    max_concurrent_requests
        Maximum concurrent requests for the repository (default 256).
    caching
        In-memory cache sizes.
    storage
        Storage backend settings.
    virtual_chunk_containers
        Virtual chunk containers by url prefix (prefer :meth:`set_virtual_chunk_container`).
    manifest
        Manifest preload and splitting.
    """

    __slots__ = (
        "_virtual_chunk_containers",
        "caching",
        "compression",
        "get_partial_values_concurrency",
        "inline_chunk_threshold_bytes",
        "manifest",
        "max_concurrent_requests",
        "storage",
    )
    _checks: ClassVar[dict[str, Any]] = {
        "inline_chunk_threshold_bytes": _u16,
        "get_partial_values_concurrency": _u16,
        "compression": instance_of(CompressionConfig),
        "max_concurrent_requests": _u16,
        "caching": instance_of(CachingConfig),
        "storage": instance_of(StorageSettings),
        "manifest": instance_of(ManifestConfig),
    }
    inline_chunk_threshold_bytes: int | None
    get_partial_values_concurrency: int | None
    compression: CompressionConfig | None
    max_concurrent_requests: int | None
    caching: CachingConfig | None
    storage: StorageSettings | None
    manifest: ManifestConfig | None
    _virtual_chunk_containers: dict[str, VirtualChunkContainer] | None

    def __init__(
        self,
        inline_chunk_threshold_bytes: int | None = None,
        get_partial_values_concurrency: int | None = None,
        compression: CompressionConfig | None = None,
        max_concurrent_requests: int | None = None,
        caching: CachingConfig | None = None,
        storage: StorageSettings | None = None,
        virtual_chunk_containers: dict[str, VirtualChunkContainer] | None = None,
        manifest: ManifestConfig | None = None,
    ) -> None:
        self.inline_chunk_threshold_bytes = inline_chunk_threshold_bytes
        self.get_partial_values_concurrency = get_partial_values_concurrency
        self.compression = compression
        self.max_concurrent_requests = max_concurrent_requests
        self.caching = caching
        self.storage = storage
        self._virtual_chunk_containers = _vcc_map(
            "virtual_chunk_containers", virtual_chunk_containers
        )
        self.manifest = manifest

    @classmethod
    def _field_names(cls) -> tuple[str, ...]:
        return (
            "inline_chunk_threshold_bytes",
            "get_partial_values_concurrency",
            "compression",
            "max_concurrent_requests",
            "caching",
            "storage",
            "virtual_chunk_containers",
            "manifest",
        )

    @staticmethod
    def default() -> RepositoryConfig:
        """A default configuration (every field unset).

        Returns
        -------
        RepositoryConfig
        """
        return RepositoryConfig()

    @property
    def virtual_chunk_containers(self) -> dict[str, VirtualChunkContainer] | None:
        """The virtual chunk containers by url prefix (a copy), or None if never set."""
        vccs = self._virtual_chunk_containers
        return None if vccs is None else dict(vccs)

    def get_virtual_chunk_container(self, name: str) -> VirtualChunkContainer | None:
        """The virtual chunk container registered under ``name`` (its url prefix), if any.

        Parameters
        ----------
        name
            The url prefix the container was set with.

        Returns
        -------
        VirtualChunkContainer | None
        """
        return (self._virtual_chunk_containers or {}).get(name)

    def set_virtual_chunk_container(self, cont: VirtualChunkContainer) -> None:
        """Add a virtual chunk container, replacing any with the same url prefix.

        Parameters
        ----------
        cont
            The container to add.

        Raises
        ------
        ConfigError
            The url prefix does not end in ``/``, is not a URL, or its scheme does not fit the
            container's store type.
        """
        if not isinstance(cont, VirtualChunkContainer):
            raise TypeError(f"expected a VirtualChunkContainer, got {type(cont).__name__}")
        cont._validate()
        vccs = dict(self._virtual_chunk_containers or {})
        vccs[cont.url_prefix] = cont._stored_copy()
        self._virtual_chunk_containers = vccs

    def clear_virtual_chunk_containers(self) -> None:
        """Remove all virtual chunk containers."""
        self._virtual_chunk_containers = {}

    def merge(self, other: RepositoryConfig) -> RepositoryConfig:
        """Merge ``other`` over this configuration, returning a new one.

        Fields set in ``other`` win; ``compression``, ``caching`` and ``storage`` merge field by
        field; in ``manifest``, ``preload`` and ``splitting`` are replaced whole; virtual chunk
        containers set in ``other`` replace this configuration's.

        Parameters
        ----------
        other
            The configuration that takes precedence.

        Returns
        -------
        RepositoryConfig
        """
        if not isinstance(other, RepositoryConfig):
            raise TypeError(f"expected a RepositoryConfig, got {type(other).__name__}")
        out = RepositoryConfig()
        for f in (
            "inline_chunk_threshold_bytes",
            "get_partial_values_concurrency",
            "compression",
            "max_concurrent_requests",
            "caching",
            "storage",
            "manifest",
        ):
            a, b = getattr(self, f), getattr(other, f)
            if isinstance(a, Record) or isinstance(b, Record):
                setattr(out, f, _merge_record(a, b))
            else:
                setattr(out, f, b if b is not None else a)
        theirs = other._virtual_chunk_containers
        mine = self._virtual_chunk_containers
        chosen = theirs if theirs is not None else mine
        out._virtual_chunk_containers = None if chosen is None else dict(chosen)
        return out

    def __repr__(self) -> str:
        return _upstream_repr(
            self,
            (
                "inline_chunk_threshold_bytes",
                "get_partial_values_concurrency",
                "compression",
                "caching",
                "storage",
                "manifest",
            ),
        )

    # --- effective values for the engine --------------------------------------------------

    def _with_defaults(self) -> RepositoryConfig:
        """A copy with every unset value replaced by upstream's built-in default.

        ``manifest.splitting`` stays None (no splitting) and storage classes stay None
        (store default) when unset; ``metadata_storage_class`` and ``chunks_storage_class``
        fall back to ``storage_class``.
        """
        eff = RepositoryConfig().merge(self)
        eff.inline_chunk_threshold_bytes = self._effective_inline_chunk_threshold()
        if eff.get_partial_values_concurrency is None:
            eff.get_partial_values_concurrency = DEFAULT_GET_PARTIAL_VALUES_CONCURRENCY
        if eff.max_concurrent_requests is None:
            eff.max_concurrent_requests = DEFAULT_MAX_CONCURRENT_REQUESTS
        comp = eff.compression or CompressionConfig()
        eff.compression = CompressionConfig(
            comp.algorithm or CompressionAlgorithm.Zstd,
            DEFAULT_COMPRESSION_LEVEL if comp.level is None else comp.level,
        )
        c = eff.caching or CachingConfig()
        eff.caching = CachingConfig(
            _or(c.num_snapshot_nodes, DEFAULT_NUM_SNAPSHOT_NODES),
            _or(c.num_chunk_refs, DEFAULT_NUM_CHUNK_REFS),
            _or(c.num_transaction_changes, DEFAULT_NUM_TRANSACTION_CHANGES),
            _or(c.num_bytes_attributes, DEFAULT_NUM_BYTES_ATTRIBUTES),
            _or(c.num_bytes_chunks, DEFAULT_NUM_BYTES_CHUNKS),
        )
        s = eff.storage or StorageSettings()
        conc = s.concurrency or StorageConcurrencySettings()
        ret = s.retries or StorageRetriesSettings()
        eff.storage = StorageSettings(
            concurrency=StorageConcurrencySettings(
                _or(
                    conc.max_concurrent_requests_for_object,
                    DEFAULT_MAX_CONCURRENT_REQUESTS_FOR_OBJECT,
                ),
                _or(conc.ideal_concurrent_request_size, DEFAULT_IDEAL_CONCURRENT_REQUEST_SIZE),
            ),
            retries=ret._with_defaults(),
            unsafe_use_conditional_create=_or(s.unsafe_use_conditional_create, True),
            unsafe_use_conditional_update=_or(s.unsafe_use_conditional_update, True),
            unsafe_use_metadata=_or(s.unsafe_use_metadata, True),
            storage_class=s.storage_class,
            metadata_storage_class=_or(s.metadata_storage_class, s.storage_class),
            chunks_storage_class=_or(s.chunks_storage_class, s.storage_class),
            minimum_size_for_multipart_upload=_or(
                s.minimum_size_for_multipart_upload, DEFAULT_MINIMUM_SIZE_FOR_MULTIPART_UPLOAD
            ),
        )
        m = eff.manifest or ManifestConfig()
        p = m.preload or ManifestPreloadConfig()
        eff.manifest = ManifestConfig(
            preload=ManifestPreloadConfig(
                _or(p.max_total_refs, DEFAULT_MANIFEST_PRELOAD_MAX_TOTAL_REFS),
                p.preload_if if p.preload_if is not None else default_preload_condition(),
            ),
            splitting=m.splitting,
        )
        if eff._virtual_chunk_containers is None:
            eff._virtual_chunk_containers = {}
        return eff

    def _effective_inline_chunk_threshold(self) -> int:
        """The inline threshold in bytes (512 when unset)."""
        v = self.inline_chunk_threshold_bytes
        return DEFAULT_INLINE_CHUNK_THRESHOLD_BYTES if v is None else v

    def _effective_compression_level(self) -> int:
        """The zstd level for metadata files (3 when unset)."""
        c = self.compression
        return DEFAULT_COMPRESSION_LEVEL if c is None or c.level is None else c.level


def _or(value: Any, default: Any) -> Any:
    return default if value is None else value


# --- YAML -------------------------------------------------------------------------------------


class _Tagged:
    """A YAML node with an explicit local tag (``!name value``): a Rust enum variant."""

    __slots__ = ("tag", "value")

    def __init__(self, tag: str, value: Any) -> None:
        self.tag = tag
        self.value = value

    def __repr__(self) -> str:
        return f"!{self.tag} {self.value!r}"


class _Dumper(yaml.SafeDumper):
    """SafeDumper that writes tagged scalars plain (``!Included 1``), as serde_yaml does."""

    def choose_scalar_style(self) -> str:
        ev = self.event
        if (
            isinstance(ev, yaml.ScalarEvent)
            and ev.style is None
            and ev.tag is not None
            and ev.tag.startswith("!")
            and not ev.tag.startswith("!!")
        ):
            me: Any = self
            if me.analysis is None:
                me.analysis = me.analyze_scalar(ev.value)
            a: Any = me.analysis
            if (
                not a.empty
                and not a.multiline
                and (a.allow_flow_plain if self.flow_level else a.allow_block_plain)
            ):
                return ""
        return cast(str, super().choose_scalar_style())


_STR_TAG = "tag:yaml.org,2002:str"


def _represent_tagged(dumper: yaml.SafeDumper, data: _Tagged) -> yaml.Node:
    tag = "!" + data.tag
    value = data.value
    if isinstance(value, dict):
        return dumper.represent_mapping(tag, value)
    if isinstance(value, list):
        return dumper.represent_sequence(tag, value)
    text = str(value)
    style = None
    if isinstance(value, str) and dumper.resolve(yaml.ScalarNode, text, (True, False)) != _STR_TAG:
        style = "'"  # a string that would read back as a number, bool or null
    return dumper.represent_scalar(tag, text, style=style)


_Dumper.add_representer(_Tagged, _represent_tagged)


class _Loader(yaml.SafeLoader):
    pass


def _construct_tagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> _Tagged:
    if isinstance(node, yaml.ScalarNode):
        if node.value == "" and node.style is None:
            return _Tagged(suffix, None)
        if node.style in (None, ""):  # plain: resolve like an untagged scalar
            tag = loader.resolve(yaml.ScalarNode, node.value, (True, False))
        else:  # quoted: a string
            tag = _STR_TAG
        plain = yaml.ScalarNode(tag, node.value, node.start_mark, node.end_mark, node.style)
        return _Tagged(suffix, loader.construct_object(plain, deep=True))
    if isinstance(node, yaml.MappingNode):
        return _Tagged(suffix, loader.construct_mapping(node, deep=True))
    assert isinstance(node, yaml.SequenceNode)
    return _Tagged(suffix, loader.construct_sequence(node, deep=True))


_Loader.add_multi_constructor("!", _construct_tagged)


def _bound_to_yaml(b: Bound) -> Any:
    return "Unbounded" if b is None else _Tagged(b[0], b[1])


def _preload_to_yaml(c: ManifestPreloadCondition) -> Any:
    if isinstance(c, _PreloadOr):
        return _Tagged("or", [_preload_to_yaml(x) for x in c._items])
    if isinstance(c, _PreloadAnd):
        return _Tagged("and", [_preload_to_yaml(x) for x in c._items])
    if isinstance(c, _PreloadNameMatches):
        return _Tagged("name_matches", {"regex": c.regex})
    if isinstance(c, _PreloadPathMatches):
        return _Tagged("path_matches", {"regex": c.regex})
    if isinstance(c, _PreloadNumRefs):
        return _Tagged("num_refs", {"from": _bound_to_yaml(c._lo), "to": _bound_to_yaml(c._hi)})
    if isinstance(c, _PreloadTrue):
        return "true"
    if isinstance(c, _PreloadFalse):
        return "false"
    raise TypeError(f"not a ManifestPreloadCondition: {c!r}")


def _split_to_yaml(c: ManifestSplitCondition) -> Any:
    if isinstance(c, _SplitOr):
        return _Tagged("or", [_split_to_yaml(x) for x in c._items])
    if isinstance(c, _SplitAnd):
        return _Tagged("and", [_split_to_yaml(x) for x in c._items])
    if isinstance(c, _SplitNameMatches):
        return _Tagged("name_matches", {"regex": c.regex})
    if isinstance(c, _SplitPathMatches):
        return _Tagged("path_matches", {"regex": c.regex})
    if isinstance(c, _SplitAnyArray):
        return "any_array"
    raise TypeError(f"not a ManifestSplitCondition: {c!r}")


def _dim_to_yaml(d: ManifestSplitDimCondition) -> Any:
    if isinstance(d, _DimAxis):
        return _Tagged("Axis", d._0)
    if isinstance(d, _DimName):
        return _Tagged("DimensionName", d._0)
    if isinstance(d, _DimAny):
        return "Any"
    raise TypeError(f"not a ManifestSplitDimCondition: {d!r}")


def _s3_options_to_yaml(o: S3Options) -> dict[str, Any]:
    return {
        "region": o.region,
        "endpoint_url": o.endpoint_url,
        "anonymous": o.anonymous,
        "allow_http": o.allow_http,
        "force_path_style": o.force_path_style,
        "network_stream_timeout_seconds": o.network_stream_timeout_seconds,
        "requester_pays": o.requester_pays,
    }


def _store_to_yaml(s: ObjectStoreConfig) -> Any:
    if isinstance(s, _StoreInMemory):
        return "in_memory"
    if isinstance(s, _StoreLocal):
        return _Tagged("local_file_system", s._path)
    if isinstance(s, _StoreS3Base):
        return _Tagged(s._yaml_tag, _s3_options_to_yaml(s._options))
    if isinstance(s, _StoreMap):
        return _Tagged(s._yaml_tag, dict(s._opts))
    raise TypeError(f"not an ObjectStoreConfig: {s!r}")


def _record_to_yaml(r: Record | None, order: Sequence[str]) -> dict[str, Any] | None:
    if r is None:
        return None
    return {f: getattr(r, f) for f in order}


def _config_to_tree(cfg: RepositoryConfig) -> dict[str, Any]:
    comp = cfg.compression
    storage = cfg.storage
    manifest = cfg.manifest
    vccs = cfg._virtual_chunk_containers
    tree: dict[str, Any] = {
        "inline_chunk_threshold_bytes": cfg.inline_chunk_threshold_bytes,
        "get_partial_values_concurrency": cfg.get_partial_values_concurrency,
        "compression": None
        if comp is None
        else {
            "algorithm": None if comp.algorithm is None else comp.algorithm.name.lower(),
            "level": comp.level,
        },
        "max_concurrent_requests": cfg.max_concurrent_requests,
        "caching": _record_to_yaml(cfg.caching, CachingConfig._field_names()),
        "storage": None
        if storage is None
        else {
            "concurrency": _record_to_yaml(
                storage.concurrency, StorageConcurrencySettings._field_names()
            ),
            "retries": _record_to_yaml(storage.retries, StorageRetriesSettings._field_names()),
            "unsafe_use_conditional_update": storage.unsafe_use_conditional_update,
            "unsafe_use_conditional_create": storage.unsafe_use_conditional_create,
            "unsafe_use_metadata": storage.unsafe_use_metadata,
            "storage_class": storage.storage_class,
            "metadata_storage_class": storage.metadata_storage_class,
            "chunks_storage_class": storage.chunks_storage_class,
            "minimum_size_for_multipart_upload": storage.minimum_size_for_multipart_upload,
        },
        "virtual_chunk_containers": None
        if vccs is None
        else {
            key: {"name": v.name, "url_prefix": v.url_prefix, "store": _store_to_yaml(v.store)}
            for key, v in vccs.items()
        },
        "manifest": None,
    }
    if manifest is not None:
        pre = manifest.preload
        spl = manifest.splitting
        tree["manifest"] = {
            "preload": None
            if pre is None
            else {
                "max_total_refs": pre.max_total_refs,
                "preload_if": None if pre.preload_if is None else _preload_to_yaml(pre.preload_if),
            },
            "splitting": None
            if spl is None
            else {
                "split_sizes": None
                if spl._split_sizes is None
                else [
                    [
                        _split_to_yaml(cond),
                        [{"condition": _dim_to_yaml(d), "num_chunks": n} for d, n in dims],
                    ]
                    for cond, dims in spl._split_sizes
                ]
            },
        }
    return tree


def config_to_yaml(cfg: RepositoryConfig) -> bytes:
    """Serialize a configuration as upstream's ``config.yaml``.

    Parameters
    ----------
    cfg
        The configuration.

    Returns
    -------
    bytes
        UTF-8 YAML in upstream's layout (every field present, unset ones ``null``).
    """
    if not isinstance(cfg, RepositoryConfig):
        raise TypeError(f"expected a RepositoryConfig, got {type(cfg).__name__}")
    text = yaml.dump(
        _config_to_tree(cfg),
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=1 << 30,
    )
    return text.encode("utf-8")


class _Bad(Exception):
    """A value in config.yaml is invalid; carries the path to it."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")


def _variant(where: str, value: Any) -> tuple[str, Any]:
    """(variant name, payload) of a serialized Rust enum: ``!tag payload``, a plain string for a
    unit variant, or a one-key mapping."""
    if isinstance(value, _Tagged):
        return value.tag, value.value
    if isinstance(value, bool):
        return ("true" if value else "false"), None
    if isinstance(value, str):
        return value, None
    if isinstance(value, dict) and len(value) == 1:
        ((k, v),) = value.items()
        if isinstance(k, str):
            return k, v
    raise _Bad(where, f"expected an enum variant (a YAML tag like !name), got {value!r}")


def _mapping(where: str, value: Any, *, allow_none: bool = True) -> dict[str, Any] | None:
    if value is None and allow_none:
        return None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _Bad(where, f"expected a mapping, got {type(value).__name__} ({value!r})")
    return value


def _build(where: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except (TypeError, ValueError) as e:
        raise _Bad(where, str(e)) from None


def _record_from(where: str, cls: type[Record], value: Any) -> Any:
    d = _mapping(where, value)
    if d is None:
        return None
    kwargs = {f: d.get(f) for f in cls._field_names() if f in d}
    return _build(where, cls, **kwargs)


def _bound_from(where: str, value: Any) -> Bound:
    name, payload = _variant(where, value)
    if name == "Unbounded":
        return None
    if name not in ("Included", "Excluded"):
        raise _Bad(where, f"unknown bound {name!r}, expected Included, Excluded or Unbounded")
    return (name, _build(where, uint(32, optional=False), where, payload))


def _list(where: str, value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise _Bad(where, f"expected a list, got {value!r}")
    return value


def _regex_from(where: str, payload: Any) -> str:
    d = _mapping(where, payload, allow_none=False)
    assert d is not None
    return _build(where, _regex, where, d.get("regex"))


def _preload_from(where: str, value: Any) -> ManifestPreloadCondition:
    name, payload = _variant(where, value)
    if name in ("or", "and"):
        items = [_preload_from(f"{where}[{i}]", x) for i, x in enumerate(_list(where, payload))]
        return _PreloadOr(items) if name == "or" else _PreloadAnd(items)
    if name == "path_matches":
        return _PreloadPathMatches(_regex_from(where, payload))
    if name == "name_matches":
        return _PreloadNameMatches(_regex_from(where, payload))
    if name == "num_refs":
        d = _mapping(where, payload, allow_none=False)
        assert d is not None
        lo = _bound_from(f"{where}.from", d.get("from", "Unbounded"))
        hi = _bound_from(f"{where}.to", d.get("to", "Unbounded"))
        return _PreloadNumRefs._from_bounds(lo, hi)
    if name == "true":
        return _PreloadTrue()
    if name == "false":
        return _PreloadFalse()
    raise _Bad(where, f"unknown manifest preload condition {name!r}")


def _split_from(where: str, value: Any) -> ManifestSplitCondition:
    name, payload = _variant(where, value)
    if name in ("or", "and"):
        items = [_split_from(f"{where}[{i}]", x) for i, x in enumerate(_list(where, payload))]
        return _SplitOr(items) if name == "or" else _SplitAnd(items)
    if name == "path_matches":
        return _SplitPathMatches(_regex_from(where, payload))
    if name == "name_matches":
        return _SplitNameMatches(_regex_from(where, payload))
    if name == "any_array":
        return _SplitAnyArray()
    raise _Bad(where, f"unknown manifest split condition {name!r}")


def _scalar_str(value: Any) -> Any:
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


def _dim_from(where: str, value: Any) -> AnyDimCondition:
    name, payload = _variant(where, value)
    if name == "Axis":
        return cast(AnyDimCondition, _build(where, _DimAxis, payload))
    if name == "DimensionName":
        return cast(AnyDimCondition, _build(where, _DimName, _scalar_str(payload)))
    if name == "Any":
        return _DimAny()
    raise _Bad(where, f"unknown split dimension condition {name!r}")


def _store_from(where: str, value: Any) -> ObjectStoreConfig:
    name, payload = _variant(where, value)
    cls = _STORE_TAGS.get(name)
    if cls is None:
        raise _Bad(where, f"unknown object store type {name!r}")
    if cls is _StoreInMemory:
        return _StoreInMemory()
    if cls is _StoreLocal:
        return cast(ObjectStoreConfig, _build(where, _StoreLocal, _scalar_str(payload)))
    if issubclass(cls, _StoreS3Base):
        d = _mapping(where, payload, allow_none=False)
        assert d is not None
        opts = _build(
            where,
            S3Options,
            region=d.get("region"),
            endpoint_url=d.get("endpoint_url"),
            allow_http=d.get("allow_http", False),
            anonymous=d.get("anonymous", False),
            force_path_style=d.get("force_path_style", False),
            network_stream_timeout_seconds=d.get("network_stream_timeout_seconds"),
            requester_pays=d.get("requester_pays", False),
        )
        return cast(ObjectStoreConfig, cls(opts))
    d = _mapping(where, payload)
    d = {str(k): str(v) for k, v in (d or {}).items()}
    return cast(ObjectStoreConfig, _build(where, cls, d))


def _tree_to_config(tree: Any) -> RepositoryConfig:
    root = _mapping("config", tree, allow_none=False)
    assert root is not None
    cfg = RepositoryConfig()
    for f in (
        "inline_chunk_threshold_bytes",
        "get_partial_values_concurrency",
        "max_concurrent_requests",
    ):
        if root.get(f) is not None:
            _build(f, setattr, cfg, f, root[f])

    comp = _mapping("compression", root.get("compression"))
    if comp is not None:
        alg = comp.get("algorithm")
        algorithm = None
        if alg is not None:
            name, _ = _variant("compression.algorithm", alg)
            if name != "zstd":
                raise _Bad("compression.algorithm", f"unknown variant {name!r}, expected 'zstd'")
            algorithm = CompressionAlgorithm.Zstd
        cfg.compression = _build("compression", CompressionConfig, algorithm, comp.get("level"))

    cfg.caching = _record_from("caching", CachingConfig, root.get("caching"))

    st = _mapping("storage", root.get("storage"))
    if st is not None:
        kwargs = {f: st.get(f) for f in StorageSettings._field_names()}
        kwargs["concurrency"] = _record_from(
            "storage.concurrency", StorageConcurrencySettings, st.get("concurrency")
        )
        kwargs["retries"] = _record_from(
            "storage.retries", StorageRetriesSettings, st.get("retries")
        )
        cfg.storage = _build("storage", StorageSettings, **kwargs)

    vccs = _mapping("virtual_chunk_containers", root.get("virtual_chunk_containers"))
    if vccs is not None:
        out: dict[str, VirtualChunkContainer] = {}
        for key, v in vccs.items():
            where = f"virtual_chunk_containers[{key!r}]"
            d = _mapping(where, v, allow_none=False)
            assert d is not None
            if "store" not in d:
                raise _Bad(where, "missing field 'store'")
            store = _store_from(f"{where}.store", d["store"])
            prefix = d.get("url_prefix", key)
            cont = _build(where, VirtualChunkContainer, prefix, store)
            if d.get("name") is not None:
                cont.name = _build(f"{where}.name", req_str, "name", d["name"])
            out[str(key)] = cont
        cfg._virtual_chunk_containers = out

    man = _mapping("manifest", root.get("manifest"))
    if man is not None:
        mc = ManifestConfig()
        pre = _mapping("manifest.preload", man.get("preload"))
        if pre is not None:
            cond = pre.get("preload_if")
            mc.preload = _build(
                "manifest.preload",
                ManifestPreloadConfig,
                pre.get("max_total_refs"),
                None if cond is None else _preload_from("manifest.preload.preload_if", cond),
            )
        spl = _mapping("manifest.splitting", man.get("splitting"))
        if spl is not None:
            raw = spl.get("split_sizes")
            sizes = None
            if raw is not None:
                sizes = []
                for i, entry in enumerate(_list("manifest.splitting.split_sizes", raw)):
                    where = f"manifest.splitting.split_sizes[{i}]"
                    pair = _list(where, entry)
                    if len(pair) != 2:
                        raise _Bad(where, "expected [condition, [dimension sizes]]")
                    dims = []
                    for j, dim in enumerate(_list(where, pair[1])):
                        dwhere = f"{where}[1][{j}]"
                        dd = _mapping(dwhere, dim, allow_none=False)
                        assert dd is not None
                        dims.append(
                            (
                                _dim_from(f"{dwhere}.condition", dd.get("condition")),
                                dd.get("num_chunks"),
                            )
                        )
                    sizes.append((_split_from(f"{where}[0]", pair[0]), tuple(dims)))
            mc.splitting = _build(
                "manifest.splitting",
                ManifestSplittingConfig,
                None if sizes is None else tuple(sizes),
            )
        cfg.manifest = mc
    return cfg


def config_from_yaml(data: bytes | str) -> RepositoryConfig:
    """Parse a ``config.yaml`` as written by upstream Icechunk (or :func:`config_to_yaml`).

    Parameters
    ----------
    data
        The file's bytes.

    Returns
    -------
    RepositoryConfig

    Raises
    ------
    ConfigError
        The YAML is malformed, or a value has the wrong type or is out of range; the message
        names the field.
    """
    try:
        text = data.decode("utf-8") if isinstance(data, bytes | bytearray) else data
        tree = yaml.load(text, Loader=_Loader)
    except (UnicodeDecodeError, yaml.YAMLError) as e:
        raise ConfigError(f"invalid config.yaml: not valid YAML: {e}") from None
    if tree is None:
        return RepositoryConfig()
    try:
        return _tree_to_config(tree)
    except _Bad as e:
        raise ConfigError(f"invalid config.yaml: {e}") from None

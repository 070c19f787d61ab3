"""The repository configuration: every setting of a repository, merged and made effective."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, cast

from .._records import Record, fields, instance_of, record, setting, u16
from .._records import upstream_repr as _upstream_repr
from . import defaults
from .caching import CachingConfig
from .compression import CompressionConfig
from .manifest import ManifestConfig
from .storage_settings import StorageSettings
from .virtual import VirtualChunkContainer

# Nested records replaced whole by merge (the others merge field by field).
_MERGED_WHOLE = ("preload", "splitting")


def check_containers(name: str, value: Any) -> dict[str, VirtualChunkContainer] | None:
    """Check for a dict of url prefix to container; the containers are copied."""
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


@record
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

    inline_chunk_threshold_bytes: int | None = setting(
        default=None, check=u16, effective=defaults.INLINE_CHUNK_THRESHOLD_BYTES
    )
    get_partial_values_concurrency: int | None = setting(
        default=None, check=u16, effective=defaults.GET_PARTIAL_VALUES_CONCURRENCY
    )
    compression: CompressionConfig | None = setting(
        default=None, check=instance_of(CompressionConfig), effective=CompressionConfig
    )
    max_concurrent_requests: int | None = setting(
        default=None, check=u16, effective=defaults.MAX_CONCURRENT_REQUESTS
    )
    caching: CachingConfig | None = setting(
        default=None, check=instance_of(CachingConfig), effective=CachingConfig
    )
    storage: StorageSettings | None = setting(
        default=None, check=instance_of(StorageSettings), effective=StorageSettings
    )
    # read through the property below, which returns a copy
    _virtual_chunk_containers: dict[str, VirtualChunkContainer] | None = setting(
        default=None, check=check_containers, effective=lambda _: {}
    )
    manifest: ManifestConfig | None = setting(
        default=None, check=instance_of(ManifestConfig), effective=ManifestConfig
    )

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
        values = locals()
        for f in fields(self):
            setattr(self, f.name, values[f.name.lstrip("_")])

    @classmethod
    def _field_names(cls) -> tuple[str, ...]:
        return tuple(n.lstrip("_") for n in super()._field_names())

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
        vccs[cont.url_prefix] = cont
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
        return cast(RepositoryConfig, _merge(self, other))

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

    def _effective_inline_chunk_threshold(self) -> int:
        """The inline threshold in bytes (512 when unset)."""
        v = self.inline_chunk_threshold_bytes
        return defaults.INLINE_CHUNK_THRESHOLD_BYTES if v is None else v

    def _effective_cache_sizes(self) -> tuple[int, int, int, int]:
        """Snapshot nodes, chunk references, transaction log changes and chunk bytes to cache
        (built-in sizes when unset)."""
        c = self.caching if self.caching is not None else CachingConfig()
        return (
            c.num_snapshot_nodes if c.num_snapshot_nodes is not None else defaults.NUM_SNAPSHOT_NODES,
            c.num_chunk_refs if c.num_chunk_refs is not None else defaults.NUM_CHUNK_REFS,
            c.num_transaction_changes
            if c.num_transaction_changes is not None
            else defaults.NUM_TRANSACTION_CHANGES,
            c.num_bytes_chunks if c.num_bytes_chunks is not None else defaults.NUM_BYTES_CHUNKS,
        )

    def _effective_compression_level(self) -> int:
        """The zstd level for metadata files (3 when unset)."""
        c = self.compression
        return defaults.COMPRESSION_LEVEL if c is None or c.level is None else c.level


def _merge(mine: Record | None, theirs: Record | None) -> Any:
    """Upstream's merge: fields set in ``theirs`` win, nested records merge recursively
    (except those in ``_MERGED_WHOLE``); the result shares nothing with either."""
    if theirs is None or mine is None:
        return copy.deepcopy(mine if theirs is None else theirs)
    out = copy.deepcopy(mine)
    for name, a in mine.__getstate__().items():
        b = getattr(theirs, name)
        if isinstance(a, Record) and isinstance(b, Record) and name not in _MERGED_WHOLE:
            object.__setattr__(out, name, _merge(a, b))
        elif b is not None:
            object.__setattr__(out, name, copy.deepcopy(b))
    return out

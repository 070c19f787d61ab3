"""Sizes of the in-memory caches."""

from __future__ import annotations

from .._records import Record, record, setting, u64
from . import defaults


@record
class CachingConfig(Record):
    """Sizes of Icechunk's in-memory caches.

    Parameters
    ----------
    num_snapshot_nodes
        Snapshot nodes to cache (default 500,000).
    num_chunk_refs
        Chunk references to cache (default 15,000,000).
    num_transaction_changes
        Transaction log changes to cache (default 0: logs are read again by every ``diff``
        and rebase). Each log weighs the number of nodes and chunks it records.
    num_bytes_attributes
        Bytes of attributes to cache (default 0). Spec version 1 keeps attributes inside
        the snapshot, which is cached by ``num_snapshot_nodes``; accepted for compatibility.
    num_bytes_chunks
        Bytes of native chunk data to cache (default 0: chunks are read from storage every
        time), keyed by chunk object and byte range.
    """

    num_snapshot_nodes: int | None = setting(
        default=None, check=u64, effective=defaults.NUM_SNAPSHOT_NODES
    )
    num_chunk_refs: int | None = setting(default=None, check=u64, effective=defaults.NUM_CHUNK_REFS)
    num_transaction_changes: int | None = setting(
        default=None, check=u64, effective=defaults.NUM_TRANSACTION_CHANGES
    )
    num_bytes_attributes: int | None = setting(
        default=None, check=u64, effective=defaults.NUM_BYTES_ATTRIBUTES
    )
    num_bytes_chunks: int | None = setting(
        default=None, check=u64, effective=defaults.NUM_BYTES_CHUNKS
    )

    @staticmethod
    def default() -> CachingConfig:
        """The default caching configuration (all fields unset: built-in sizes apply).

        Returns
        -------
        CachingConfig
        """
        return CachingConfig()

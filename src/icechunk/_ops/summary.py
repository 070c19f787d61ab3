"""Public results of maintenance operations."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GCSummary:
    """What ``garbage_collect`` deleted (or would delete, in a dry run)."""

    bytes_deleted: int = 0
    chunks_deleted: int = 0
    manifests_deleted: int = 0
    snapshots_deleted: int = 0
    attributes_deleted: int = 0
    transaction_logs_deleted: int = 0


@dataclass(frozen=True)
class ChunkStorageStats:
    """Bytes of chunks reachable from any branch or tag, by how they are stored."""

    native_bytes: int = 0
    virtual_bytes: int = 0
    inlined_bytes: int = 0

    @property
    def non_virtual_bytes(self) -> int:
        """Native plus inline bytes: what the repository itself stores."""
        return self.native_bytes + self.inlined_bytes

    @property
    def total_bytes(self) -> int:
        """All chunk bytes, virtual included."""
        return self.native_bytes + self.virtual_bytes + self.inlined_bytes

"""Transaction logs (file type 4): what one commit changed, used by diff, status and rebase."""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field

ChunkCoords = tuple[int, ...]


@dataclass(frozen=True, slots=True)
class TransactionLog:
    """The changes of the commit ``snapshot_id``; every set holds 8-byte node ids."""

    snapshot_id: bytes
    new_groups: frozenset[bytes] = frozenset()
    new_arrays: frozenset[bytes] = frozenset()
    deleted_groups: frozenset[bytes] = frozenset()
    deleted_arrays: frozenset[bytes] = frozenset()
    updated_arrays: frozenset[bytes] = frozenset()
    updated_groups: frozenset[bytes] = frozenset()
    # frozensets, or numpy-backed sets (``manifest.CoordSet``) for changes staged in bulk
    updated_chunks: Mapping[bytes, AbstractSet[ChunkCoords]] = field(default_factory=dict)

"""The uncommitted changes of a session: plain data, no I/O.

Nodes of the base snapshot are named by id once they are updated or deleted; nodes created in
this session live under their path until commit. A chunk payload of ``None`` is a deletion.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ._format.manifest import ChunkCoords, ChunkPayload
from ._format.snapshot import DimensionShape
from ._format.transaction_log import TransactionLog


@dataclass(frozen=True)
class ArrayDefinition:
    """An array's zarr metadata bytes and what the format extracts from them."""

    user_data: bytes
    shape: tuple[DimensionShape, ...]
    dimension_names: tuple[str | None, ...] | None


@dataclass
class ChangeSet:
    """Staged changes on top of a base snapshot."""

    new_groups: dict[str, tuple[bytes, bytes]] = field(default_factory=dict)
    new_arrays: dict[str, tuple[bytes, ArrayDefinition]] = field(default_factory=dict)
    updated_groups: dict[bytes, bytes] = field(default_factory=dict)
    updated_arrays: dict[bytes, ArrayDefinition] = field(default_factory=dict)
    deleted_groups: dict[str, bytes] = field(default_factory=dict)
    deleted_arrays: dict[str, bytes] = field(default_factory=dict)
    chunks: dict[bytes, dict[ChunkCoords, ChunkPayload | None]] = field(default_factory=dict)

    def is_empty(self) -> bool:
        return not (
            self.new_groups
            or self.new_arrays
            or self.updated_groups
            or self.updated_arrays
            or self.deleted_groups
            or self.deleted_arrays
            or any(self.chunks.values())
        )

    def new_node_ids(self) -> set[bytes]:
        return {nid for nid, _ in self.new_groups.values()} | {
            nid for nid, _ in self.new_arrays.values()
        }

    def is_new(self, node_id: bytes) -> bool:
        return node_id in self.new_node_ids()

    # --- nodes -------------------------------------------------------------------------------

    def add_group(self, path: str, node_id: bytes, user_data: bytes) -> None:
        self.new_groups[path] = (node_id, user_data)

    def add_array(self, path: str, node_id: bytes, definition: ArrayDefinition) -> None:
        self.new_arrays[path] = (node_id, definition)

    def update_group(self, path: str, node_id: bytes, user_data: bytes) -> None:
        if path in self.new_groups:
            self.new_groups[path] = (node_id, user_data)
        else:
            self.updated_groups[node_id] = user_data

    def update_array(self, path: str, node_id: bytes, definition: ArrayDefinition) -> None:
        if path in self.new_arrays:
            self.new_arrays[path] = (node_id, definition)
        else:
            self.updated_arrays[node_id] = definition

    def delete_group(self, path: str, node_id: bytes) -> None:
        if self.new_groups.get(path, (None,))[0] == node_id:
            del self.new_groups[path]
        else:
            self.updated_groups.pop(node_id, None)
            self.deleted_groups[path] = node_id

    def delete_array(self, path: str, node_id: bytes) -> None:
        self.chunks.pop(node_id, None)
        if self.new_arrays.get(path, (None,))[0] == node_id:
            del self.new_arrays[path]
        else:
            self.updated_arrays.pop(node_id, None)
            self.deleted_arrays[path] = node_id

    # --- chunks ------------------------------------------------------------------------------

    def set_chunk(self, node_id: bytes, coords: ChunkCoords, payload: ChunkPayload | None) -> None:
        self.chunks.setdefault(node_id, {})[coords] = payload

    def get_chunk(self, node_id: bytes, coords: ChunkCoords) -> tuple[bool, ChunkPayload | None]:
        """``(found, payload)``: whether this change set decides the chunk, and its payload."""
        array_chunks = self.chunks.get(node_id)
        if array_chunks is None or coords not in array_chunks:
            return False, None
        return True, array_chunks[coords]

    def drop_chunks(self, node_id: bytes, coords: Iterable[ChunkCoords]) -> None:
        array_chunks = self.chunks.get(node_id)
        if array_chunks:
            for c in coords:
                array_chunks.pop(c, None)

    # --- summaries ---------------------------------------------------------------------------

    def to_transaction_log(self, snapshot_id: bytes) -> TransactionLog:
        """The transaction log recording these changes as commit ``snapshot_id``."""
        new_ids = self.new_node_ids()
        deleted = set(self.deleted_groups.values()) | set(self.deleted_arrays.values())
        return TransactionLog(
            snapshot_id=snapshot_id,
            new_groups=frozenset(nid for nid, _ in self.new_groups.values()),
            new_arrays=frozenset(nid for nid, _ in self.new_arrays.values()),
            deleted_groups=frozenset(self.deleted_groups.values()) - new_ids,
            deleted_arrays=frozenset(self.deleted_arrays.values()) - new_ids,
            updated_groups=frozenset(self.updated_groups) - new_ids - deleted,
            updated_arrays=frozenset(self.updated_arrays) - new_ids - deleted,
            updated_chunks={
                nid: frozenset(chunks) for nid, chunks in self.chunks.items() if chunks
            },
        )

"""The uncommitted changes of a session: plain data, no I/O.

Nodes of the base snapshot are named by id once they are updated or deleted; nodes created in
this session live under their path until commit. A chunk payload of ``None`` is a deletion.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import msgpack

from ._format.manifest import ChunkCoords, ChunkPayload, InlineChunk, NativeChunk, VirtualChunk
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
            or self.chunks
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


# --- merging and serialisation -------------------------------------------------------------------


class ChangeSetMergeError(ValueError):
    """Two change sets disagree on the metadata of the same node."""


@dataclass(frozen=True)
class ChunkCollision:
    """One chunk that two change sets wrote with different references."""

    node_id: bytes  # the node's id in ``ours``
    coords: ChunkCoords
    ours: ChunkPayload | None
    theirs: ChunkPayload | None


def chunk_collisions(ours: ChangeSet, theirs: ChangeSet) -> list[ChunkCollision]:
    """Chunks written (or deleted) in both change sets with different references.

    Equal references (the same inline bytes, the same chunk object, the same virtual range)
    are not collisions; references that differ may still hold equal bytes, which only the
    caller can check.
    """
    remap = _node_remap(ours, theirs)
    found = []
    for node_id, chunks in theirs.chunks.items():
        ours_id = remap.get(node_id, node_id)
        mine = ours.chunks.get(ours_id)
        if not mine:
            continue
        for coords in mine.keys() & chunks.keys():
            if mine[coords] != chunks[coords]:
                found.append(ChunkCollision(ours_id, coords, mine[coords], chunks[coords]))
    return found


def merge_change_sets(ours: ChangeSet, theirs: ChangeSet) -> None:
    """Fold ``theirs`` into ``ours`` (both based on the same snapshot).

    A chunk written in both keeps ``theirs`` (callers check :func:`chunk_collisions` first).
    A node created in both at one path is one node when their metadata are equal; otherwise,
    and when both updated one node's metadata differently, ``ChangeSetMergeError`` is raised
    and ``ours`` is left unchanged.
    """
    remap = _node_remap(ours, theirs)
    _check_updates(ours.updated_groups, theirs.updated_groups, "group")
    _check_updates(ours.updated_arrays, theirs.updated_arrays, "array")
    for path, entry in theirs.new_groups.items():
        ours.new_groups.setdefault(path, entry)
    for path, array_entry in theirs.new_arrays.items():
        ours.new_arrays.setdefault(path, array_entry)
    ours.updated_groups.update(theirs.updated_groups)
    ours.updated_arrays.update(theirs.updated_arrays)
    ours.deleted_groups.update(theirs.deleted_groups)
    ours.deleted_arrays.update(theirs.deleted_arrays)
    for node_id, chunks in theirs.chunks.items():
        ours.chunks.setdefault(remap.get(node_id, node_id), {}).update(chunks)


def _node_remap(ours: ChangeSet, theirs: ChangeSet) -> dict[bytes, bytes]:
    """Their ids of nodes that both created at one path, mapped to ours."""
    remap = _shared_new_nodes(ours.new_groups, theirs.new_groups, "group")
    remap.update(_shared_new_nodes(ours.new_arrays, theirs.new_arrays, "array"))
    return remap


def _shared_new_nodes(
    ours: dict[str, tuple[bytes, Any]], theirs: dict[str, tuple[bytes, Any]], kind: str
) -> dict[bytes, bytes]:
    """Map their node ids to ours for nodes both created at one path with equal metadata."""
    remap = {}
    for path, (node_id, value) in theirs.items():
        mine = ours.get(path)
        if mine is None:
            continue
        if mine[1] != value:
            raise ChangeSetMergeError(f"{kind} {path} was created with different metadata")
        remap[node_id] = mine[0]
    return remap


def _check_updates(ours: dict[bytes, Any], theirs: dict[bytes, Any], kind: str) -> None:
    for node_id, value in theirs.items():
        if node_id in ours and ours[node_id] != value:
            raise ChangeSetMergeError(
                f"the metadata of a {kind} (node {node_id.hex()}) was changed differently in "
                "two sessions"
            )


def _encode_payload(payload: ChunkPayload | None) -> list[Any] | None:
    if payload is None:
        return None
    if isinstance(payload, InlineChunk):
        return [0, payload.data]
    if isinstance(payload, NativeChunk):
        return [1, payload.chunk_id, payload.offset, payload.length, payload.checksum]
    return [2, payload.location, payload.offset, payload.length, payload.etag, payload.last_modified]


def _decode_payload(raw: list[Any] | None) -> ChunkPayload | None:
    if raw is None:
        return None
    if raw[0] == 0:
        return InlineChunk(raw[1])
    if raw[0] == 1:
        return NativeChunk(raw[1], raw[2], raw[3], raw[4] if len(raw) > 4 else None)
    return VirtualChunk(raw[1], raw[2], raw[3], raw[4], raw[5])


def _encode_definition(d: ArrayDefinition) -> list[Any]:
    return [
        d.user_data,
        [[s.array_length, s.chunk_length] for s in d.shape],
        None if d.dimension_names is None else list(d.dimension_names),
    ]


def _decode_definition(raw: list[Any]) -> ArrayDefinition:
    return ArrayDefinition(
        raw[0],
        tuple(DimensionShape(a, c) for a, c in raw[1]),
        None if raw[2] is None else tuple(raw[2]),
    )


def change_set_to_bytes(cs: ChangeSet) -> bytes:
    """A compact msgpack encoding of the change set (used to pickle fork sessions)."""
    doc = {
        "ng": {p: [nid, ud] for p, (nid, ud) in cs.new_groups.items()},
        "na": {p: [nid, _encode_definition(d)] for p, (nid, d) in cs.new_arrays.items()},
        "ug": [[nid, ud] for nid, ud in cs.updated_groups.items()],
        "ua": [[nid, _encode_definition(d)] for nid, d in cs.updated_arrays.items()],
        "dg": cs.deleted_groups,
        "da": cs.deleted_arrays,
        "c": [
            [nid, [[list(c), _encode_payload(p)] for c, p in chunks.items()]]
            for nid, chunks in cs.chunks.items()
        ],
    }
    return msgpack.packb(doc, use_bin_type=True)


def change_set_from_bytes(data: bytes) -> ChangeSet:
    """Inverse of :func:`change_set_to_bytes`."""
    doc = msgpack.unpackb(data, raw=False, strict_map_key=False)
    return ChangeSet(
        new_groups={p: (nid, ud) for p, (nid, ud) in doc["ng"].items()},
        new_arrays={p: (nid, _decode_definition(d)) for p, (nid, d) in doc["na"].items()},
        updated_groups={nid: ud for nid, ud in doc["ug"]},
        updated_arrays={nid: _decode_definition(d) for nid, d in doc["ua"]},
        deleted_groups=dict(doc["dg"]),
        deleted_arrays=dict(doc["da"]),
        chunks={
            nid: {tuple(c): _decode_payload(p) for c, p in entries} for nid, entries in doc["c"]
        },
    )

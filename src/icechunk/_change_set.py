"""The uncommitted changes of a session: plain data, no I/O.

Nodes of the base snapshot are named by id once they are updated or deleted; nodes created in
this session live under their path until commit. A chunk payload of ``None`` is a deletion.
"""

from __future__ import annotations

import threading
from array import array
from collections.abc import Iterable, Iterator, MutableMapping
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

import numpy as np

from ._format._coords import CoordSet
from ._format.manifest import (
    ChunkCoords,
    ChunkPayload,
    ChunkRefTable,
    coords_array,
)
from ._format.snapshot import DimensionShape
from ._format.transaction_log import TransactionLog

_FIRST = itemgetter(0)  # the node id of a new node's (id, data) entry


@dataclass(frozen=True)
class ArrayDefinition:
    """An array's zarr metadata bytes and what the format extracts from them."""

    user_data: bytes
    shape: tuple[DimensionShape, ...]
    dimension_names: tuple[str | None, ...] | None


_MISSING: Any = object()


class ArrayChunks(MutableMapping[ChunkCoords, "ChunkPayload | None"]):
    """The staged chunk changes of one array: single writes and bulk tables of references.

    Single writes (a payload, or None for a deletion) sit in the ``staged`` dict; references
    set in bulk (``set_virtual_refs_arr``) are one columnar table, ``bulk``, so that staging
    millions of them creates no Python object per reference. A later write of either kind
    replaces an earlier one at the same coordinates. As a mapping it shows both.

    The coordinates of new single writes are also appended to a flat integer log as they come,
    so that a commit of millions of chunk writes packs them without visiting every key again;
    a removal drops the log, which is rebuilt when next needed (``staged`` is changed only
    through this class's methods).
    """

    def __init__(
        self,
        staged: dict[ChunkCoords, ChunkPayload | None] | None = None,
        bulk: ChunkRefTable | None = None,
    ) -> None:
        self.staged: dict[ChunkCoords, ChunkPayload | None] = dict(staged or {})
        self.bulk = bulk if bulk is not None and len(bulk) else None
        self._packed: dict[int, np.ndarray] = {}  # ndim -> staged coordinates of that rank
        # the staged coordinates flattened, in ``staged`` order, while all have rank _log_rank
        self._log: array[int] | None = None if self.staged else array("q")
        self._log_rank: int | None = None
        # keeps ``staged``, the log and ``_packed`` in step when threads write at once
        self._lock = threading.Lock()

    def staged_coords(self, ndim: int) -> np.ndarray:
        """The single writes' coordinates of rank ``ndim``, ``(n, ndim)`` int64, in ``staged`` order."""
        with self._lock:
            packed = self._packed.get(ndim)
            if packed is None:
                packed = self._packed[ndim] = self._pack(ndim)
            return packed

    def _pack(self, ndim: int) -> np.ndarray:
        log = self._log
        n = len(self.staged)
        if ndim and log is not None and self._log_rank == ndim and len(log) == n * ndim:
            # a copy, not a view: a view of the log would stop its appends
            return np.frombuffer(log.tobytes(), dtype=np.int64).reshape(n, ndim).copy()
        packed = _keys_array(self.staged, ndim)
        if ndim and len(packed) == n:  # every key has this rank: log from here on
            self._log, self._log_rank = array("q", packed.tobytes()), ndim
        return packed

    def _log_new_key(self, coords: ChunkCoords) -> None:
        self._packed.clear()
        log = self._log
        if log is None:
            return
        if self._log_rank is None:
            self._log_rank = len(coords)
        try:
            if len(coords) != self._log_rank:
                raise TypeError("mixed ranks")
            log.extend(coords)
        except (TypeError, OverflowError):
            self._log = None

    def _keys_removed(self) -> None:
        self._packed.clear()
        self._log = None

    def find(self, coords: ChunkCoords) -> tuple[bool, ChunkPayload | None]:
        """``(found, payload)``: whether a change is staged at ``coords``, and which."""
        payload = self.staged.get(coords, _MISSING)
        if payload is not _MISSING:
            return True, payload
        if self.bulk is not None:
            row = self.bulk.row_of(coords)
            if row is not None:
                return True, self.bulk.payload(row)
        return False, None

    def __getitem__(self, coords: ChunkCoords) -> ChunkPayload | None:
        found, payload = self.find(coords)
        if not found:
            raise KeyError(coords)
        return payload

    def __contains__(self, coords: object) -> bool:
        return isinstance(coords, tuple) and self.find(coords)[0]

    def __setitem__(self, coords: ChunkCoords, payload: ChunkPayload | None) -> None:
        staged = self.staged
        with self._lock:
            before = len(staged)
            staged[coords] = payload
            if len(staged) != before:
                self._log_new_key(coords)

    def __delitem__(self, coords: ChunkCoords) -> None:
        with self._lock:
            found = self.staged.pop(coords, _MISSING) is not _MISSING
            self._keys_removed()
        if self.bulk is not None and self.bulk.row_of(coords) is not None:
            self._set_bulk(self.bulk.without(np.array([coords], dtype=np.int64)))
            found = True
        if not found:
            raise KeyError(coords)

    def _bulk_only(self) -> ChunkRefTable | None:
        """The bulk rows no single write overrides."""
        if self.bulk is None or not self.staged:
            return self.bulk
        return self.bulk.without(self.staged_coords(self.bulk.ndim))

    def __iter__(self) -> Iterator[ChunkCoords]:
        yield from list(self.staged)
        bulk = self._bulk_only()
        if bulk is not None:
            yield from bulk.iter_coords()

    def __len__(self) -> int:
        bulk = self._bulk_only()
        return len(self.staged) + (0 if bulk is None else len(bulk))

    def __bool__(self) -> bool:
        return bool(self.staged) or self.bulk is not None

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ArrayChunks) and other.bulk is None and self.bulk is None:
            return self.staged == other.staged
        return super().__eq__(other)

    def copy(self) -> ArrayChunks:
        with self._lock:
            copied = ArrayChunks(self.staged, self.bulk)
            copied._packed = dict(self._packed)
        return copied

    def _set_bulk(self, table: ChunkRefTable | None) -> None:
        self.bulk = table if table is not None and len(table) else None

    def set_bulk(self, table: ChunkRefTable) -> None:
        """Stage every reference of ``table``, replacing earlier changes at its coordinates."""
        if not len(table):
            return
        if self.staged:
            with self._lock:
                keys = [k for k in self.staged if len(k) == table.ndim]
                hit: list[bool] = table.contains(_keys_array(keys, table.ndim)).tolist()
                for key, replaced in zip(keys, hit):
                    if replaced:
                        del self.staged[key]
                self._keys_removed()
        self._set_bulk(table if self.bulk is None else self.bulk.overlaid(table))

    def merge(self, other: ArrayChunks) -> None:
        """Fold ``other``'s changes in; they win where both changed a chunk."""
        if other.bulk is not None:
            self.set_bulk(other.bulk)
        with self._lock:
            self.staged.update(other.staged)
            self._keys_removed()

    def drop(self, coords: Iterable[ChunkCoords]) -> None:
        """Forget the changes at ``coords`` (no error where there are none)."""
        keys = list(coords)
        with self._lock:
            for c in keys:
                self.staged.pop(c, None)
            self._keys_removed()
        if self.bulk is not None and keys:
            self._set_bulk(self.bulk.without(_keys_array(keys, self.bulk.ndim)))

    def apply_to(self, base: ChunkRefTable) -> ChunkRefTable:
        """``base`` with these changes applied (a None payload deletes a reference)."""
        table = base if self.bulk is None else base.overlaid(self.bulk)
        return table.updated(self.staged, self.staged_coords(table.ndim))

    def coords_array(self, ndim: int) -> np.ndarray:
        """Every changed coordinate of rank ``ndim``, as an ``(n, ndim)`` int64 array."""
        staged = self.staged_coords(ndim)
        bulk = self._bulk_only()
        if bulk is None:
            return staged
        return np.concatenate([staged, bulk.coords.astype(np.int64)])

    def changed(self) -> frozenset[ChunkCoords] | CoordSet:
        """Every changed coordinate (a numpy-backed set when all have one rank)."""
        ndim = self._rank()
        if ndim is None:
            return frozenset(self.staged)
        return CoordSet(self.coords_array(ndim))

    def _rank(self) -> int | None:
        """The rank of the changed coordinates (None when there are none, or mixed ranks)."""
        if self.bulk is not None:
            return self.bulk.ndim
        if not self.staged:
            return None
        ndim = len(next(iter(self.staged)))
        return ndim if len(self.staged_coords(ndim)) == len(self.staged) else None

    def inside_grid(self, grid: tuple[int, ...]) -> frozenset[ChunkCoords] | CoordSet:
        """The changed coordinates that lie inside a chunk grid of shape ``grid``.

        Coordinates of another rank than the grid are compared on their common dimensions.
        """
        if self.bulk is None and len(self.staged_coords(len(grid))) != len(self.staged):
            # mixed ranks
            return frozenset(c for c in self.staged if all(i < g for i, g in zip(c, grid)))
        arr = self.coords_array(len(grid))
        inside = (arr < np.array(grid, dtype=np.int64)).all(axis=1)
        return CoordSet(arr if inside.all() else arr[inside])


def _keys_array(keys: Iterable[ChunkCoords], ndim: int) -> np.ndarray:
    """The coordinates among ``keys`` of rank ``ndim`` as an ``(n, ndim)`` int64 array."""
    return coords_array(keys, ndim)




@dataclass
class ChangeSet:
    """Staged changes on top of a base snapshot."""

    new_groups: dict[str, tuple[bytes, bytes]] = field(default_factory=dict)
    new_arrays: dict[str, tuple[bytes, ArrayDefinition]] = field(default_factory=dict)
    updated_groups: dict[bytes, bytes] = field(default_factory=dict)
    updated_arrays: dict[bytes, ArrayDefinition] = field(default_factory=dict)
    deleted_groups: dict[str, bytes] = field(default_factory=dict)
    deleted_arrays: dict[str, bytes] = field(default_factory=dict)
    chunks: dict[bytes, ArrayChunks] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for node_id, changes in list(self.chunks.items()):
            if not isinstance(changes, ArrayChunks):
                self.chunks[node_id] = ArrayChunks(changes)

    def array_chunks(self, node_id: bytes) -> ArrayChunks:
        """The staged chunk changes of an array, created empty if it has none."""
        changes = self.chunks.get(node_id)
        if changes is None:
            changes = self.chunks[node_id] = ArrayChunks()
        return changes

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
        return {*self._new_ids(self.new_groups), *self._new_ids(self.new_arrays)}

    @staticmethod
    def _new_ids(new: dict[str, tuple[bytes, Any]]) -> Iterator[bytes]:
        return map(_FIRST, new.values())

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
        changes = self.chunks.get(node_id)
        if changes is None:
            changes = self.chunks[node_id] = ArrayChunks()
        changes[coords] = payload

    def get_chunk(self, node_id: bytes, coords: ChunkCoords) -> tuple[bool, ChunkPayload | None]:
        """``(found, payload)``: whether this change set decides the chunk, and its payload."""
        array_chunks = self.chunks.get(node_id)
        if array_chunks is None:
            return False, None
        return array_chunks.find(coords)

    def drop_chunks(self, node_id: bytes, coords: Iterable[ChunkCoords]) -> None:
        array_chunks = self.chunks.get(node_id)
        if array_chunks:
            array_chunks.drop(coords)

    # --- summaries ---------------------------------------------------------------------------

    def to_transaction_log(self, snapshot_id: bytes) -> TransactionLog:
        """The transaction log recording these changes as commit ``snapshot_id``."""
        new_groups = frozenset(self._new_ids(self.new_groups))
        new_arrays = frozenset(self._new_ids(self.new_arrays))
        new_ids = new_groups | new_arrays
        deleted = set(self.deleted_groups.values()) | set(self.deleted_arrays.values())
        return TransactionLog(
            snapshot_id=snapshot_id,
            new_groups=new_groups,
            new_arrays=new_arrays,
            deleted_groups=frozenset(self.deleted_groups.values()) - new_ids,
            deleted_arrays=frozenset(self.deleted_arrays.values()) - new_ids,
            updated_groups=frozenset(self.updated_groups) - new_ids - deleted,
            updated_arrays=frozenset(self.updated_arrays) - new_ids - deleted,
            updated_chunks={nid: chunks.changed() for nid, chunks in self.chunks.items() if chunks},
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
        ours.array_chunks(remap.get(node_id, node_id)).merge(chunks)


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

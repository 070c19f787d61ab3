"""The session engine: a base snapshot overlaid with a change set, and commits.

``SessionCore`` keeps a materialised view of the current nodes (the base snapshot's nodes with
the change set applied), built on first use and updated incrementally on every metadata write,
so node lookups are dictionary lookups. Chunk lookups consult the change set, then the
manifests of the array (fetched and cached by the asset manager).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import replace
from typing import Any

import numpy as np

from .._asset_manager import AssetManager
from .._change_set import (
    ArrayDefinition,
    ChangeSet,
    ChangeSetMergeError,
    ChunkCollision,
    chunk_collisions,
    merge_change_sets,
)
from .._config import defaults
from .._exceptions import (
    ChunkWriteConflictError,
    ForkSessionError,
    InvalidKeyError,
    NodeNotFoundError,
    ReadOnlySessionError,
)
from .._format.ids import encode_id, new_id8, new_id12
from .._format.manifest import (
    ChunkCoords,
    ChunkPayload,
    ChunkRefTable,
    InlineChunk,
    NativeChunk,
    VirtualChunk,
    concat_tables,
)
from .._format.snapshot import (
    ArrayNodeData,
    DimensionShape,
    NodeSnapshot,
    Snapshot,
)
from .._progress import NoProgress, Progress
from .._virtual import VirtualChunkResolver
from ..storage._backend import ByteRange
from ._nodes import (
    ChunkKeyEncoding,
    chunk_key_encoding,
    grid_shape,
    in_extents,
    in_grid,
    is_descendant,
)
from .diff import DiffData

_log = logging.getLogger(__name__)


class SessionCore:
    """State and operations of one session, read-only or writable.

    Parameters
    ----------
    assets
        Typed, cached access to repository objects.
    snapshot_id
        The snapshot the session reads (and, when writable, commits on top of).
    branch
        The branch a writable session commits to; the branch a read-only session was opened
        from, if any.
    read_only
        Whether writes are refused.
    inline_threshold
        Chunks of at most this many bytes are kept inside manifests.
    """

    def __init__(
        self,
        assets: AssetManager,
        snapshot_id: bytes,
        branch: str | None,
        read_only: bool,
        inline_threshold: int = defaults.INLINE_CHUNK_THRESHOLD_BYTES,
        change_set: ChangeSet | None = None,
        default_commit_metadata: Mapping[str, Any] | None = None,
        branch_version: str | None = None,
        virtual: VirtualChunkResolver | None = None,
        splitting: Any = None,
    ):
        self.assets = assets
        self.splitting = splitting  # ManifestSplittingConfig: manifests per region of an array
        self.snapshot_id = snapshot_id
        # storage version of the branch ref when it pointed at ``snapshot_id`` (if known)
        self.branch_version = branch_version
        self.branch = branch
        self.read_only = read_only
        self.inline_threshold = inline_threshold
        self.change_set = change_set if change_set is not None else ChangeSet()
        self.default_commit_metadata = dict(default_commit_metadata or {})
        self.virtual = virtual or VirtualChunkResolver({}, {})
        # rewrite every array's manifest on the next commit, even without changes
        self.rewrite_manifests = False
        # told of every array whose manifest a commit writes (see Repository.rewrite_manifests)
        self.progress: Progress = NoProgress()
        self._nodes: dict[str, NodeSnapshot] | None = None
        self._encodings: dict[bytes, ChunkKeyEncoding] = {}
        self.lock = asyncio.Lock()
        # the background load of manifests chosen by ManifestPreloadConfig (see _preload)
        self.preloading: asyncio.Task[int] | None = None

    # --- reading nodes -----------------------------------------------------------------------

    async def base_snapshot(self) -> Snapshot:
        return await self.assets.fetch_snapshot(self.snapshot_id)

    async def nodes(self) -> dict[str, NodeSnapshot]:
        """The current nodes by absolute path (do not mutate the result)."""
        if self._nodes is None:
            snapshot = await self.base_snapshot()
            nodes = {n.path: n for n in snapshot.nodes}
            self._apply_change_set(nodes)
            if self._nodes is None:
                self._nodes = nodes
        return self._nodes

    def _apply_change_set(self, nodes: dict[str, NodeSnapshot]) -> None:
        cs = self.change_set
        for path in list(cs.deleted_groups) + list(cs.deleted_arrays):
            nodes.pop(path, None)
        by_id = {n.node_id: n for n in nodes.values()}
        for node_id, user_data in cs.updated_groups.items():
            node = by_id.get(node_id)
            if node is not None:
                nodes[node.path] = replace(node, user_data=user_data)
        for node_id, definition in cs.updated_arrays.items():
            node = by_id.get(node_id)
            if node is not None and node.array is not None:
                nodes[node.path] = _with_definition(node, definition)
        for path, (node_id, user_data) in cs.new_groups.items():
            nodes[path] = NodeSnapshot(node_id, path, user_data, None)
        for path, (node_id, definition) in cs.new_arrays.items():
            nodes[path] = NodeSnapshot(
                node_id,
                path,
                definition.user_data,
                ArrayNodeData(definition.shape, definition.dimension_names, ()),
            )

    async def get_node(self, path: str) -> NodeSnapshot | None:
        return (await self.nodes()).get(path)

    def encoding_of(self, node: NodeSnapshot) -> ChunkKeyEncoding:
        enc = self._encodings.get(node.node_id)
        if enc is None:
            enc = chunk_key_encoding(node.user_data)
            self._encodings[node.node_id] = enc
        return enc

    # --- reading chunks ----------------------------------------------------------------------

    async def get_chunk_ref(self, node: NodeSnapshot, coords: ChunkCoords) -> ChunkPayload | None:
        """The reference of chunk ``coords`` of array ``node``, or None if it has none."""
        found, payload = self.change_set.get_chunk(node.node_id, coords)
        if found:
            return payload
        assert node.array is not None
        if not in_grid(coords, node):
            return None
        for mref in node.array.manifests:
            if in_extents(coords, mref.extents):
                manifest = await self.assets.fetch_manifest(mref.manifest_id)
                payload = manifest.lookup(node.node_id, coords)
                if payload is not None:
                    return payload
        return None

    async def chunk_table(self, node: NodeSnapshot) -> ChunkRefTable:
        """Every committed-or-staged chunk reference of array ``node``, change set applied."""
        assert node.array is not None
        ndim = len(node.array.shape)
        tables = []
        for mref in node.array.manifests:
            manifest = await self.assets.fetch_manifest(mref.manifest_id)
            table = manifest.arrays.get(node.node_id)
            if table is not None:
                tables.append(table)
        base = concat_tables(tables)._sorted() if tables else ChunkRefTable.empty(ndim)
        # a copy (one step under the GIL): other threads may be writing chunks meanwhile
        changes = self.change_set.chunks.get(node.node_id)
        if changes is not None:
            changes.staged_coords(ndim)  # packed once, kept by the copy
        merged = base if changes is None else changes.copy().apply_to(base)
        grid = np.array(grid_shape(node.array.shape), dtype=np.int64)
        if len(merged) and ndim:
            inside: np.ndarray = np.asarray((merged.coords.astype(np.int64) < grid).all(axis=1))
            if not inside.all():
                merged = merged.filtered(inside)
        return merged

    async def read_chunk(self, payload: ChunkPayload, start: int = 0, end: int | None = None) -> bytes:
        """The bytes ``[start, end)`` (clamped to the chunk) of the chunk a reference points to."""
        if isinstance(payload, InlineChunk):
            return payload.data[start:end]
        if isinstance(payload, NativeChunk):
            if start == 0 and end is None:
                return await self.assets.fetch_native_chunk(payload)
            stop = payload.length if end is None else min(end, payload.length)
            rng = ByteRange(payload.offset + min(start, stop), payload.offset + stop)
            return await self.assets.fetch_native_chunk(payload, rng)
        return await self.virtual.fetch(payload, start, end)

    async def array_node(self, array_path: str) -> NodeSnapshot:
        """The array at ``array_path`` (``"a/b"`` or ``"/a/b"``); NodeNotFoundError if none."""
        path = "/" + array_path.strip("/")
        node = await self.get_node(path)
        if node is None or node.array is None:
            raise NodeNotFoundError(f"no array at {path!r}")
        return node

    async def chunk_kind(self, array_path: str, coords: ChunkCoords) -> int:
        """How a chunk is stored: 0 uninitialized, 1 native, 2 virtual, 3 inline."""
        payload = await self.get_chunk_ref(await self.array_node(array_path), coords)
        if payload is None:
            return 0
        if isinstance(payload, InlineChunk):
            return 3
        return 1 if isinstance(payload, NativeChunk) else 2

    async def virtual_locations(self) -> list[str]:
        """The location of every virtual chunk reference (one per reference)."""
        locations: list[str] = []
        for node in (await self.nodes()).values():
            if node.array is not None:
                table = await self.chunk_table(node)
                locations.extend(loc for loc in table.location.tolist() if loc is not None)
        return locations

    # --- writing -----------------------------------------------------------------------------

    def _require_writable(self) -> None:
        if self.read_only:
            raise ReadOnlySessionError(
                "this session is read-only: create a writable session with "
                "repo.writable_session(branch) to make changes"
            )

    async def set_metadata(self, path: str, user_data: bytes, array: ArrayDefinition | None) -> None:
        """Create or update the group (``array is None``) or array at ``path``."""
        self._require_writable()
        nodes = await self.nodes()
        existing = nodes.get(path)
        if existing is not None and existing.user_data == user_data:
            return
        if existing is not None and existing.is_array == (array is not None):
            await self._update_node(existing, user_data, array)
            return
        if existing is not None:
            await self.delete_node(path)
        # as upstream, a node may sit below an array (zarr's own API never makes one)
        node_id = new_id8()
        if array is None:
            self.change_set.add_group(path, node_id, user_data)
            nodes[path] = NodeSnapshot(node_id, path, user_data, None)
        else:
            self.change_set.add_array(path, node_id, array)
            nodes[path] = NodeSnapshot(
                node_id, path, user_data, ArrayNodeData(array.shape, array.dimension_names, ())
            )

    async def _update_node(
        self, node: NodeSnapshot, user_data: bytes, array: ArrayDefinition | None
    ) -> None:
        nodes = await self.nodes()
        if array is None:
            self.change_set.update_group(node.path, node.node_id, user_data)
            nodes[node.path] = replace(node, user_data=user_data)
            return
        assert node.array is not None
        old_grid = grid_shape(node.array.shape)
        new_grid = grid_shape(array.shape)
        if len(old_grid) != len(new_grid):
            raise InvalidKeyError(
                f"cannot change the number of dimensions of array {node.path!r}; delete it and "
                "create a new array"
            )
        if any(n < o for n, o in zip(new_grid, old_grid)):
            await self._drop_chunks_outside(node, new_grid)
        self.change_set.update_array(node.path, node.node_id, array)
        self._encodings.pop(node.node_id, None)
        nodes[node.path] = _with_definition(node, array)

    async def _drop_chunks_outside(self, node: NodeSnapshot, grid: tuple[int, ...]) -> None:
        table = await self.chunk_table(node)
        if len(table):
            outside = ~(table.coords.astype(np.int64) < np.array(grid, dtype=np.int64)).all(axis=1)
            for row in np.flatnonzero(outside).tolist():
                self.change_set.set_chunk(node.node_id, tuple(table.coords[row].tolist()), None)
        staged = self.change_set.chunks.get(node.node_id)
        for coords in [c for c in staged or () if any(i >= g for i, g in zip(c, grid))]:
            assert staged is not None
            if staged[coords] is not None:
                staged[coords] = None

    async def delete_node(self, path: str) -> None:
        """Delete the node at ``path`` and every node below it (no error if absent)."""
        self._require_writable()
        nodes = await self.nodes()
        doomed = [p for p in nodes if p == path or is_descendant(p, path)]
        for p in sorted(doomed, key=len, reverse=True):
            node = nodes.pop(p)
            if node.is_array:
                self.change_set.delete_array(p, node.node_id)
            else:
                self.change_set.delete_group(p, node.node_id)

    async def set_chunk(self, node: NodeSnapshot, coords: ChunkCoords, data: bytes) -> None:
        """Stage chunk bytes: inline at or below the threshold, else written to ``chunks/``."""
        self._require_writable()
        self._check_coords(node, coords)
        if len(data) <= self.inline_threshold:
            payload: ChunkPayload = InlineChunk(data)
        else:
            chunk_id = new_id12()
            checksum = await self.assets.write_chunk(chunk_id, data)
            payload = NativeChunk(chunk_id, 0, len(data), checksum)
        self.change_set.set_chunk(node.node_id, coords, payload)

    def set_chunk_ref(self, node: NodeSnapshot, coords: ChunkCoords, payload: ChunkPayload) -> None:
        """Stage an existing reference (virtual chunks)."""
        self._require_writable()
        self._check_coords(node, coords)
        self.change_set.set_chunk(node.node_id, coords, payload)

    async def delete_chunk(self, node: NodeSnapshot, coords: ChunkCoords) -> None:
        """Stage the deletion of a chunk (recorded even when it had no reference, as upstream)."""
        self._require_writable()
        self.change_set.set_chunk(node.node_id, coords, None)

    def _check_coords(self, node: NodeSnapshot, coords: ChunkCoords) -> None:
        assert node.array is not None
        grid = _grid_of(node.array.shape)
        if len(coords) != len(grid) or any(c >= g for c, g in zip(coords, grid)):
            raise InvalidKeyError(
                f"chunk index {list(coords)} is outside the chunk grid {list(grid)} of array "
                f"{node.path!r}"
            )

    def discard_changes(self) -> None:
        # a read-only session has nothing to discard: a no-op, as upstream
        self.change_set = ChangeSet()
        self._nodes = None
        self._encodings.clear()

    async def merge(self, other: ChangeSet, other_base: bytes) -> None:
        """Fold the change set of a fork based on the same snapshot into this session.

        Raises
        ------
        ChunkWriteConflictError
            When both wrote one chunk with different bytes: one of the writes would be lost.
        """
        self._require_writable()
        if other_base != self.snapshot_id:
            raise ForkSessionError(
                f"cannot merge a session based on snapshot {encode_id(other_base)} into one "
                f"based on {encode_id(self.snapshot_id)}: forks must come from this session"
            )
        try:
            collisions = chunk_collisions(self.change_set, other)
            conflicts = [c for c in collisions if not await self._same_bytes(c)]
            if conflicts:
                raise await self._chunk_conflict(conflicts)
            merge_change_sets(self.change_set, other)
        except ChangeSetMergeError as e:
            raise ForkSessionError(f"cannot merge sessions: {e}") from None
        self._nodes = None
        self._encodings.clear()

    async def _same_bytes(self, collision: ChunkCollision) -> bool:
        ours, theirs = collision.ours, collision.theirs
        if ours is None or theirs is None or isinstance(ours, VirtualChunk):
            return False
        if isinstance(theirs, VirtualChunk):
            return False
        return await self.read_chunk(ours) == await self.read_chunk(theirs)

    async def _chunk_conflict(self, conflicts: list[ChunkCollision]) -> ChunkWriteConflictError:
        first = conflicts[0]
        nodes = await self.nodes()
        path, node = next(
            ((p, n) for p, n in nodes.items() if n.node_id == first.node_id),
            (f"node {first.node_id.hex()}", None),
        )
        chunk_shape = ""
        if node is not None and node.array is not None:
            shape = tuple(d.chunk_length for d in node.array.shape)
            chunk_shape = f" (its chunk shape is {shape})"
        more = f" and {len(conflicts) - 1} more chunk(s)" if len(conflicts) > 1 else ""
        return ChunkWriteConflictError(
            f"array {path!r}: chunk {first.coords}{more} was written by two of the merged "
            "sessions with different contents, so one of the writes would be lost. This "
            "happens when parallel writers each write part of the same chunk (for example a "
            f"region of one day into a 30-day chunk). Align every writer's region to the "
            f"array's chunk boundaries{chunk_shape}, or rechunk the data so that each chunk is "
            "written by exactly one writer; nothing was merged from this session"
        )

    def move_base(self, snapshot_id: bytes, branch_version: str | None = None) -> None:
        """Re-base the change set on ``snapshot_id`` (used by rebase)."""
        self.snapshot_id = snapshot_id
        self.branch_version = branch_version
        self._nodes = None
        self._encodings.clear()

    def finish(self, snapshot_id: bytes) -> None:
        """Become a read-only session on ``snapshot_id``, just written from the changes."""
        self.snapshot_id = snapshot_id
        self.change_set = ChangeSet()
        self.read_only = True
        self._nodes = None
        self._encodings.clear()

    @property
    def snapshot_name(self) -> str:
        """The id of :attr:`snapshot_id`, as users see it (base32)."""
        return encode_id(self.snapshot_id)

    @property
    def has_uncommitted_changes(self) -> bool:
        return not self.change_set.is_empty()

    # --- status ------------------------------------------------------------------------------

    async def status(self) -> DiffData:
        """The uncommitted changes as paths."""
        cs = self.change_set
        base = await self.base_snapshot()
        base_paths = {n.node_id: n.path for n in base.nodes}
        current = await self.nodes()
        path_of = dict(base_paths)
        path_of.update({n.node_id: n.path for n in current.values()})
        new_ids = cs.new_node_ids()
        return DiffData(
            new_groups=frozenset(p for p, (nid, _) in cs.new_groups.items()),
            new_arrays=frozenset(p for p, (nid, _) in cs.new_arrays.items()),
            deleted_groups=frozenset(p for p, nid in cs.deleted_groups.items() if nid not in new_ids),
            deleted_arrays=frozenset(p for p, nid in cs.deleted_arrays.items() if nid not in new_ids),
            updated_groups=frozenset(base_paths[n] for n in cs.updated_groups if n in base_paths),
            updated_arrays=frozenset(base_paths[n] for n in cs.updated_arrays if n in base_paths),
            updated_chunks={
                path_of[nid]: chunks
                for nid, chunks in (await self.chunk_changes()).items()
                if nid in path_of
            },
        )

    async def chunk_changes(self) -> dict[bytes, AbstractSet[ChunkCoords]]:
        """Changed chunk coordinates per array, leaving out those a shrink made implicit.

        An array with a chunk entry is listed even when nothing inside its current shape
        changed (a shrink, or a rebase that kept their chunks), as upstream Icechunk records it.
        """
        nodes = {n.node_id: n for n in (await self.nodes()).values()}
        changes: dict[bytes, AbstractSet[ChunkCoords]] = {}
        for node_id, chunks in self.change_set.chunks.items():
            node = nodes.get(node_id)
            if node is None or node.array is None:
                continue
            changes[node_id] = chunks.inside_grid(grid_shape(node.array.shape))
        return changes

def _with_definition(node: NodeSnapshot, definition: ArrayDefinition) -> NodeSnapshot:
    assert node.array is not None
    return replace(
        node,
        user_data=definition.user_data,
        array=replace(
            node.array, shape=definition.shape, dimension_names=definition.dimension_names
        ),
    )


@functools.lru_cache(maxsize=256)
def _grid_of(shape: tuple[DimensionShape, ...]) -> tuple[int, ...]:
    return grid_shape(shape)

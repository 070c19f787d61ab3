"""Conflicts between a session's changes and commits that landed first, and their solvers.

``ConflictDetector`` fails a rebase on any conflict; ``BasicConflictSolver`` settles chunk
conflicts by ``VersionSelection`` and lets our deletes win over their updates unless told to
fail. Detection compares our change set with one transaction log at a time.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from ._change_set import ChangeSet
from ._format.manifest import ChunkCoords
from ._format.snapshot import NodeSnapshot
from ._format.transaction_log import TransactionLog


class VersionSelection(enum.Enum):
    """Which side wins a chunk conflict."""

    Fail = 0
    UseOurs = 1
    UseTheirs = 2


class ConflictType(enum.Enum):
    """The kinds of conflict a rebase can meet."""

    NewNodeConflictsWithExistingNode = 1
    NewNodeInInvalidGroup = 2
    ZarrMetadataDoubleUpdate = 3
    ZarrMetadataUpdateOfDeletedArray = 4
    ZarrMetadataUpdateOfDeletedGroup = 5
    ChunkDoubleUpdate = 6
    ChunksUpdatedInDeletedArray = 7
    ChunksUpdatedInUpdatedArray = 8
    DeleteOfUpdatedArray = 9
    DeleteOfUpdatedGroup = 10


@dataclass(frozen=True)
class Conflict:
    """One conflict: its type, the node path, and for chunk conflicts the chunk indices."""

    conflict_type: ConflictType
    path: str
    conflicted_chunks: list[list[int]] | None = None

    def __str__(self) -> str:
        chunks = f" chunks {self.conflicted_chunks}" if self.conflicted_chunks else ""
        return f"{self.conflict_type.name} at {self.path}{chunks}"


@dataclass
class Resolution:
    """A solver's verdict: conflicts left unsolved, and our chunk writes to drop otherwise."""

    unsolved: list[Conflict]
    drop_chunks: list[tuple[bytes, list[ChunkCoords]]]

    def apply(self, change_set: ChangeSet) -> None:
        """Patch ``change_set``; only call when nothing is left unsolved."""
        for node_id, coords in self.drop_chunks:
            change_set.drop_chunks(node_id, coords)


class ConflictSolver:
    """Base of the conflict solvers; use ``ConflictDetector`` or ``BasicConflictSolver``."""

    def _resolve(self, conflicts: list[Conflict], ids: Mapping[str, bytes]) -> Resolution:
        """Decide each conflict; ``ids`` maps node paths to node ids."""
        return Resolution(list(conflicts), [])


class ConflictDetector(ConflictSolver):
    """Fails the rebase on any conflict; rebases cleanly when there is none."""

    def __repr__(self) -> str:
        return "ConflictDetector()"


class BasicConflictSolver(ConflictSolver):
    """Settles chunk conflicts and deletes of updated nodes; fails on any other conflict.

    Parameters
    ----------
    on_chunk_conflict
        Keep our chunk (``UseOurs``), theirs (``UseTheirs``), or fail (``Fail``).
    fail_on_delete_of_updated_array
        Fail when we delete an array they updated; otherwise our delete wins.
    fail_on_delete_of_updated_group
        Fail when we delete a group they updated; otherwise our delete wins.
    """

    def __init__(
        self,
        *,
        on_chunk_conflict: VersionSelection = VersionSelection.UseOurs,
        fail_on_delete_of_updated_array: bool = False,
        fail_on_delete_of_updated_group: bool = False,
    ):
        self.on_chunk_conflict = on_chunk_conflict
        self.fail_on_delete_of_updated_array = fail_on_delete_of_updated_array
        self.fail_on_delete_of_updated_group = fail_on_delete_of_updated_group

    def __repr__(self) -> str:
        return (
            f"BasicConflictSolver(on_chunk_conflict={self.on_chunk_conflict}, "
            f"fail_on_delete_of_updated_array={self.fail_on_delete_of_updated_array}, "
            f"fail_on_delete_of_updated_group={self.fail_on_delete_of_updated_group})"
        )

    def _resolve(self, conflicts: list[Conflict], ids: Mapping[str, bytes]) -> Resolution:
        unsolved = []
        drops: list[tuple[bytes, list[ChunkCoords]]] = []
        for conflict in conflicts:
            kind = conflict.conflict_type
            if kind is ConflictType.ChunkDoubleUpdate:
                if self.on_chunk_conflict is VersionSelection.Fail:
                    unsolved.append(conflict)
                elif self.on_chunk_conflict is VersionSelection.UseTheirs:
                    coords = [tuple(c) for c in conflict.conflicted_chunks or []]
                    drops.append((ids[conflict.path], coords))
            elif kind is ConflictType.DeleteOfUpdatedArray:
                if self.fail_on_delete_of_updated_array:
                    unsolved.append(conflict)
            elif kind is ConflictType.DeleteOfUpdatedGroup:
                if self.fail_on_delete_of_updated_group:
                    unsolved.append(conflict)
            else:
                unsolved.append(conflict)
        return Resolution(unsolved, drops)


def detect_conflicts(
    ours: ChangeSet,
    theirs: TransactionLog,
    their_nodes: Mapping[str, NodeSnapshot],
    base_paths: Mapping[bytes, str],
) -> list[Conflict]:
    """Every conflict between our change set and one commit of theirs.

    ``their_nodes`` are the nodes of their snapshot by path; ``base_paths`` maps the node ids
    of our base snapshot to paths. Each check is independent, so one node can be in several
    conflicts (an array whose metadata and chunks both changed on both sides is in three);
    the list is ordered by kind of check: new nodes, metadata, chunks, deletes.
    """
    found = _new_node_conflicts(ours, theirs, their_nodes, base_paths)
    metadata_checks = (
        (ours.updated_arrays, theirs.updated_arrays, ConflictType.ZarrMetadataDoubleUpdate),
        (ours.updated_groups, theirs.updated_groups, ConflictType.ZarrMetadataDoubleUpdate),
        (ours.updated_arrays, theirs.deleted_arrays, ConflictType.ZarrMetadataUpdateOfDeletedArray),
        (ours.updated_groups, theirs.deleted_groups, ConflictType.ZarrMetadataUpdateOfDeletedGroup),
    )
    for our_updates, their_ids, kind in metadata_checks:
        found += [
            Conflict(kind, base_paths.get(node_id, "?"))
            for node_id in our_updates
            if node_id in their_ids
        ]
    found += _chunk_conflicts(ours, theirs, base_paths)
    for path, node_id in ours.deleted_arrays.items():
        if node_id in theirs.updated_arrays or theirs.updated_chunks.get(node_id):
            found.append(Conflict(ConflictType.DeleteOfUpdatedArray, path))
    for path, node_id in ours.deleted_groups.items():
        if node_id in theirs.updated_groups:
            found.append(Conflict(ConflictType.DeleteOfUpdatedGroup, path))
    return found


def _new_node_conflicts(
    ours: ChangeSet,
    theirs: TransactionLog,
    their_nodes: Mapping[str, NodeSnapshot],
    base_paths: Mapping[bytes, str],
) -> list[Conflict]:
    """Our new nodes at paths they took, then our new nodes under a parent they made invalid.

    An invalid parent (an array, or a group they deleted) is reported at the parent's path.
    """
    new_paths = list(ours.new_groups) + list(ours.new_arrays)
    their_new = theirs.new_groups | theirs.new_arrays
    found = [
        Conflict(ConflictType.NewNodeConflictsWithExistingNode, path)
        for path in new_paths
        if path in their_nodes and their_nodes[path].node_id in their_new
    ]
    for path in new_paths:
        parent = _invalid_parent(path, ours, their_nodes, theirs, base_paths)
        if parent is not None:
            found.append(Conflict(ConflictType.NewNodeInInvalidGroup, parent))
    return found


def _chunk_conflicts(
    ours: ChangeSet, theirs: TransactionLog, base_paths: Mapping[bytes, str]
) -> list[Conflict]:
    """Our chunk writes to arrays they deleted, to arrays they updated, to the same chunks."""
    written = [(i, c) for i, c in ours.chunks.items() if c and i in base_paths]
    found = [
        Conflict(ConflictType.ChunksUpdatedInDeletedArray, base_paths[i])
        for i, _ in written
        if i in theirs.deleted_arrays
    ]
    found += [
        Conflict(ConflictType.ChunksUpdatedInUpdatedArray, base_paths[i])
        for i, _ in written
        if i in theirs.updated_arrays
    ]
    for node_id, chunks in written:
        common = _common_chunks(chunks.keys(), theirs.updated_chunks.get(node_id, frozenset()))
        if common:
            found.append(Conflict(ConflictType.ChunkDoubleUpdate, base_paths[node_id], common))
    return found


def _common_chunks(ours: object, theirs: AbstractSet[ChunkCoords]) -> list[list[int]]:
    if not theirs:
        return []
    return sorted(list(c) for c in set(ours) & theirs)  # type: ignore[call-overload]


def _invalid_parent(
    path: str,
    ours: ChangeSet,
    their_nodes: Mapping[str, NodeSnapshot],
    theirs: TransactionLog,
    base_paths: Mapping[bytes, str],
) -> str | None:
    """The nearest ancestor of ``path`` that is an array, or a group they deleted, if any."""
    deleted_by_them = {base_paths[i] for i in theirs.deleted_groups if i in base_paths}
    parent = path
    while parent != "/":
        parent = parent.rsplit("/", 1)[0] or "/"
        if parent in ours.new_groups:
            continue
        node = their_nodes.get(parent)
        if node is not None and node.is_array:
            return parent
        if node is None and parent in deleted_by_them:
            return parent
    return None

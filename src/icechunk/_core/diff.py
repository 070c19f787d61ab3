"""Diffs as paths: what changed between two snapshots, and the JSON description of a snapshot."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

from .._format.ids import encode_id
from .._format.manifest import ChunkCoords
from .._format.snapshot import Snapshot
from .._format.transaction_log import TransactionLog
from .._snapshots import Diff


@dataclass(frozen=True)
class DiffData:
    """Paths changed between two states (the engine's form of the public ``Diff``)."""

    new_groups: frozenset[str] = frozenset()
    new_arrays: frozenset[str] = frozenset()
    deleted_groups: frozenset[str] = frozenset()
    deleted_arrays: frozenset[str] = frozenset()
    updated_groups: frozenset[str] = frozenset()
    updated_arrays: frozenset[str] = frozenset()
    updated_chunks: Mapping[str, AbstractSet[ChunkCoords]] = field(default_factory=dict)

    def to_public(self) -> Diff:
        """The public :class:`~icechunk.Diff` (chunk indices sorted when first read)."""
        return Diff(
            new_groups=set(self.new_groups),
            new_arrays=set(self.new_arrays),
            deleted_groups=set(self.deleted_groups),
            deleted_arrays=set(self.deleted_arrays),
            updated_groups=set(self.updated_groups),
            updated_arrays=set(self.updated_arrays),
            updated_chunks=self.updated_chunks,
        )


def combine_logs(
    logs: list[TransactionLog], from_snap: Snapshot, to_snap: Snapshot
) -> DiffData:
    """The net change of consecutive commits' logs between two snapshots, as paths."""
    new_groups: set[bytes] = set()
    new_arrays: set[bytes] = set()
    deleted_groups: set[bytes] = set()
    deleted_arrays: set[bytes] = set()
    updated_groups: set[bytes] = set()
    updated_arrays: set[bytes] = set()
    chunks: dict[bytes, set[tuple[int, ...]]] = {}
    for log in logs:
        new_groups |= log.new_groups
        new_arrays |= log.new_arrays
        deleted_groups |= log.deleted_groups
        deleted_arrays |= log.deleted_arrays
        updated_groups |= log.updated_groups
        updated_arrays |= log.updated_arrays
        for nid, coords in log.updated_chunks.items():
            chunks.setdefault(nid, set()).update(coords)
    new_ids = new_groups | new_arrays
    deleted_ids = deleted_groups | deleted_arrays
    to_paths = {n.node_id: n.path for n in to_snap.nodes}
    from_paths = {n.node_id: n.path for n in from_snap.nodes}

    def paths(ids: set[bytes], where: Mapping[bytes, str]) -> frozenset[str]:
        return frozenset(where[i] for i in ids if i in where)

    return DiffData(
        new_groups=paths(new_groups - deleted_ids, to_paths),
        new_arrays=paths(new_arrays - deleted_ids, to_paths),
        deleted_groups=paths(deleted_groups - new_ids, from_paths),
        deleted_arrays=paths(deleted_arrays - new_ids, from_paths),
        updated_groups=paths(updated_groups - new_ids - deleted_ids, to_paths),
        updated_arrays=paths(updated_arrays - new_ids - deleted_ids, to_paths),
        updated_chunks={
            to_paths[nid]: frozenset(c) for nid, c in chunks.items() if nid in to_paths
        },
    )



def describe_snapshot(snapshot: Snapshot) -> dict[str, Any]:
    """What ``Repository.inspect_snapshot`` prints (as JSON)."""
    flushed = _dt.datetime.fromtimestamp(snapshot.flushed_at / 1e6, tz=_dt.UTC)
    nodes = []
    for node in snapshot.nodes:
        entry: dict[str, Any] = {
            "id": encode_id(node.node_id),
            "path": node.path,
            "node_type": "array" if node.is_array else "group",
        }
        if node.array is not None:
            entry["manifest_refs"] = [
                {"id": encode_id(m.manifest_id), "extents": [list(e) for e in m.extents]}
                for m in node.array.manifests
            ]
        nodes.append(entry)
    return {
        "id": encode_id(snapshot.snapshot_id),
        "parent_id": None if snapshot.parent_id is None else encode_id(snapshot.parent_id),
        "flushed_at": flushed.isoformat().replace("+00:00", "Z"),
        "commit_message": snapshot.message,
        "metadata": dict(snapshot.metadata),
        "manifests": [
            {
                "id": encode_id(m.manifest_id),
                "size_bytes": m.size_bytes,
                "num_chunk_refs": m.num_chunk_refs,
            }
            for m in snapshot.manifest_files
        ],
        "nodes": nodes,
    }

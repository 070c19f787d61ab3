"""Snapshot objects (file type 1): the tree of groups and arrays at one commit."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from .._exceptions import FormatError
from ._zarr_json import check_zarr_json


class DimensionShape(NamedTuple):
    """Length of one array dimension and of its chunks along it.

    A named tuple, so that the encoder reads the numbers of thousands of shapes at C speed.
    """

    array_length: int
    chunk_length: int


@dataclass(frozen=True, slots=True)
class ManifestRef:
    """A manifest holding refs of an array, with the chunk index range it covers per dimension.

    ``extents[d]`` is the half-open range ``(from, to)`` of chunk indices along dimension ``d``.
    """

    manifest_id: bytes
    extents: tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class ArrayNodeData:
    """What the snapshot records of an array beyond its zarr metadata."""

    shape: tuple[DimensionShape, ...]
    dimension_names: tuple[str | None, ...] | None
    manifests: tuple[ManifestRef, ...]


@dataclass(frozen=True, slots=True)
class NodeSnapshot:
    """A group (``array is None``) or an array at an absolute path (``/``, ``/a/b``)."""

    node_id: bytes
    path: str
    user_data: bytes
    array: ArrayNodeData | None = None

    @property
    def is_array(self) -> bool:
        return self.array is not None


@dataclass(frozen=True, slots=True)
class ManifestFileInfo:
    """A manifest file the snapshot points to."""

    manifest_id: bytes
    size_bytes: int
    num_chunk_refs: int


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A commit: its nodes sorted by path, message, metadata and manifests.

    ``flushed_at`` is microseconds since the Unix epoch (UTC). ``metadata`` holds JSON values.
    """

    snapshot_id: bytes
    parent_id: bytes | None
    flushed_at: int
    message: str
    metadata: Mapping[str, Any]
    nodes: tuple[NodeSnapshot, ...]
    manifest_files: tuple[ManifestFileInfo, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class SnapshotHeader:
    """A snapshot without its nodes: what history walks need, cheaper to decode."""

    snapshot_id: bytes
    parent_id: bytes | None
    flushed_at: int
    message: str
    metadata: Mapping[str, Any]
    manifest_files: tuple[ManifestFileInfo, ...] = ()

    @classmethod
    def of(cls, snapshot: Snapshot) -> SnapshotHeader:
        return cls(
            snapshot.snapshot_id,
            snapshot.parent_id,
            snapshot.flushed_at,
            snapshot.message,
            snapshot.metadata,
            snapshot.manifest_files,
        )


#: Microseconds since the epoch of 9999-12-31T23:59:59.999999Z, the last time Python can show.
_MAX_FLUSHED_AT = 253_402_300_799_999_999


def check_header(header: SnapshotHeader | Snapshot) -> None:
    """Check that the commit time is one a reader can show (not after the year 9999).

    Raises
    ------
    FormatError
        If it is not.
    """
    if header.flushed_at > _MAX_FLUSHED_AT:
        raise FormatError(f"the commit time {header.flushed_at} is after the year 9999")


def check_snapshot(snapshot: Snapshot) -> None:
    """:func:`check_header` and :func:`check_node_metadata` for a whole snapshot."""
    check_header(snapshot)
    check_node_metadata(snapshot.nodes)


def check_node_metadata(nodes: tuple[NodeSnapshot, ...]) -> None:
    """Check the node tree and each node's zarr metadata (see :mod:`._zarr_json`).

    For snapshots that carry no checksum (those written by upstream Icechunk 1.1): a damaged
    byte in a node path, a node's ``zarr.json`` or an array's dimensions then fails here with
    a :class:`FormatError` instead of surfacing inside zarr or as a wrong shape.

    Raises
    ------
    FormatError
        Naming the node path and what is wrong.
    """
    _check_tree(nodes)
    for node in nodes:
        check_zarr_json(node.path, node.user_data, node.array)


def _check_tree(nodes: tuple[NodeSnapshot, ...]) -> None:
    """Node paths are absolute, sorted, unique, and each node's parent is a group."""
    groups = {node.path for node in nodes if node.array is None}
    previous = ""
    for node in nodes:
        path = node.path
        valid = path == "/" or (path.startswith("/") and "" not in path[1:].split("/"))
        if not valid or path <= previous:
            raise FormatError(f"node path {path!r} is invalid or out of order")
        parent = path.rsplit("/", 1)[0] or "/"
        if path != "/" and parent not in groups:
            raise FormatError(f"node {path!r} has no parent group {parent!r}")
        previous = path

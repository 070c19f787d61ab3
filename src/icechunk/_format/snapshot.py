"""Snapshot objects (file type 1): the tree of groups and arrays at one commit."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class DimensionShape:
    """Length of one array dimension and of its chunks along it."""

    array_length: int
    chunk_length: int


@dataclass(frozen=True)
class ManifestRef:
    """A manifest holding refs of an array, with the chunk index range it covers per dimension.

    ``extents[d]`` is the half-open range ``(from, to)`` of chunk indices along dimension ``d``.
    """

    manifest_id: bytes
    extents: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class ArrayNodeData:
    """What the snapshot records of an array beyond its zarr metadata."""

    shape: tuple[DimensionShape, ...]
    dimension_names: tuple[str | None, ...] | None
    manifests: tuple[ManifestRef, ...]


@dataclass(frozen=True)
class NodeSnapshot:
    """A group (``array is None``) or an array at an absolute path (``/``, ``/a/b``)."""

    node_id: bytes
    path: str
    user_data: bytes
    array: ArrayNodeData | None = None

    @property
    def is_array(self) -> bool:
        return self.array is not None


@dataclass(frozen=True)
class ManifestFileInfo:
    """A manifest file the snapshot points to."""

    manifest_id: bytes
    size_bytes: int
    num_chunk_refs: int


@dataclass(frozen=True)
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


def encode_snapshot(snapshot: Snapshot) -> bytes:
    """Serialize ``snapshot`` as a flatbuffer (no file header); see ``_codec_snapshot``."""
    from ._codec_snapshot import encode_snapshot as encode

    return encode(snapshot)


@dataclass(frozen=True)
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


def decode_snapshot_header(buf: bytes) -> SnapshotHeader:
    """Parse a snapshot flatbuffer's header fields only, skipping its nodes."""
    from ._codec_snapshot import decode_snapshot_header as decode

    return decode(buf)


def decode_snapshot(buf: bytes) -> Snapshot:
    """Parse a snapshot flatbuffer (no file header); raise FormatError if it is invalid."""
    from ._codec_snapshot import decode_snapshot as decode

    return decode(buf)

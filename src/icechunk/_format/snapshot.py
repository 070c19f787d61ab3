"""Snapshot objects (file type 1): the tree of groups and arrays at one commit."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .._exceptions import FormatError


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
    """Check that each node's zarr metadata is well formed and agrees with the node.

    For snapshots that carry no checksum (those written by upstream Icechunk 1.1): a damaged
    byte in a node's ``zarr.json`` or in an array's dimensions then fails here with a
    :class:`FormatError`, instead of surfacing as a JSON or validation error inside zarr, or
    as a wrong shape. Checked: the metadata is a UTF-8 JSON object with ``zarr_format`` 3 and
    the node's ``node_type``; for arrays, ``shape``, regular ``chunk_shape`` and
    ``dimension_names`` equal the node's own record, and the chunk grid, chunk key encoding,
    data type and codecs have the structure zarr v3 gives them.

    Raises
    ------
    FormatError
        Naming the node path and what is wrong.
    """
    _check_tree(nodes)
    for node in nodes:
        doc = _zarr_json(node)
        kind = "group" if node.array is None else "array"
        _expect(node.path, "zarr_format", doc.get("zarr_format") == 3, doc.get("zarr_format"))
        _expect(node.path, "node_type", doc.get("node_type") == kind, doc.get("node_type"))
        attributes = doc.get("attributes", {})
        _expect(node.path, "attributes", isinstance(attributes, dict), attributes)
        extra = [
            name
            for name, value in doc.items()
            if name not in _KEYS[kind]
            and not (isinstance(value, dict) and value.get("must_understand") is False)
        ]
        _expect(node.path, "field", not extra, extra)
        if node.array is not None:
            _check_array(node.path, node.array, doc)


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


_COMMON_KEYS = frozenset({"zarr_format", "node_type", "attributes"})
_KEYS = {
    "group": _COMMON_KEYS | {"consolidated_metadata"},
    "array": _COMMON_KEYS
    | {
        "shape",
        "data_type",
        "chunk_grid",
        "chunk_key_encoding",
        "fill_value",
        "codecs",
        "dimension_names",
        "storage_transformers",
    },
}
_CHUNK_GRIDS = frozenset({"regular", "rectilinear"})
_KEY_ENCODINGS = frozenset({"default", "v2"})
_SEPARATORS = frozenset({"/", "."})


def _expect(path: str, name: str, ok: bool, found: Any) -> None:
    if not ok:
        raise FormatError(f"node {path!r} has an invalid {name} in its zarr metadata: {found!r}")


def _zarr_json(node: NodeSnapshot) -> dict[str, Any]:
    try:
        doc = json.loads(node.user_data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise FormatError(f"the zarr metadata of node {node.path!r} is not valid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise FormatError(f"the zarr metadata of node {node.path!r} is not a JSON object")
    return doc


def _named(value: Any, names: frozenset[str] | None = None) -> bool:
    """Whether ``value`` is a zarr v3 ``{"name": ..., "configuration": {...}}`` object."""
    if not isinstance(value, dict) or not isinstance(value.get("name"), str):
        return False
    if names is not None and value["name"] not in names:
        return False
    return isinstance(value.get("configuration", {}), dict)


def _check_array(path: str, array: ArrayNodeData, doc: dict[str, Any]) -> None:
    lengths = [d.array_length for d in array.shape]
    _expect(path, "shape", doc.get("shape") == lengths, f"{doc.get('shape')!r}, not {lengths}")
    grid = doc.get("chunk_grid")
    _expect(path, "chunk_grid", _named(grid, _CHUNK_GRIDS), grid)
    if grid["name"] == "regular":
        chunks = [d.chunk_length for d in array.shape]
        declared = grid.get("configuration", {}).get("chunk_shape")
        _expect(path, "chunk_shape", declared == chunks, f"{declared!r}, not {chunks}")
    encoding = doc.get("chunk_key_encoding")
    _expect(path, "chunk_key_encoding", _named(encoding, _KEY_ENCODINGS), encoding)
    separator = encoding.get("configuration", {}).get("separator", "/")
    _expect(path, "chunk key separator", separator in _SEPARATORS, separator)
    dtype = doc.get("data_type")
    _expect(path, "data_type", isinstance(dtype, str) or _named(dtype), dtype)
    codecs = doc.get("codecs")
    ok = isinstance(codecs, list) and all(isinstance(c, str) or _named(c) for c in codecs)
    _expect(path, "codecs", ok, codecs)
    if array.dimension_names is not None:
        names = list(array.dimension_names)
        found = doc.get("dimension_names")
        _expect(path, "dimension_names", found == names, f"{found!r}, not {names}")

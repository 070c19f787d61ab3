"""Flatbuffers encoding of :class:`~icechunk._format.snapshot.Snapshot` (schema ``snapshot.fbs``)."""

from __future__ import annotations

import struct
from collections.abc import Mapping
from itertools import repeat
from operator import attrgetter, is_not
from typing import Any

import flatbuffers
import msgpack
import numpy as np

from . import _fbwrite as w
from ._array_nodes import NODE_DATA_ARRAY, NODE_VTABLE, arrays_block
from ._fb import Table, read_root, required
from .ids import ID8_SIZE, ID12_SIZE
from .snapshot import (
    ArrayNodeData,
    DimensionShape,
    ManifestFileInfo,
    ManifestRef,
    NodeSnapshot,
    Snapshot,
    SnapshotHeader,
)

NODE_DATA_GROUP = 2

_MANIFEST_FILE_INFO = struct.Struct("<12s4xQI4x")
_DIMENSION_SHAPE = struct.Struct("<QQ")
_CHUNK_INDEX_RANGE = struct.Struct("<II")

# Table slots, in schema field order.
_SNAP_ID, _SNAP_PARENT, _SNAP_NODES, _SNAP_FLUSHED_AT, _SNAP_MESSAGE = 0, 1, 2, 3, 4
_SNAP_METADATA, _SNAP_MANIFEST_FILES = 5, 6
_NODE_ID, _NODE_PATH, _NODE_USER_DATA, _NODE_DATA_TYPE, _NODE_DATA = 0, 1, 2, 3, 4
_ARR_SHAPE, _ARR_DIM_NAMES, _ARR_MANIFESTS = 0, 1, 2
_MREF_ID, _MREF_EXTENTS = 0, 1


# --- encoding ------------------------------------------------------------------------------


def pack_metadata_value(value: Any) -> bytes:
    """The msgpack encoding of a JSON value, as stored in snapshot metadata."""
    return bytes(msgpack.packb(value, use_bin_type=True))


def unpack_metadata_value(raw: bytes) -> Any:
    """Inverse of :func:`pack_metadata_value`."""
    return msgpack.unpackb(raw, raw=False)


def _metadata(builder: flatbuffers.Builder, metadata: Mapping[str, Any]) -> int:
    items = []
    for name in sorted(metadata):
        name_off = builder.CreateString(name)
        value_off = builder.CreateByteVector(pack_metadata_value(metadata[name]))
        builder.StartObject(2)
        builder.PrependUOffsetTRelativeSlot(1, value_off, 0)
        builder.PrependUOffsetTRelativeSlot(0, name_off, 0)
        items.append(builder.EndObject())
    return w.offsets_vector(builder, items)


# Group nodes are written as one pre-laid-out block (they are most nodes of large hierarchies):
# two shared vtables, the node tables (each followed by its empty GroupNodeData table), then
# the path strings, then each distinct user_data vector once (groups' metadata often repeat),
# so that every uoffset points forward.
#   node table: soffset | id@4 (8 B) | path@12 | user_data@16 | node_data@20 | data_type@24
_GROUP_VTABLES = NODE_VTABLE + struct.pack("<2H", 4, 4)
_EMPTY_VTABLE_POS = 16
_GROUP_NODE = np.dtype(  # node table (28 B) + empty GroupNodeData (4 B)
    [
        ("soffset", "<i4"),
        ("id", "V8"),
        ("path", "<u4"),
        ("user_data", "<u4"),
        ("node_data", "<u4"),
        ("data_type", "u1"),
        ("pad", "V3"),
        ("empty_soffset", "<i4"),
    ]
)


def _groups_block(nodes: list[NodeSnapshot]) -> tuple[bytes, np.ndarray]:
    """The block holding ``nodes`` (groups) and the position of each node table in it."""
    n = len(nodes)
    pos = len(_GROUP_VTABLES) + _GROUP_NODE.itemsize * np.arange(n, dtype=np.int64)
    paths = [node.path.encode("utf-8") for node in nodes]
    tables_end = len(_GROUP_VTABLES) + n * _GROUP_NODE.itemsize
    strings, path_pos = w.byte_vectors(paths, tables_end, nul=True)
    datas = [bytes(node.user_data) for node in nodes]
    distinct = {d: i for i, d in enumerate(dict.fromkeys(datas))}
    vectors, data_pos = w.byte_vectors(list(distinct), tables_end + len(strings))
    data_of = data_pos[np.fromiter(map(distinct.__getitem__, datas), dtype=np.int64, count=n)]

    tables = np.zeros(n, dtype=_GROUP_NODE)
    tables["soffset"] = pos  # the node vtable is at position 0
    tables["id"] = np.frombuffer(b"".join([bytes(node.node_id) for node in nodes]), dtype="V8")
    tables["path"] = path_pos - (pos + 12)
    tables["user_data"] = data_of - (pos + 16)
    tables["node_data"] = 28 - 20  # the GroupNodeData table follows the node table
    tables["data_type"] = NODE_DATA_GROUP
    tables["empty_soffset"] = pos + 28 - _EMPTY_VTABLE_POS
    return b"".join((_GROUP_VTABLES, tables.tobytes(), strings, vectors)), pos


_ARRAY = attrgetter("array")
_PATH = attrgetter("path")


def _take(nodes: list[NodeSnapshot], rows: np.ndarray) -> list[NodeSnapshot]:
    return list(map(nodes.__getitem__, rows.tolist()))


def _nodes_vector(builder: flatbuffers.Builder, nodes: list[NodeSnapshot]) -> int:
    """The vector of all nodes (sorted by path): arrays and groups each as one block."""
    n = len(nodes)
    targets = np.zeros(n, dtype=np.int64)
    is_array = np.fromiter(map(is_not, map(_ARRAY, nodes), repeat(None)), bool, count=n)
    arrays, groups = np.flatnonzero(is_array), np.flatnonzero(~is_array)
    if len(arrays):
        block, array_positions = arrays_block(nodes if len(arrays) == n else _take(nodes, arrays))
        start = w.prepend_block(builder, block, 8)
        targets[arrays] = start - array_positions
    if len(groups):
        block, positions = _groups_block(nodes if len(groups) == n else _take(nodes, groups))
        start = w.prepend_block(builder, block, 4)
        targets[groups] = start - positions
    return w.uoffsets_vector(builder, targets)


def encode_snapshot(snapshot: Snapshot) -> bytes:
    """Serialize a snapshot as a flatbuffer (no file header).

    Nodes are written sorted by path, metadata sorted by name and manifest files sorted by id.

    Parameters
    ----------
    snapshot
        The snapshot to encode.

    Returns
    -------
    bytes
        The flatbuffer bytes.
    """
    builder = w.new_builder(4096)
    nodes = sorted(snapshot.nodes, key=_PATH)
    nodes_off = _nodes_vector(builder, nodes)
    files = sorted(snapshot.manifest_files, key=lambda f: f.manifest_id)
    files_off = w.structs_vector(
        builder,
        [_MANIFEST_FILE_INFO.pack(f.manifest_id, f.size_bytes, f.num_chunk_refs) for f in files],
        _MANIFEST_FILE_INFO.size,
        8,
    )
    metadata_off = _metadata(builder, snapshot.metadata)
    message_off = builder.CreateString(snapshot.message)
    builder.StartObject(7)
    builder.PrependUint64Slot(_SNAP_FLUSHED_AT, snapshot.flushed_at, 0)
    builder.PrependUOffsetTRelativeSlot(_SNAP_MANIFEST_FILES, files_off, 0)
    builder.PrependUOffsetTRelativeSlot(_SNAP_METADATA, metadata_off, 0)
    builder.PrependUOffsetTRelativeSlot(_SNAP_MESSAGE, message_off, 0)
    builder.PrependUOffsetTRelativeSlot(_SNAP_NODES, nodes_off, 0)
    if snapshot.parent_id is not None:
        builder.PrependStructSlot(_SNAP_PARENT, w.prepend_raw(builder, snapshot.parent_id), 0)
    builder.PrependStructSlot(_SNAP_ID, w.prepend_raw(builder, snapshot.snapshot_id), 0)
    return w.finish(builder, builder.EndObject())


# --- decoding ------------------------------------------------------------------------------


def _read_manifest_ref(t: Table) -> ManifestRef:
    extents = required(t.structs(_MREF_EXTENTS, 8), "ManifestRef.extents")
    return ManifestRef(
        manifest_id=required(t.struct(_MREF_ID, ID12_SIZE), "ManifestRef.object_id"),
        extents=tuple(_CHUNK_INDEX_RANGE.unpack(e) for e in extents),
    )


def _read_array(t: Table) -> ArrayNodeData:
    shape = required(t.structs(_ARR_SHAPE, 16), "ArrayNodeData.shape")
    names_tables = t.tables(_ARR_DIM_NAMES)
    names = None if names_tables is None else tuple(n.string(0) for n in names_tables)
    manifests = required(t.tables(_ARR_MANIFESTS), "ArrayNodeData.manifests")
    return ArrayNodeData(
        shape=tuple(DimensionShape(*_DIMENSION_SHAPE.unpack(d)) for d in shape),
        dimension_names=names,
        manifests=tuple(_read_manifest_ref(m) for m in manifests),
    )


def _read_node(t: Table) -> NodeSnapshot:
    data_type = t.u8(_NODE_DATA_TYPE)
    data = required(t.table(_NODE_DATA), "NodeSnapshot.node_data")
    if data_type == NODE_DATA_ARRAY:
        array: ArrayNodeData | None = _read_array(data)
    elif data_type == NODE_DATA_GROUP:
        array = None
    else:
        raise ValueError(f"unknown node data type {data_type}")
    return NodeSnapshot(
        node_id=required(t.struct(_NODE_ID, ID8_SIZE), "NodeSnapshot.id"),
        path=required(t.string(_NODE_PATH), "NodeSnapshot.path"),
        user_data=required(t.blob(_NODE_USER_DATA), "NodeSnapshot.user_data"),
        array=array,
    )


def _read_header(t: Table) -> SnapshotHeader:
    metadata = {}
    for item in required(t.tables(_SNAP_METADATA), "Snapshot.metadata"):
        name = required(item.string(0), "MetadataItem.name")
        metadata[name] = unpack_metadata_value(required(item.blob(1), "MetadataItem.value"))
    files = required(t.structs(_SNAP_MANIFEST_FILES, 32), "Snapshot.manifest_files")
    return SnapshotHeader(
        snapshot_id=required(t.struct(_SNAP_ID, ID12_SIZE), "Snapshot.id"),
        parent_id=t.struct(_SNAP_PARENT, ID12_SIZE),
        flushed_at=t.u64(_SNAP_FLUSHED_AT),
        message=required(t.string(_SNAP_MESSAGE), "Snapshot.message"),
        metadata=metadata,
        manifest_files=tuple(ManifestFileInfo(*_MANIFEST_FILE_INFO.unpack(f)) for f in files),
    )


def _read_snapshot(t: Table) -> Snapshot:
    header = _read_header(t)
    return Snapshot(
        snapshot_id=header.snapshot_id,
        parent_id=header.parent_id,
        flushed_at=header.flushed_at,
        message=header.message,
        metadata=header.metadata,
        nodes=tuple(_read_node(n) for n in required(t.tables(_SNAP_NODES), "Snapshot.nodes")),
        manifest_files=header.manifest_files,
    )


def decode_snapshot_header(buf: bytes) -> SnapshotHeader:
    """Parse only the header fields of a snapshot flatbuffer (no nodes).

    Raises
    ------
    FormatError
        The buffer is not a valid snapshot flatbuffer or lacks a required field.
    """
    return read_root(buf, _read_header, "snapshot flatbuffer")


def decode_snapshot(buf: bytes) -> Snapshot:
    """Parse a snapshot flatbuffer (no file header).

    Raises
    ------
    FormatError
        The buffer is not a valid snapshot flatbuffer or lacks a required field.
    """
    return read_root(buf, _read_snapshot, "snapshot flatbuffer")

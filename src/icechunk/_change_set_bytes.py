"""A compact msgpack encoding of a :class:`~icechunk._change_set.ChangeSet`, with which fork
sessions are pickled: single writes as small lists, bulk reference tables as column bytes."""

from __future__ import annotations

from typing import Any

import msgpack
import numpy as np

from ._change_set import ArrayChunks, ArrayDefinition, ChangeSet
from ._format.manifest import ChunkPayload, ChunkRefTable, InlineChunk, NativeChunk, VirtualChunk
from ._format.snapshot import DimensionShape


def _encode_payload(payload: ChunkPayload | None) -> list[Any] | None:
    if payload is None:
        return None
    if isinstance(payload, InlineChunk):
        return [0, payload.data]
    if isinstance(payload, NativeChunk):
        return [1, payload.chunk_id, payload.offset, payload.length, payload.checksum]
    return [
        2,
        payload.location,
        payload.offset,
        payload.length,
        payload.etag,
        payload.last_modified,
    ]


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
            [
                nid,
                [[list(c), _encode_payload(p)] for c, p in chunks.staged.items()],
                None if chunks.bulk is None else _encode_table(chunks.bulk),
            ]
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
            entry[0]: ArrayChunks(
                {tuple(c): _decode_payload(p) for c, p in entry[1]},
                _decode_table(entry[2]) if len(entry) > 2 and entry[2] is not None else None,
            )
            for entry in doc["c"]
        },
    )


_TABLE_COLUMNS = {  # column -> dtype of a bulk table's msgpack encoding
    "kind": "u1",
    "chunk_id": "u1",
    "offset": "<u8",
    "length": "<u8",
    "checksum": "<i8",
    "last_modified": "<u4",
    "location_index": "<i4",
    "etag_index": "<i4",
    "inline_start": "<i8",
}


def _encode_table(table: ChunkRefTable) -> dict[str, Any]:
    doc: dict[str, Any] = {
        name: np.ascontiguousarray(getattr(table, name), dtype=dtype).tobytes()
        for name, dtype in _TABLE_COLUMNS.items()
    }
    doc["ndim"] = table.ndim
    doc["coords"] = np.ascontiguousarray(table.coords, dtype="<u4").tobytes()
    doc["locations"] = list(table.locations)
    doc["etags"] = list(table.etags)
    doc["inline_data"] = table.inline_data
    return doc


def _decode_table(doc: dict[str, Any]) -> ChunkRefTable:
    columns = {
        name: np.frombuffer(doc[name], dtype=dtype).copy() for name, dtype in _TABLE_COLUMNS.items()
    }
    n = len(columns["kind"])
    columns["chunk_id"] = columns["chunk_id"].reshape(n, 12)
    coords = np.frombuffer(doc["coords"], dtype="<u4").astype(np.uint32).reshape(n, doc["ndim"])
    return ChunkRefTable(
        coords=coords,
        locations=tuple(doc["locations"]),
        etags=tuple(doc["etags"]),
        inline_data=bytes(doc["inline_data"]),
        **columns,
    )

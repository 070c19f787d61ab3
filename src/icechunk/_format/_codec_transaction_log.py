"""Flatbuffers encoding of transaction logs (schema ``transaction_log.fbs``)."""

from __future__ import annotations

from collections.abc import Iterable

import flatbuffers
import numpy as np

from . import _fbwrite as w
from ._fb import Table, read_root, required
from .ids import ID8_SIZE, ID12_SIZE
from .transaction_log import ChunkCoords, TransactionLog

# Table slots, in schema field order; the six id lists follow ``id`` in this order.
_TX_ID = 0
_ID_LISTS = (
    "new_groups",
    "new_arrays",
    "deleted_groups",
    "deleted_arrays",
    "updated_arrays",
    "updated_groups",
)
_TX_UPDATED_CHUNKS = 7
_UC_NODE_ID, _UC_CHUNKS = 0, 1


def _ids_vector(builder: flatbuffers.Builder, ids: Iterable[bytes]) -> int:
    return w.structs_vector(builder, sorted(ids), ID8_SIZE, 1)


def _chunk_indices(builder: flatbuffers.Builder, coords: ChunkCoords) -> int:
    vec = builder.CreateNumpyVector(np.asarray(coords, dtype="<u4").reshape(-1))
    builder.StartObject(1)
    builder.PrependUOffsetTRelativeSlot(0, vec, 0)
    return int(builder.EndObject())


def _array_updated_chunks(
    builder: flatbuffers.Builder, node_id: bytes, coords: Iterable[ChunkCoords]
) -> int:
    chunks = w.offsets_vector(builder, [_chunk_indices(builder, c) for c in sorted(coords)])
    builder.StartObject(2)
    builder.PrependUOffsetTRelativeSlot(_UC_CHUNKS, chunks, 0)
    builder.PrependStructSlot(_UC_NODE_ID, w.prepend_raw(builder, node_id), 0)
    return int(builder.EndObject())


def encode_transaction_log(log: TransactionLog) -> bytes:
    """Serialize a transaction log as a flatbuffer (no file header).

    Id lists are written sorted ascending, updated chunks sorted by node id and coordinates.

    Parameters
    ----------
    log
        The transaction log to encode.

    Returns
    -------
    bytes
        The flatbuffer bytes.
    """
    builder = w.new_builder(1024)
    updated = w.offsets_vector(
        builder,
        [
            _array_updated_chunks(builder, node, log.updated_chunks[node])
            for node in sorted(log.updated_chunks)
        ],
    )
    lists = [_ids_vector(builder, getattr(log, name)) for name in _ID_LISTS]
    builder.StartObject(8)
    builder.PrependUOffsetTRelativeSlot(_TX_UPDATED_CHUNKS, updated, 0)
    for slot in range(len(lists), 0, -1):
        builder.PrependUOffsetTRelativeSlot(slot, lists[slot - 1], 0)
    builder.PrependStructSlot(_TX_ID, w.prepend_raw(builder, log.snapshot_id), 0)
    return w.finish(builder, builder.EndObject())


def _read_coords(t: Table) -> ChunkCoords:
    start, n = required(t.vector(0, 4), "ChunkIndices.coords")
    return tuple(np.frombuffer(t.buf.data, dtype="<u4", count=n, offset=start).tolist())


def _read_updated(t: Table) -> tuple[bytes, frozenset[ChunkCoords]]:
    node_id = required(t.struct(_UC_NODE_ID, ID8_SIZE), "ArrayUpdatedChunks.node_id")
    chunks = required(t.tables(_UC_CHUNKS), "ArrayUpdatedChunks.chunks")
    return node_id, frozenset(_read_coords(c) for c in chunks)


def _read_log(t: Table) -> TransactionLog:
    lists = {
        name: frozenset(required(t.structs(slot, ID8_SIZE), f"TransactionLog.{name}"))
        for slot, name in enumerate(_ID_LISTS, start=1)
    }
    updated = required(t.tables(_TX_UPDATED_CHUNKS), "TransactionLog.updated_chunks")
    return TransactionLog(
        snapshot_id=required(t.struct(_TX_ID, ID12_SIZE), "TransactionLog.id"),
        updated_chunks=dict(_read_updated(u) for u in updated),
        **lists,
    )


def decode_transaction_log(buf: bytes) -> TransactionLog:
    """Parse a transaction log flatbuffer (no file header).

    Raises
    ------
    FormatError
        The buffer is not a valid transaction log flatbuffer or lacks a required field.
    """
    return read_root(buf, _read_log, "transaction log flatbuffer")

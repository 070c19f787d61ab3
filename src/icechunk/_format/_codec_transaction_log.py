"""Flatbuffers encoding of transaction logs (schema ``transaction_log.fbs``)."""

from __future__ import annotations

import itertools
import struct
from collections.abc import Callable, Iterable

import flatbuffers
import numpy as np

from .._exceptions import FormatError
from . import _fbwrite as w
from ._coords import CoordSet, uniform_coords
from ._fb import Buffer, Table, read_root, required
from ._fbvec import Gather, TableFields
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


# ChunkIndices tables are written as one pre-laid-out block: a shared vtable, then for each
# chunk an 8-byte table (soffset, uoffset to its coords) directly followed by its coords vector.
_CHUNK_INDICES_VTABLE = struct.pack("<HHHH", 6, 8, 4, 0)  # size 6, padded to 8


def _sorted_coords(coords: Iterable[ChunkCoords]) -> np.ndarray | list[ChunkCoords]:
    """``coords`` in ascending order: an ``(n, ndim)`` array when all share one rank."""
    if isinstance(coords, CoordSet):
        packed = coords.array
        if packed.shape[1] == 0 or len(packed) < 2:
            return packed
        return packed[np.lexsort(packed.T[::-1])]
    keys = list(coords)
    arr = uniform_coords(keys)
    if arr is None or (arr < 0).any():
        return sorted(keys)
    if arr.shape[1] == 0 or len(arr) < 2:
        return arr
    return arr[np.lexsort(arr.T[::-1])]


def _chunk_indices_block(
    coords: np.ndarray | list[ChunkCoords],
) -> tuple[bytes, np.ndarray]:
    """The block bytes and the position of each ChunkIndices table inside it."""
    n = len(coords)
    if isinstance(coords, np.ndarray):
        lens = np.full(n, coords.shape[1], dtype=np.int64)
    else:
        lens = np.fromiter(map(len, coords), dtype=np.int64, count=n)
    sizes = 12 + 4 * lens
    tpos = len(_CHUNK_INDICES_VTABLE) + np.cumsum(sizes) - sizes
    words = np.zeros((len(_CHUNK_INDICES_VTABLE) + int(sizes.sum())) // 4, dtype="<u4")
    words[:2] = np.frombuffer(_CHUNK_INDICES_VTABLE, dtype="<u4")
    widx = tpos >> 2
    words[widx] = tpos  # soffset: the vtable is at position 0
    words[widx + 1] = 4  # the coords vector follows the table
    words[widx + 2] = lens
    if isinstance(coords, np.ndarray):
        flat = coords.reshape(-1)
    else:
        flat = np.fromiter(
            itertools.chain.from_iterable(coords), dtype=np.int64, count=int(lens.sum())
        )
    if len(flat):
        starts = np.cumsum(lens) - lens
        words[np.repeat(widx + 3 - starts, lens) + np.arange(len(flat))] = flat
    return words.tobytes(), tpos


def _array_updated_chunks(
    builder: flatbuffers.Builder, node_id: bytes, coords: Iterable[ChunkCoords]
) -> int:
    block, tpos = _chunk_indices_block(_sorted_coords(coords))
    block_off = w.prepend_block(builder, block)
    chunks = w.uoffsets_vector(builder, block_off - tpos)
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


_FEW = 64  # vectors of at most this many ChunkIndices are read table by table


def _read_few_coords(buf: Buffer, chunks_vec: int) -> frozenset[ChunkCoords]:
    """The ChunkIndices of a short vector, without numpy's per-call overhead."""
    start, n = buf.vector(chunks_vec, 4)
    out = []
    for i in range(n):
        coords = Table(buf, buf.deref(start + 4 * i)).vector(0, 4)
        if coords is None:
            raise FormatError("required field 'ChunkIndices.coords' is missing")
        first, k = coords
        out.append(struct.unpack_from(f"<{k}I", buf.data, first))
    return frozenset(out)


def _read_coords(g: Gather, chunks_vec: int) -> frozenset[ChunkCoords]:
    """All ChunkIndices of the vector at ``chunks_vec``, read at once."""
    n = int(g.vector_len(np.asarray([chunks_vec], dtype=np.int64), 4)[0])
    [coords_field] = TableFields(g, g.tables(chunks_vec, n), 1).pos
    if (coords_field < 0).any():
        raise FormatError("required field 'ChunkIndices.coords' is missing")
    vec = g.deref(coords_field)
    lens = g.vector_len(vec, 4)
    if n and (lens == lens[0]).all():
        ndim = int(lens[0])
        if ndim == 0:
            return frozenset({()})
        rows = g.raw(vec + 4, 4 * ndim).view("<u4").reshape(n, ndim).tolist()
        return frozenset(map(tuple, rows))
    data = g.data
    return frozenset(
        tuple(np.frombuffer(data, dtype="<u4", count=k, offset=p).tolist())
        for p, k in zip((vec + 4).tolist(), lens.tolist())
    )


def _read_updated(t: Table, gather: Callable[[], Gather]) -> tuple[bytes, frozenset[ChunkCoords]]:
    node_id = required(t.struct(_UC_NODE_ID, ID8_SIZE), "ArrayUpdatedChunks.node_id")
    chunks = t.field(_UC_CHUNKS)
    if not chunks:
        raise FormatError("required field 'ArrayUpdatedChunks.chunks' is missing")
    vec = t.buf.deref(chunks)
    if t.buf.u32(vec) <= _FEW:
        return node_id, _read_few_coords(t.buf, vec)
    return node_id, _read_coords(gather(), vec)


class _LazyGather:
    """A :class:`Gather` over ``data``, made on the first call."""

    __slots__ = ("_data", "_gather")

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._gather: Gather | None = None

    def __call__(self) -> Gather:
        if self._gather is None:
            self._gather = Gather(self._data)
        return self._gather


_NO_IDS: frozenset[bytes] = frozenset()


def _id_set(t: Table, slot: int, name: str) -> frozenset[bytes]:
    """The node ids of one id list (most lists of a log are empty: shared, no new object)."""
    start, n = required(t.vector(slot, ID8_SIZE), f"TransactionLog.{name}")
    if not n:
        return _NO_IDS
    data = t.buf.data
    return frozenset(
        bytes(data[i : i + ID8_SIZE]) for i in range(start, start + ID8_SIZE * n, ID8_SIZE)
    )


def _read_log(t: Table) -> TransactionLog:
    g = _LazyGather(t.buf.data)  # only for long vectors
    lists = {name: _id_set(t, slot, name) for slot, name in enumerate(_ID_LISTS, start=1)}
    updated = required(t.tables(_TX_UPDATED_CHUNKS), "TransactionLog.updated_chunks")
    return TransactionLog(
        snapshot_id=required(t.struct(_TX_ID, ID12_SIZE), "TransactionLog.id"),
        updated_chunks=dict(_read_updated(u, g) for u in updated),
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

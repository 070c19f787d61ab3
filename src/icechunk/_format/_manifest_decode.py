"""Decoding of manifest flatbuffers (schema ``manifest.fbs``): eagerly, or when first used.

A manifest can hold millions of refs, so no per-ref accessor objects are made: the decoder
gathers each ChunkRef field for all rows of an array at once with numpy
(:func:`decode_manifest`). Reading one chunk of a cold repository needs a single ref, though,
and decoding a big manifest costs far more than that: :func:`open_manifest` keeps the
flatbuffer and answers single lookups by binary search in it (refs are sorted by index, as
spec v1 writers keep them and as upstream Icechunk's own lookups assume), decoding an array's
table only when it is used whole or looked up often.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

import numpy as np

from .._exceptions import FormatError
from ._coords import ChunkCoords
from ._fb import Buffer, Table, decoding, required
from ._fbvec import Gather, TableFields, copy_spans
from ._payloads import ChunkPayload, InlineChunk, NativeChunk, VirtualChunk
from ._table_fill import TableFill
from .ids import ID8_SIZE, ID12_SIZE
from .manifest import ChunkRefTable, LazyTables, Manifest, RefKind, intern_strings

# ChunkRef slots, in schema field order; _CHECKSUM is ours, beyond spec v1 (see manifest.py).
_INDEX, _INLINE, _OFFSET, _LENGTH, _CHUNK_ID, _LOCATION, _ETAG, _LAST_MODIFIED = range(8)
_CHECKSUM = 8
_NUM_REF_SLOTS = 9

_DECODE_BLOCK = 1 << 16  # refs decoded at a time: bounds the decode's temporary arrays


def _decode_refs(g: Gather, refs_vec: int) -> ChunkRefTable:
    vec = np.asarray([refs_vec], dtype=np.int64)
    n = int(g.vector_len(vec, 4)[0])
    tables = g.tables(refs_vec, n)
    if n <= _DECODE_BLOCK:
        return _decode_tables(g, tables)
    # blocks of refs keep the temporaries small and reused: on a fresh process most of a
    # big decode's time is otherwise spent faulting in new memory pages
    fill = TableFill(_decode_tables(g, tables[:_DECODE_BLOCK]), n)
    for start in range(_DECODE_BLOCK, n, _DECODE_BLOCK):
        fill.add(_decode_tables(g, tables[start : start + _DECODE_BLOCK]))
    return fill.table()


def _decode_tables(g: Gather, tables: np.ndarray) -> ChunkRefTable:
    """The chunk refs whose tables are at ``tables``."""
    n = len(tables)
    f = TableFields(g, tables, _NUM_REF_SLOTS)
    if not f.present(_INDEX).all():
        raise FormatError("required field 'ChunkRef.index' is missing")
    index_vec = g.deref(f.pos[_INDEX])
    dims = g.vector_len(index_vec, 4)
    ndim = int(dims[0]) if n else 0
    if n and (dims != ndim).any():
        raise FormatError("chunk refs of one array have indices of different lengths")
    coords = (
        g.raw(index_vec + 4, 4 * ndim).view("<u4").reshape(n, ndim)
        if ndim
        else np.zeros((n, 0), dtype=np.uint32)
    )
    return _table_from_fields(g, f, n, coords.astype(np.uint32, copy=False))


def _strings(
    g: Gather, n: int, rows: np.ndarray, pos: np.ndarray
) -> tuple[tuple[str, ...], np.ndarray]:
    """The distinct strings at ``pos`` (one per row in ``rows``) and each row's index (-1: none)."""
    index = np.full(n, -1, dtype=np.int32)
    if not len(rows):
        return (), index
    distinct, inverse = np.unique(pos, return_inverse=True)
    strings = [b.decode("utf-8") for b in g.blobs(distinct)]
    table, codes = intern_strings(strings)  # equal strings written more than once
    index[rows] = codes[np.asarray(inverse).reshape(-1)]
    return table, index  # type: ignore[return-value]


def _inline(
    g: Gather, n: int, rows: np.ndarray, pos: np.ndarray
) -> tuple[bytes, np.ndarray, np.ndarray]:
    """Inline payloads gathered into one buffer, each row's start in it, and their lengths."""
    lens = g.vector_len(pos, 1)
    starts = np.zeros(n, dtype=np.int64)
    offsets = np.cumsum(lens) - lens
    starts[rows] = offsets
    buf = np.zeros(int(lens.sum()), dtype=np.uint8)
    copy_spans(buf, offsets, g.u8, pos + 4, lens)
    return buf.tobytes(), starts, lens


def _table_from_fields(g: Gather, f: TableFields, n: int, coords: np.ndarray) -> ChunkRefTable:
    kind = np.full(n, 255, dtype=np.uint8)
    inline_rows = np.flatnonzero(f.present(_INLINE))
    native_rows = np.flatnonzero(f.present(_CHUNK_ID) & ~f.present(_INLINE))
    virtual_rows = np.flatnonzero(
        f.present(_LOCATION) & ~f.present(_INLINE) & ~f.present(_CHUNK_ID)
    )
    kind[inline_rows], kind[native_rows], kind[virtual_rows] = (
        RefKind.INLINE,
        RefKind.NATIVE,
        RefKind.VIRTUAL,
    )
    if (kind == 255).any():
        raise FormatError("a chunk ref has none of inline data, chunk id or location")
    offset = np.zeros(n, dtype=np.uint64)
    length = np.zeros(n, dtype=np.uint64)
    for slot, col in ((_OFFSET, offset), (_LENGTH, length)):
        rows = np.flatnonzero(f.present(slot))
        col[rows] = g.u64(f.pos[slot][rows])
    inline_pos = g.deref(f.pos[_INLINE][inline_rows])
    inline_data, inline_start, length[inline_rows] = _inline(g, n, inline_rows, inline_pos)
    chunk_id = np.zeros((n, ID12_SIZE), dtype=np.uint8)
    chunk_id[native_rows] = g.raw(f.pos[_CHUNK_ID][native_rows], ID12_SIZE)
    locations, location_index = _strings(
        g, n, virtual_rows, g.deref(f.pos[_LOCATION][virtual_rows])
    )
    etag_rows = np.flatnonzero(f.present(_ETAG))
    etags, etag_index = _strings(g, n, etag_rows, g.deref(f.pos[_ETAG][etag_rows]))
    last_modified = np.zeros(n, dtype=np.uint32)
    lm_rows = np.flatnonzero(f.present(_LAST_MODIFIED))
    last_modified[lm_rows] = g.uint(f.pos[_LAST_MODIFIED][lm_rows], 4)
    checksum = np.full(n, -1, dtype=np.int64)
    checksum_rows = native_rows[f.present(_CHECKSUM)[native_rows]]
    checksum[checksum_rows] = g.uint(f.pos[_CHECKSUM][checksum_rows], 4)
    return ChunkRefTable(
        coords=coords,
        kind=kind,
        chunk_id=chunk_id,
        offset=offset,
        length=length,
        checksum=checksum,
        last_modified=last_modified,
        location_index=location_index,
        locations=locations,
        etag_index=etag_index,
        etags=etags,
        inline_start=inline_start,
        inline_data=inline_data,
    )


# --- whole manifests -----------------------------------------------------------------------


def _array_refs(root: Table) -> dict[bytes, int]:
    """Each array's node id and the position of its refs vector."""
    arrays: dict[bytes, int] = {}
    for a in required(root.tables(1), "Manifest.arrays"):
        node_id = required(a.struct(0, ID8_SIZE), "ArrayManifest.node_id")
        refs_field = a.field(1)
        if not refs_field:
            raise FormatError("required field 'ArrayManifest.refs' is missing")
        arrays[node_id] = a.buf.deref(refs_field)
    return arrays


def decode_manifest(buf: bytes) -> Manifest:
    """Parse a manifest flatbuffer (no file header), every array's refs at once.

    An array entry without refs carries no dimensionality on disk; it decodes as an empty
    table with ``ndim == 0``.

    Raises
    ------
    FormatError
        The buffer is not a valid manifest flatbuffer or lacks a required field.
    """
    data = bytes(buf)
    with decoding("manifest flatbuffer"):
        root = Buffer(data).root()
        manifest_id = required(root.struct(0, ID12_SIZE), "Manifest.id")
        g = Gather(data)
        arrays = {node_id: _decode_refs(g, vec) for node_id, vec in _array_refs(root).items()}
    return Manifest(manifest_id=manifest_id, arrays=arrays)


def open_manifest(buf: bytes, what: str = "manifest flatbuffer") -> Manifest:
    """A manifest whose arrays are decoded when first used (see the module docstring).

    Only the root and the array entries are read here; damage elsewhere surfaces, as a
    :class:`FormatError` naming ``what``, when the damaged part is read. Use it for buffers
    whose integrity is already known (a checksummed file), :func:`decode_manifest` otherwise.
    """
    data = bytes(buf)
    with decoding(what):
        b = Buffer(data)
        root = b.root()
        manifest_id = required(root.struct(0, ID12_SIZE), "Manifest.id")
        counts = {node_id: b.vector(vec, 4) for node_id, vec in _array_refs(root).items()}
    return Manifest(manifest_id=manifest_id, arrays=_FlatbufferTables(data, counts, what))


# Looking up one ref by binary search costs about as much as decoding a thousand refs at once:
# an array's table is decoded once its searches would have cost that much.
_REFS_PER_SEARCH = 1024
_MIN_SEARCHES = 8


class _FlatbufferTables(LazyTables):
    """The tables of a manifest flatbuffer's arrays, each decoded when first used."""

    def __init__(self, data: bytes, refs: dict[bytes, tuple[int, int]], what: str) -> None:
        self._data: bytes | None = data  # dropped once every table is decoded
        self._refs = refs  # node id -> (position of the first ref's uoffset, number of refs)
        self._what = what
        self._tables: dict[bytes, ChunkRefTable] = {}
        self._searches: dict[bytes, int] = {}

    def __getitem__(self, node_id: bytes) -> ChunkRefTable:
        table = self._tables.get(node_id)
        if table is not None:
            return table
        data = self._data
        start, _ = self._refs[node_id]
        if data is None:  # decoded meanwhile by another thread
            return self._tables[node_id]
        with decoding(self._what):
            table = _decode_refs(Gather(data), start - 4)
        self._tables[node_id] = table
        if len(self._tables) == len(self._refs):
            self._data = None
        return table

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._refs)

    def __len__(self) -> int:
        return len(self._refs)

    @property
    def num_refs(self) -> int:
        return sum(n for _, n in self._refs.values())

    def lookup(self, node_id: bytes, coords: ChunkCoords) -> ChunkPayload | None:
        data = self._data  # read before the tables: it is dropped only after they are all set
        table = self._tables.get(node_id)
        if table is not None or data is None:
            return self[node_id].lookup(coords) if node_id in self._refs else None
        entry = self._refs.get(node_id)
        if entry is None:
            return None
        start, n = entry
        searches = self._searches.get(node_id, 0) + 1
        self._searches[node_id] = searches
        if searches > _MIN_SEARCHES + n // _REFS_PER_SEARCH:
            return self[node_id].lookup(coords)
        with decoding(self._what):
            buf = Buffer(data)
            ref = _search(buf, start, n, tuple(coords))
            return None if ref is None else _payload(ref)


def _search(buf: Buffer, start: int, n: int, coords: tuple[int, ...]) -> Table | None:
    """The ref whose index is ``coords`` among the ``n`` sorted refs whose uoffsets start at
    ``start``, or None."""
    lo, hi = 0, n
    index_format = struct.Struct(f"<{len(coords)}I")
    while lo < hi:
        mid = (lo + hi) // 2
        ref = Table(buf, buf.deref(start + 4 * mid))
        first, ndim = required(ref.vector(_INDEX, 4), "ChunkRef.index")
        if ndim != len(coords):
            return None  # another dimensionality: no ref of this array can match
        index = index_format.unpack_from(buf.data, first)
        if index == coords:
            return ref
        if index < coords:
            lo = mid + 1
        else:
            hi = mid
    return None


def _payload(ref: Table) -> ChunkPayload:
    """The payload of one ref table (the kind rules of :func:`_table_from_fields`)."""
    inline = ref.blob(_INLINE)
    if inline is not None:
        return InlineChunk(inline)
    offset, length = ref.u64(_OFFSET), ref.u64(_LENGTH)
    chunk_id = ref.struct(_CHUNK_ID, ID12_SIZE)
    if chunk_id is not None:
        checksum = ref.u32(_CHECKSUM) if ref.field(_CHECKSUM) else None
        return NativeChunk(chunk_id, offset, length, checksum)
    location = ref.string(_LOCATION)
    if location is None:
        raise FormatError("a chunk ref has none of inline data, chunk id or location")
    return VirtualChunk(
        location, offset, length, ref.string(_ETAG), ref.u32(_LAST_MODIFIED) or None
    )

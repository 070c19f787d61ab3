"""Flatbuffers encoding of manifests (schema ``manifest.fbs``), vectorized over chunk refs.

Manifests can hold millions of refs, so the encoder goes through no per-ref builder calls: it
lays the buffer out front to back (every uoffset points forward, which flatbuffers allows) and
scatters each column into it with numpy; all vtables sit at the start of the buffer. Decoding
is in :mod:`._manifest_decode`.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ._fbvec import copy_spans
from .manifest import ChunkRefTable, Manifest, RefKind

# --- encoding ------------------------------------------------------------------------------
#
# Record layouts: each ChunkRef table starts 8-aligned and is followed by its own vectors.
#   inline : soffset | index@4 | inline@8 || index vector | inline vector
#   native : soffset | index@4 | offset@8 (u64) | length@16 (u64) | chunk_id@24 (12 B)
#            [| checksum@36 (u32)] || index vector
#   virtual: soffset | index@4 | offset@8 | length@16 | location@24 | etag@28 or lm@28
#            || index vector
# After an array's records come its distinct location and etag strings, each written once
# and pointed to by every ref that uses it (flatbuffers allows shared strings).

_INLINE_TABLE = 12
_NATIVE_TABLE = 36
_NATIVE_CHECKSUM_TABLE = 40
_VIRTUAL_TABLE = 32

_VT_INLINE = (4, 8)
_VT_NATIVE = (4, 0, 8, 16, 24)
_VT_NATIVE_CHECKSUM = (4, 0, 8, 16, 24, 0, 0, 0, 36)
_VT_VIRTUAL_PLAIN = (4, 0, 8, 16, 0, 24)
_VT_VIRTUAL_ETAG = (4, 0, 8, 16, 0, 24, 28)
_VT_VIRTUAL_LM = (4, 0, 8, 16, 0, 24, 0, 28)
_VT_MANIFEST = (8, 4)  # id@8, arrays@4
_VT_ARRAY = (8, 4)  # node_id@8, refs@4
_MANIFEST_TABLE = 20
_ARRAY_TABLE = 16


def _vtable_bytes(table_size: int, slots: Sequence[int]) -> bytes:
    return struct.pack(f"<{2 + len(slots)}H", 4 + 2 * len(slots), table_size, *slots)


_VTABLES: dict[str, bytes] = {
    "manifest": _vtable_bytes(_MANIFEST_TABLE, _VT_MANIFEST),
    "array": _vtable_bytes(_ARRAY_TABLE, _VT_ARRAY),
    "inline": _vtable_bytes(_INLINE_TABLE, _VT_INLINE),
    "native": _vtable_bytes(_NATIVE_TABLE, _VT_NATIVE),
    "native_checksum": _vtable_bytes(_NATIVE_CHECKSUM_TABLE, _VT_NATIVE_CHECKSUM),
    "virtual_plain": _vtable_bytes(_VIRTUAL_TABLE, _VT_VIRTUAL_PLAIN),
    "virtual_etag": _vtable_bytes(_VIRTUAL_TABLE, _VT_VIRTUAL_ETAG),
    "virtual_lm": _vtable_bytes(_VIRTUAL_TABLE, _VT_VIRTUAL_LM),
}


def _vtable_positions(start: int) -> tuple[dict[str, int], int]:
    """Positions of all vtables written from ``start``, and the 8-aligned end."""
    positions = {}
    pos = start
    for name, raw in _VTABLES.items():
        positions[name] = pos
        pos += len(raw)
    return positions, _align(pos, 8)


def _align(n: int, a: int) -> int:
    return (n + a - 1) & ~(a - 1)


def _align_arr(n: np.ndarray, a: int) -> np.ndarray:
    return (n + (a - 1)) & ~np.int64(a - 1)


def _utf8_table(values: Sequence[str]) -> tuple[bytes, np.ndarray, np.ndarray]:
    """The UTF-8 bytes of ``values`` joined, with each value's start and length."""
    encoded = [v.encode("utf-8") for v in values]
    lens = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
    return b"".join(encoded), np.cumsum(lens) - lens, lens


@dataclass
class _Out:
    """The output buffer with aligned word views for scattering columns."""

    raw: bytearray
    u8: np.ndarray
    u32: np.ndarray
    u64: np.ndarray

    @classmethod
    def zeros(cls, size: int) -> _Out:
        raw = bytearray(_align(size, 8))
        u8 = np.frombuffer(raw, dtype=np.uint8)
        return cls(raw, u8, u8.view("<u4"), u8.view("<u8"))

    def put_u32(self, pos: np.ndarray, values: np.ndarray | int) -> None:
        self.u32[pos >> 2] = values

    def put_u64(self, pos: np.ndarray, values: np.ndarray) -> None:
        self.u64[pos >> 3] = values

    def put_spans(self, pos: np.ndarray, src: bytes, src_pos: np.ndarray, lens: np.ndarray) -> None:
        """Write ``len`` as u32 at each ``pos`` followed by that many bytes of ``src``."""
        self.put_u32(pos, lens)
        copy_spans(self.u8, pos + 4, np.frombuffer(src, dtype=np.uint8), src_pos, lens)


def _blob_span(lens: np.ndarray, nul: bool) -> np.ndarray:
    """Bytes taken by vectors of ``lens`` bytes (plus a NUL for strings), 4-aligned."""
    return _align_arr(4 + lens + (1 if nul else 0), 4)


@dataclass
class _Strings:
    """Distinct strings written once after an array's records and shared by its refs."""

    data: bytes
    starts: np.ndarray
    lens: np.ndarray
    span: np.ndarray  # bytes each takes in the buffer

    @classmethod
    def of(cls, table: tuple[str, ...], used: np.ndarray) -> tuple[_Strings, np.ndarray]:
        """The strings of ``table`` at the indices ``used``; and each index's position."""
        distinct, inverse = np.unique(used, return_inverse=True)
        data, starts, lens = _utf8_table([table[i] for i in distinct.tolist()])
        return cls(data, starts, lens, _blob_span(lens, True)), np.asarray(inverse).reshape(-1)

    @property
    def size(self) -> int:
        return int(self.span.sum())

    def write(self, out: _Out, start: int) -> np.ndarray:
        """Write every string from ``start``; return their positions."""
        pos = start + np.cumsum(self.span) - self.span
        out.put_spans(pos, self.data, self.starts, self.lens)
        return pos


class _ArrayEncoder:
    """Computes the record layout of one array's refs and writes them."""

    def __init__(self, table: ChunkRefTable) -> None:
        self.table = table
        self.n = len(table)
        self.ndim = table.ndim
        kind = table.kind
        self.inline_rows = np.flatnonzero(kind == RefKind.INLINE)
        self.native_rows = np.flatnonzero(kind == RefKind.NATIVE)
        self.virtual_rows = np.flatnonzero(kind == RefKind.VIRTUAL)
        index_span = 4 + 4 * self.ndim
        sizes = np.zeros(self.n, dtype=np.int64)
        self.inline_lens = table.lengths[self.inline_rows].astype(np.int64)
        sizes[self.inline_rows] = _INLINE_TABLE + index_span + _blob_span(self.inline_lens, False)
        self.native_table = np.where(
            table.checksums[self.native_rows] >= 0, _NATIVE_CHECKSUM_TABLE, _NATIVE_TABLE
        )
        sizes[self.native_rows] = self.native_table + index_span
        sizes[self.virtual_rows] = _VIRTUAL_TABLE + index_span
        self.sizes = _align_arr(sizes, 8)
        rows = self.virtual_rows
        self.locations, self.location_of = _Strings.of(table.locations, table.loc_index[rows])
        etag_index = table.etag_rows[rows]
        self.has_etag = etag_index >= 0
        self.etags, self.etag_of = _Strings.of(table.etags, etag_index[self.has_etag])
        self.has_lm = ~self.has_etag & (table.modified[rows] != 0)

    @property
    def records_size(self) -> int:
        return int(self.sizes.sum()) + self.locations.size + self.etags.size

    def write(self, out: _Out, start: int, vtables: dict[str, int]) -> np.ndarray:
        """Write all records from ``start``, then the strings; return each row's position."""
        pos = start + np.cumsum(self.sizes) - self.sizes
        strings = start + int(self.sizes.sum())
        loc_pos = self.locations.write(out, strings)
        etag_pos = self.etags.write(out, strings + self.locations.size)
        coords = np.ascontiguousarray(self.table.coords, dtype="<u4")
        self._write_inline(out, pos[self.inline_rows], coords[self.inline_rows], vtables)
        self._write_native(out, pos[self.native_rows], coords[self.native_rows], vtables)
        self._write_virtual(
            out, pos[self.virtual_rows], coords[self.virtual_rows], vtables, loc_pos, etag_pos
        )
        return pos

    def _write_index(
        self, out: _Out, tpos: np.ndarray, vpos: np.ndarray, coords: np.ndarray
    ) -> None:
        out.put_u32(tpos + 4, vpos - (tpos + 4))
        out.put_u32(vpos, self.ndim)
        if self.ndim:
            out.u32[(vpos >> 2)[:, None] + np.arange(1, self.ndim + 1)] = coords

    def _write_inline(
        self, out: _Out, tpos: np.ndarray, coords: np.ndarray, vt: dict[str, int]
    ) -> None:
        if not len(tpos):
            return
        out.put_u32(tpos, tpos - vt["inline"])
        vpos = tpos + _INLINE_TABLE
        self._write_index(out, tpos, vpos, coords)
        dpos = vpos + 4 + 4 * self.ndim
        out.put_u32(tpos + 8, dpos - (tpos + 8))
        starts = self.table.starts[self.inline_rows]
        out.put_spans(dpos, self.table.inline_data, starts, self.inline_lens)

    def _write_native(
        self, out: _Out, tpos: np.ndarray, coords: np.ndarray, vt: dict[str, int]
    ) -> None:
        if not len(tpos):
            return
        rows = self.native_rows
        with_checksum = self.native_table == _NATIVE_CHECKSUM_TABLE
        vt_pos = np.where(with_checksum, vt["native_checksum"], vt["native"])
        out.put_u32(tpos, tpos - vt_pos)
        self._write_index(out, tpos, tpos + self.native_table, coords)
        out.put_u32(tpos[with_checksum] + 36, self.table.checksums[rows][with_checksum])
        out.put_u64(tpos + 8, self.table.offsets[rows])
        out.put_u64(tpos + 16, self.table.lengths[rows])
        ids = np.ascontiguousarray(self.table.ids[rows], dtype=np.uint8).view("<u4")
        out.u32[((tpos + 24) >> 2)[:, None] + np.arange(3)] = ids

    def _write_virtual(
        self,
        out: _Out,
        tpos: np.ndarray,
        coords: np.ndarray,
        vt: dict[str, int],
        loc_pos: np.ndarray,
        etag_pos: np.ndarray,
    ) -> None:
        if not len(tpos):
            return
        rows = self.virtual_rows
        vt_pos = np.full(len(rows), vt["virtual_plain"], dtype=np.int64)
        vt_pos[self.has_etag] = vt["virtual_etag"]
        vt_pos[self.has_lm] = vt["virtual_lm"]
        out.put_u32(tpos, tpos - vt_pos)
        self._write_index(out, tpos, tpos + _VIRTUAL_TABLE, coords)
        out.put_u64(tpos + 8, self.table.offsets[rows])
        out.put_u64(tpos + 16, self.table.lengths[rows])
        out.put_u32(tpos + 24, loc_pos[self.location_of] - (tpos + 24))
        etag_field = tpos[self.has_etag] + 28
        out.put_u32(etag_field, etag_pos[self.etag_of] - etag_field)
        out.put_u32(tpos[self.has_lm] + 28, self.table.modified[rows][self.has_lm])


def encode_manifest(manifest: Manifest) -> bytes:
    """Serialize a manifest as a flatbuffer (no file header).

    Arrays are written sorted by node id; each table's rows are already sorted by coordinates.

    Parameters
    ----------
    manifest
        The manifest to encode.

    Returns
    -------
    bytes
        The flatbuffer bytes.
    """
    vtables, pos = _vtable_positions(4)
    node_ids = sorted(manifest.arrays)
    encoders = [_ArrayEncoder(manifest.arrays[n]) for n in node_ids]
    manifest_pos = pos
    arrays_vec = manifest_pos + _MANIFEST_TABLE
    pos = _align(arrays_vec + 4 + 4 * len(encoders), 8)
    array_pos = []
    for enc in encoders:
        array_pos.append(pos)
        pos = _align(pos + _ARRAY_TABLE + 4 + 4 * enc.n, 8)
        pos += enc.records_size
    out = _Out.zeros(pos)
    buf = out.raw
    struct.pack_into("<I", buf, 0, manifest_pos)
    for name, vpos in vtables.items():
        raw = _VTABLES[name]
        buf[vpos : vpos + len(raw)] = raw
    struct.pack_into(
        "<iI12s",
        buf,
        manifest_pos,
        manifest_pos - vtables["manifest"],
        arrays_vec - (manifest_pos + 4),
        bytes(manifest.manifest_id),
    )
    _write_offsets(out, arrays_vec, np.asarray(array_pos, dtype=np.int64))
    for node_id, enc, apos in zip(node_ids, encoders, array_pos):
        refs_vec = apos + _ARRAY_TABLE
        struct.pack_into(
            "<iI8s", buf, apos, apos - vtables["array"], refs_vec - (apos + 4), bytes(node_id)
        )
        records = _align(refs_vec + 4 + 4 * enc.n, 8)
        _write_offsets(out, refs_vec, enc.write(out, records, vtables))
    return bytes(memoryview(buf)[:pos])


def _write_offsets(out: _Out, vec: int, targets: np.ndarray) -> None:
    """A vector of uoffsets at ``vec`` pointing to ``targets``."""
    out.put_u32(np.asarray([vec]), len(targets))
    slots = vec + 4 + 4 * np.arange(len(targets), dtype=np.int64)
    out.put_u32(slots, targets - slots)

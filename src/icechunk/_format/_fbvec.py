"""Vectorized (numpy) reading of many flatbuffer tables of the same type at once.

Used where a vector can hold very many tables (chunk refs, updated chunk indices): every field of
every table is located and read with a few numpy operations instead of per-table Python calls.
All positions are bounds-checked; invalid data raises :class:`FormatError`.
"""

from __future__ import annotations

import numpy as np

from .._exceptions import FormatError


class Gather:
    """Bounds-checked vectorized reads of little-endian integers at many positions."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.u8 = np.frombuffer(data, dtype=np.uint8)
        self.size = len(data)
        self._views = {
            w: np.frombuffer(data, dtype=f"<u{w}", count=self.size // w) for w in (2, 4, 8)
        }

    def check(self, pos: np.ndarray, width: int | np.ndarray) -> None:
        if not len(pos):
            return
        end = int(pos.max()) + width if isinstance(width, int) else int(np.max(pos + width))
        if int(pos.min()) < 0 or end > self.size:
            raise FormatError(f"a field lies outside the {self.size}-byte buffer")

    def raw(self, pos: np.ndarray, width: int) -> np.ndarray:
        """``(n, width)`` bytes starting at each position."""
        self.check(pos, width)
        if width % 4 == 0 and not (pos & 3).any():
            words = self._views[4][(pos >> 2)[:, None] + np.arange(width // 4)]
            return words.view(np.uint8)
        return self.u8[pos[:, None] + np.arange(width)]

    def _word(self, pos: np.ndarray, width: int) -> np.ndarray:
        """Unsigned little-endian ``width``-byte integers at ``pos`` (aligned fast path)."""
        self.check(pos, width)
        if not (pos & (width - 1)).any():
            return self._views[width][pos // width]
        return self.raw(pos, width).view(f"<u{width}")[:, 0]

    def uint(self, pos: np.ndarray, width: int) -> np.ndarray:
        return self._word(pos, width).astype(np.int64)

    def u64(self, pos: np.ndarray) -> np.ndarray:
        return self._word(pos, 8)

    def i32(self, pos: np.ndarray) -> np.ndarray:
        return self._word(pos, 4).view("<i4").astype(np.int64)

    def deref(self, pos: np.ndarray) -> np.ndarray:
        target = self.uint(pos, 4)
        target += pos
        return target

    def tables(self, vec: int, n: int) -> np.ndarray:
        """Positions of the ``n`` tables that the offset vector at ``vec`` points to."""
        start = vec + 4
        slots = np.arange(n, dtype=np.int64) * 4
        if start % 4 or start + 4 * n > self.size:
            return self.deref(slots + start)
        tables = self._views[4][start // 4 : start // 4 + n].astype(np.int64)
        tables += slots
        tables += start
        return tables

    def vector_len(self, vec: np.ndarray, elem_size: int) -> np.ndarray:
        """Lengths of the vectors at ``vec`` after checking their elements are in bounds."""
        n = self.uint(vec, 4)
        self.check(vec + 4, n * elem_size)
        return n

    def blobs(self, vec: np.ndarray) -> list[bytes]:
        lens = self.vector_len(vec, 1)
        data = self.data
        return [data[s : s + n] for s, n in zip((vec + 4).tolist(), lens.tolist())]


class TableFields:
    """Positions of the first ``num_slots`` fields of the tables at ``tpos`` (-1 where absent).

    Tables of one kind usually share a handful of vtables; each distinct vtable is read once.
    """

    def __init__(self, g: Gather, tpos: np.ndarray, num_slots: int) -> None:
        vt = g.i32(tpos)
        np.subtract(tpos, vt, out=vt)
        shared = _distinct(vt)
        tables, inverse = shared if shared is not None else (vt, None)
        vt_size = g.uint(tables, 2)
        if len(tables) and (vt_size.min() < 4 or (vt_size % 2).any()):
            raise FormatError("invalid vtable size")
        self.pos: list[np.ndarray] = []
        self._present: list[np.ndarray | None] = []
        absent = None
        for slot in range(num_slots):
            entry = 4 + 2 * slot
            has = vt_size > entry
            voff = np.zeros(len(tables), dtype=np.int64)
            if has.any():
                voff[has] = g.uint(tables[has] + entry, 2)
            if voff.any():
                self.pos.append(_field_positions(tpos, voff, inverse))
                self._present.append(None)
            else:  # no table has this field: one shared column of -1 for every such slot
                if absent is None:
                    absent = np.full(len(tpos), -1, dtype=np.int64)
                self.pos.append(absent)
                self._present.append(np.zeros(len(tpos), dtype=bool))
            if inverse is not None and len(voff) == 1 and voff[0]:
                self._present[-1] = np.ones(len(tpos), dtype=bool)

    def present(self, slot: int) -> np.ndarray:
        known = self._present[slot]
        return self.pos[slot] >= 0 if known is None else known


def _distinct(values: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The distinct ``values`` and each value's index among them, when they span a range
    small enough for a lookup table (else None)."""
    if not len(values):
        return None
    lo, hi = int(values.min()), int(values.max())
    if hi - lo > 4 * len(values) + 1024:
        return None
    seen = np.zeros(hi - lo + 1, dtype=bool)
    seen[values - lo] = True
    distinct = np.flatnonzero(seen)
    lookup = np.zeros(hi - lo + 1, dtype=np.int32)
    lookup[distinct] = np.arange(len(distinct), dtype=np.int32)
    return distinct + lo, lookup[values - lo]


def _field_positions(tpos: np.ndarray, voff: np.ndarray, inverse: np.ndarray | None) -> np.ndarray:
    """Each table's field position from its vtable's field offset (``voff[inverse]``)."""
    if inverse is not None:
        if len(voff) == 1:
            return tpos + int(voff[0])
        voff = voff[inverse]
    return np.where(voff != 0, tpos + voff, -1)


_GATHER_BYTES = 1 << 22  # bytes copied per step by ``copy_spans`` (bounds its index arrays)
_LONG_SPANS = 24  # mean span length from which ``copy_spans`` copies span by span


def copy_spans(
    dst: np.ndarray, dst_pos: np.ndarray, src: np.ndarray, src_pos: np.ndarray, lens: np.ndarray
) -> None:
    """Copy ``lens[i]`` bytes from ``src[src_pos[i]:]`` to ``dst[dst_pos[i]:]`` for every i."""
    total = int(lens.sum()) if len(lens) else 0
    if not total:
        return
    if total >= _LONG_SPANS * len(lens):  # long spans: one slice copy each beats index arrays
        out, source = dst.data.cast("B"), src.data.cast("B")
        for d, s, n in zip(dst_pos.tolist(), src_pos.tolist(), lens.tolist()):
            out[d : d + n] = source[s : s + n]
        return
    ends = np.cumsum(lens)
    first = 0
    while first < len(lens):
        done = int(ends[first - 1]) if first else 0
        last = int(np.searchsorted(ends, done + _GATHER_BYTES, side="right"))
        last = max(last, first + 1)
        part = slice(first, last)
        n = lens[part]
        if n[0] == n.min() == n.max():  # spans of one length (fixed-size inline chunks)
            width = np.arange(int(n[0]), dtype=np.int64)
            dst[dst_pos[part][:, None] + width] = src[src_pos[part][:, None] + width]
        else:
            count = int(n.sum())
            within = np.arange(count, dtype=np.int64) - np.repeat(np.cumsum(n) - n, n)
            dst[np.repeat(dst_pos[part], n) + within] = src[np.repeat(src_pos[part], n) + within]
        first = last

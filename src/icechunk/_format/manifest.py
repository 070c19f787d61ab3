"""Manifests (file type 2): chunk references of arrays, held in memory as numpy columns.

A reference is one of three kinds: inline bytes kept in the manifest, a native chunk object
(``chunks/<id>``, offset, length) or a virtual location in another file (with an etag or
last-modified checksum). Per-chunk Python objects are avoided: an array's references are a
:class:`ChunkRefTable` whose rows are sorted by chunk coordinates.

Chunk checksums (beyond spec v1): a native reference may carry the CRC-32 of its chunk bytes,
written as an extra ``ChunkRef`` field (slot 8, ``uint32``) after the eight fields of spec v1.
Flatbuffers readers ignore fields beyond their schema, so upstream Icechunk reads such
manifests unchanged (and drops the field when it rewrites one); this package verifies the
checksum whenever it reads a whole native chunk, so a damaged chunk object is a
:class:`~icechunk._exceptions.ChecksumMismatchError` rather than silently changed values.
References without the field (written by upstream, or forks that lost it) are not checked.
"""

from __future__ import annotations

import enum
import itertools
import operator
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property

import numpy as np

ChunkCoords = tuple[int, ...]


class RefKind(enum.IntEnum):
    INLINE = 0
    NATIVE = 1
    VIRTUAL = 2


@dataclass(frozen=True, slots=True)
class InlineChunk:
    """Chunk bytes stored inside the manifest."""

    data: bytes


@dataclass(frozen=True, slots=True)
class NativeChunk:
    """A byte range of the object ``chunks/<chunk_id>``.

    ``checksum`` is the :func:`chunk_checksum` of those bytes, when it was recorded.
    """

    chunk_id: bytes
    offset: int
    length: int
    checksum: int | None = None


def chunk_checksum(data: bytes | bytearray | memoryview) -> int:
    """The checksum recorded for native chunk bytes: their CRC-32 (zlib's, as an unsigned int)."""
    return zlib.crc32(data) & 0xFFFFFFFF


@dataclass(frozen=True, slots=True)
class VirtualChunk:
    """A byte range of a file outside the repository.

    ``last_modified`` is seconds since the epoch; ``etag`` and ``last_modified`` are
    alternative checksums (at most one is set).
    """

    location: str
    offset: int
    length: int
    etag: str | None = None
    last_modified: int | None = None


ChunkPayload = InlineChunk | NativeChunk | VirtualChunk


@dataclass(frozen=True, eq=False)
class ChunkRefTable:
    """The chunk references of one array, columnar, rows sorted by ``coords``."""

    coords: np.ndarray  # (n, ndim) uint32
    kind: np.ndarray  # (n,) uint8, RefKind
    chunk_id: np.ndarray  # (n, 12) uint8; zeros unless NATIVE
    offset: np.ndarray  # (n,) uint64
    length: np.ndarray  # (n,) uint64
    inline: np.ndarray  # (n,) object: bytes for INLINE rows, else None
    location: np.ndarray  # (n,) object: str for VIRTUAL rows, else None
    etag: np.ndarray  # (n,) object: str or None
    last_modified: np.ndarray  # (n,) uint32; 0 means none
    checksum: np.ndarray | None = None  # (n,) int64 chunk_checksum of NATIVE rows; -1: none

    def __post_init__(self) -> None:
        if self.checksum is None:
            object.__setattr__(self, "checksum", np.full(len(self), -1, dtype=np.int64))

    @property
    def checksums(self) -> np.ndarray:
        """The checksum column (typed accessor; never None after construction)."""
        assert self.checksum is not None
        return self.checksum

    def __len__(self) -> int:
        return int(self.kind.shape[0])

    @property
    def ndim(self) -> int:
        return int(self.coords.shape[1])

    @classmethod
    def empty(cls, ndim: int) -> ChunkRefTable:
        return cls.from_payloads(ndim, ())

    @classmethod
    def from_payloads(
        cls, ndim: int, items: Iterable[tuple[ChunkCoords, ChunkPayload]]
    ) -> ChunkRefTable:
        """Build a table from ``(coords, payload)`` pairs (any order, unique coords).

        Columns are filled per kind of reference, one comprehension per column, rather than
        row by row.
        """
        pairs = list(items)
        return cls.from_lists(ndim, [c for c, _ in pairs], [p for _, p in pairs])

    @classmethod
    def from_lists(
        cls,
        ndim: int,
        keys: list[ChunkCoords],
        payloads: list[ChunkPayload],
        packed: np.ndarray | None = None,
    ) -> ChunkRefTable:
        """Build a table from coordinates and their payloads (any order, unique coords).

        ``packed``, when given, is ``keys`` already as an ``(n, ndim)`` integer array.
        """
        n = len(keys)
        coords = np.zeros((n, ndim), dtype=np.uint32)
        if n:
            packed = uniform_coords(keys) if packed is None else packed
            if packed is None or packed.shape[1] != ndim or not _fits_u32(packed):
                packed = np.array(keys, dtype=np.uint32).reshape(n, ndim)
            coords[:] = packed
        kinds = map(_KIND_OF.get, map(type, payloads), itertools.repeat(RefKind.VIRTUAL))
        kind = np.fromiter(kinds, dtype=np.uint8, count=n)
        columns = _Columns.zeros(n)
        columns.fill_inline(np.flatnonzero(kind == RefKind.INLINE), payloads)
        columns.fill_native(np.flatnonzero(kind == RefKind.NATIVE), payloads)
        columns.fill_virtual(np.flatnonzero(kind == RefKind.VIRTUAL), payloads)
        return cls(
            coords,
            kind,
            columns.chunk_id,
            columns.offset,
            columns.length,
            columns.inline,
            columns.location,
            columns.etag,
            columns.last_modified,
            columns.checksum,
        )._sorted()

    def _take(self, rows: np.ndarray) -> ChunkRefTable:
        return ChunkRefTable(
            self.coords[rows],
            self.kind[rows],
            self.chunk_id[rows],
            self.offset[rows],
            self.length[rows],
            self.inline[rows],
            self.location[rows],
            self.etag[rows],
            self.last_modified[rows],
            self.checksums[rows],
        )

    def _sorted(self) -> ChunkRefTable:
        if len(self) < 2 or self.ndim == 0:
            return self
        order = np.lexsort(self.coords.T[::-1])
        return self._take(order)

    @cached_property
    def _index(self) -> _KeyIndex | None:
        """Packed coordinates of every row, sorted, for binary search (None if too large)."""
        return _KeyIndex.build(self.coords)

    @cached_property
    def _row_of(self) -> dict[ChunkCoords, int]:
        # fallback for grids whose packed coordinates would not fit in 63 bits
        return {tuple(c): i for i, c in enumerate(self.coords.tolist())}

    def lookup(self, coords: ChunkCoords) -> ChunkPayload | None:
        """The reference at ``coords``, or None."""
        if len(coords) != self.ndim or len(self) == 0:
            return None
        index = self._index
        row = self._row_of.get(coords) if index is None else index.row(coords)
        return None if row is None else self.payload(row)

    def payload(self, row: int) -> ChunkPayload:
        """The reference in ``row`` as a payload object."""
        kind = int(self.kind[row])  # a Python int: numpy scalars compare slowly with enums
        if kind == RefKind.INLINE:
            return InlineChunk(self.inline[row])
        if kind == RefKind.NATIVE:
            checksum = int(self.checksums[row])
            return NativeChunk(
                self.chunk_id[row].tobytes(),
                int(self.offset[row]),
                int(self.length[row]),
                None if checksum < 0 else checksum,
            )
        lm = int(self.last_modified[row])
        return VirtualChunk(
            self.location[row],
            int(self.offset[row]),
            int(self.length[row]),
            self.etag[row],
            lm or None,
        )

    def iter_coords(self) -> Iterable[ChunkCoords]:
        return (tuple(c) for c in self.coords.tolist())

    def items(self) -> Iterable[tuple[ChunkCoords, ChunkPayload]]:
        for row, c in enumerate(self.coords.tolist()):
            yield tuple(c), self.payload(row)

    def updated(self, changes: Mapping[ChunkCoords, ChunkPayload | None]) -> ChunkRefTable:
        """A new table with ``changes`` applied (a ``None`` payload deletes the ref)."""
        if not changes:
            return self
        keys = list(changes)
        query = coords_array(keys, self.ndim)
        replaced = self._rows_matching(query)
        values = list(changes.values())
        present = list(map(operator.is_not, values, itertools.repeat(None)))
        packed: np.ndarray | None = query if len(query) == len(keys) else None
        if not all(present):
            keys = list(itertools.compress(keys, present))
            values = list(itertools.compress(values, present))
            packed = None
        added = ChunkRefTable.from_lists(self.ndim, keys, values, packed)  # type: ignore[arg-type]
        return concat_tables([self._take(np.flatnonzero(~replaced)), added])._sorted()

    def _rows_matching(self, query: np.ndarray) -> np.ndarray:
        """Boolean mask of the rows whose coordinates are among the rows of ``query``."""
        n = len(self)
        if n == 0 or len(query) == 0:
            return np.zeros(n, dtype=bool)
        if self.ndim == 0:
            return np.ones(n, dtype=bool)
        index = self._index
        if index is None:
            rows = [self._row_of.get(c) for c in map(tuple, query.tolist())]
            mask = np.zeros(n, dtype=bool)
            mask[[r for r in rows if r is not None]] = True
            return mask
        found = index.rows(query)
        mask = np.zeros(n, dtype=bool)
        mask[found[found >= 0]] = True
        return mask

    def filtered(self, mask: np.ndarray) -> ChunkRefTable:
        """A new table with only the rows where ``mask`` is true."""
        return self._take(np.flatnonzero(mask))

    def extents(self) -> tuple[tuple[int, int], ...]:
        """Per-dimension half-open chunk index ranges covering every row."""
        if len(self) == 0:
            return tuple((0, 0) for _ in range(self.ndim))
        lo = self.coords.min(axis=0).tolist()
        hi = self.coords.max(axis=0).tolist()
        return tuple((int(a), int(b) + 1) for a, b in zip(lo, hi))


_KIND_OF: dict[type, RefKind] = {
    InlineChunk: RefKind.INLINE,
    NativeChunk: RefKind.NATIVE,
    VirtualChunk: RefKind.VIRTUAL,
}


@dataclass
class _Columns:
    """The payload columns of a table under construction (see ``ChunkRefTable``)."""

    chunk_id: np.ndarray
    offset: np.ndarray
    length: np.ndarray
    inline: np.ndarray
    location: np.ndarray
    etag: np.ndarray
    last_modified: np.ndarray
    checksum: np.ndarray

    @classmethod
    def zeros(cls, n: int) -> _Columns:
        return cls(
            np.zeros((n, 12), dtype=np.uint8),
            np.zeros(n, dtype=np.uint64),
            np.zeros(n, dtype=np.uint64),
            np.full(n, None, dtype=object),
            np.full(n, None, dtype=object),
            np.full(n, None, dtype=object),
            np.zeros(n, dtype=np.uint32),
            np.full(n, -1, dtype=np.int64),
        )

    def fill_inline(self, rows: np.ndarray, payloads: list[ChunkPayload]) -> None:
        data = [p.data for p in _select(payloads, rows)]  # type: ignore[union-attr]
        if data:
            self.inline[rows] = _object_array(data)
            self.length[rows] = np.fromiter(map(len, data), dtype=np.uint64, count=len(data))

    def fill_native(self, rows: np.ndarray, payloads: list[ChunkPayload]) -> None:
        refs: list[NativeChunk] = _select(payloads, rows)  # type: ignore[assignment]
        if not refs:
            return
        m = len(refs)
        ids = b"".join([p.chunk_id for p in refs])
        self.chunk_id[rows] = np.frombuffer(ids, dtype=np.uint8).reshape(m, 12)
        self.offset[rows] = np.fromiter((p.offset for p in refs), dtype=np.uint64, count=m)
        self.length[rows] = np.fromiter((p.length for p in refs), dtype=np.uint64, count=m)
        self.checksum[rows] = np.fromiter(
            (-1 if p.checksum is None else p.checksum for p in refs), dtype=np.int64, count=m
        )

    def fill_virtual(self, rows: np.ndarray, payloads: list[ChunkPayload]) -> None:
        refs: list[VirtualChunk] = _select(payloads, rows)  # type: ignore[assignment]
        if not refs:
            return
        m = len(refs)
        self.location[rows] = _object_array([p.location for p in refs])
        self.offset[rows] = np.fromiter((p.offset for p in refs), dtype=np.uint64, count=m)
        self.length[rows] = np.fromiter((p.length for p in refs), dtype=np.uint64, count=m)
        self.etag[rows] = _object_array([p.etag for p in refs])
        self.last_modified[rows] = np.fromiter(
            (p.last_modified or 0 for p in refs), dtype=np.uint32, count=m
        )


def _fits_u32(coords: np.ndarray) -> bool:
    """Whether every coordinate is a valid uint32 chunk index."""
    return not len(coords) or bool((coords >= 0).all() and (coords <= 0xFFFFFFFF).all())


def _select(payloads: list[ChunkPayload], rows: np.ndarray) -> list[ChunkPayload]:
    """The payloads at ``rows`` (ascending), without copying when that is all of them."""
    if len(rows) == len(payloads):
        return payloads
    return [payloads[r] for r in rows.tolist()]


def _object_array(values: list[object]) -> np.ndarray:
    """A 1-d object array of ``values`` (never split into more dimensions by numpy)."""
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def uniform_coords(keys: list[ChunkCoords]) -> np.ndarray | None:
    """``keys`` as an ``(n, ndim)`` int64 array, or None when empty or of mixed ranks."""
    ranks = set(map(len, keys))
    if len(ranks) != 1:
        return None
    n, ndim = len(keys), ranks.pop()
    try:
        flat = np.fromiter(itertools.chain.from_iterable(keys), dtype=np.int64, count=n * ndim)
    except (ValueError, OverflowError, TypeError):
        return None
    return flat.reshape(n, ndim)


def coords_array(coords: Iterable[ChunkCoords], ndim: int) -> np.ndarray:
    """Chunk coordinates as an ``(n, ndim)`` int64 array, leaving out those of another rank."""
    keys = list(coords)
    arr = uniform_coords(keys)
    if arr is None or arr.shape[1] != ndim:
        keys = [c for c in keys if len(c) == ndim]
        arr = np.array(keys, dtype=np.int64).reshape(len(keys), ndim)
    return arr


@dataclass(frozen=True)
class _KeyIndex:
    """Row coordinates packed into one int64 each (mixed radix), sorted for binary search.

    ``radix`` is one more than the largest coordinate per dimension, so packing keeps the
    lexicographic order of coordinates; ``order`` maps sorted keys back to table rows.
    """

    radix: tuple[int, ...]
    strides: np.ndarray  # (ndim,) int64
    keys: np.ndarray  # (n,) int64, ascending
    order: np.ndarray | None  # sorted position -> row; None when rows are already sorted

    @classmethod
    def build(cls, coords: np.ndarray) -> _KeyIndex | None:
        n, ndim = coords.shape
        if n == 0 or ndim == 0:
            return cls((), np.zeros(0, dtype=np.int64), np.zeros(n, dtype=np.int64), None)
        radix = tuple(int(m) + 1 for m in coords.max(axis=0).tolist())
        strides = [1] * ndim
        for axis in range(ndim - 2, -1, -1):
            strides[axis] = strides[axis + 1] * radix[axis + 1]
        if strides[0] * radix[0] >= 2**63:
            return None
        stride_arr = np.array(strides, dtype=np.int64)
        keys = coords.astype(np.int64) @ stride_arr
        order = None
        if n > 1 and not bool((keys[1:] > keys[:-1]).all()):
            order = np.argsort(keys, kind="stable")
            keys = keys[order]
        return cls(radix, stride_arr, keys, order)

    def row(self, coords: ChunkCoords) -> int | None:
        """The row holding ``coords`` (of the table's rank), or None."""
        key = 0
        for c, r in zip(coords, self.radix):
            if not 0 <= c < r:
                return None
            key = key * r + c
        pos = int(np.searchsorted(self.keys, key))
        if pos >= len(self.keys) or int(self.keys[pos]) != key:
            return None
        return pos if self.order is None else int(self.order[pos])

    def rows(self, query: np.ndarray) -> np.ndarray:
        """Row of each ``(m, ndim)`` query coordinate, -1 where the table has none."""
        radix = np.array(self.radix, dtype=np.int64)
        inside: np.ndarray = np.asarray(((query >= 0) & (query < radix)).all(axis=1))
        keys = np.where(inside, np.where(inside[:, None], query, 0) @ self.strides, -1)
        pos = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        hit = inside & (self.keys[pos] == keys)
        rows = pos if self.order is None else self.order[pos]
        return np.where(hit, rows, -1)


def concat_tables(tables: list[ChunkRefTable]) -> ChunkRefTable:
    """Rows of all tables, unsorted; tables must share ndim."""
    if len(tables) == 1:
        return tables[0]
    return ChunkRefTable(
        *(
            np.concatenate([getattr(t, name) for t in tables])
            for name in (
                "coords",
                "kind",
                "chunk_id",
                "offset",
                "length",
                "inline",
                "location",
                "etag",
                "last_modified",
                "checksums",
            )
        )
    )


@dataclass(frozen=True, eq=False)
class Manifest:
    """A manifest file: chunk reference tables keyed by 8-byte node id."""

    manifest_id: bytes
    arrays: Mapping[bytes, ChunkRefTable]

    @property
    def num_chunk_refs(self) -> int:
        return sum(len(t) for t in self.arrays.values())


def encode_manifest(manifest: Manifest) -> bytes:
    """Serialize ``manifest`` as a flatbuffer (no file header); see ``_codec_manifest``."""
    from ._codec_manifest import encode_manifest as encode

    return encode(manifest)


def decode_manifest(buf: bytes) -> Manifest:
    """Parse a manifest flatbuffer (no file header); raise FormatError if it is invalid."""
    from ._codec_manifest import decode_manifest as decode

    return decode(buf)

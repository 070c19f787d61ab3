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

import abc
import itertools
import operator
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np

from ._coords import ChunkCoords, _KeyIndex, coords_array, intern_strings, uniform_coords
from ._payloads import ChunkPayload, InlineChunk, NativeChunk, RefKind, VirtualChunk

_UNSET = np.zeros(0)  # a column left to its default


def _unset() -> np.ndarray:
    return _UNSET


# the columns a table may be made without: trailing shape, dtype and value of each row
_COLUMN_DEFAULTS: dict[str, tuple[tuple[int, ...], type, int]] = {
    "chunk_id": ((12,), np.uint8, 0),
    "offset": ((), np.uint64, 0),
    "length": ((), np.uint64, 0),
    "checksum": ((), np.int64, -1),
    "last_modified": ((), np.uint32, 0),
    "location_index": ((), np.int32, -1),
    "etag_index": ((), np.int32, -1),
    "inline_start": ((), np.int64, 0),
}


@dataclass(frozen=True, eq=False)
class ChunkRefTable:
    """The chunk references of one array, columnar, rows sorted by ``coords``.

    Strings and inline bytes are not kept per row: a virtual row holds an index into the
    ``locations`` table (and into ``etags``), an inline row the start of its bytes in the
    shared ``inline_data`` buffer (its length is the ``length`` column). Tables made from one
    another share those tables and buffers, which may then hold unused entries.
    """

    coords: np.ndarray  # (n, ndim) uint32
    kind: np.ndarray  # (n,) uint8, RefKind
    chunk_id: np.ndarray = field(default_factory=_unset)  # (n, 12) uint8; zeros unless NATIVE
    offset: np.ndarray = field(default_factory=_unset)  # (n,) uint64
    length: np.ndarray = field(default_factory=_unset)  # (n,) uint64; INLINE rows too
    checksum: np.ndarray = field(default_factory=_unset)  # (n,) int64 of NATIVE rows; -1: none
    last_modified: np.ndarray = field(default_factory=_unset)  # (n,) uint32; 0 means none
    location_index: np.ndarray = field(default_factory=_unset)  # (n,) int32; -1: none
    locations: tuple[str, ...] = ()
    etag_index: np.ndarray = field(default_factory=_unset)  # (n,) int32; -1: none
    etags: tuple[str, ...] = ()
    inline_start: np.ndarray = field(default_factory=_unset)  # (n,) int64 into inline_data
    inline_data: bytes = b""

    def __post_init__(self) -> None:
        n = len(self.kind)
        for name, (shape, dtype, value) in _COLUMN_DEFAULTS.items():
            if getattr(self, name) is _UNSET:
                column: np.ndarray = np.zeros((n, *shape), dtype=dtype)  # zero pages come lazily
                if value:
                    column.fill(value)
                object.__setattr__(self, name, column)

    # typed accessors of the columns (never None after construction)
    @property
    def ids(self) -> np.ndarray:
        assert self.chunk_id is not None
        return self.chunk_id

    @property
    def offsets(self) -> np.ndarray:
        assert self.offset is not None
        return self.offset

    @property
    def lengths(self) -> np.ndarray:
        assert self.length is not None
        return self.length

    @property
    def checksums(self) -> np.ndarray:
        assert self.checksum is not None
        return self.checksum

    @property
    def modified(self) -> np.ndarray:
        assert self.last_modified is not None
        return self.last_modified

    @property
    def loc_index(self) -> np.ndarray:
        assert self.location_index is not None
        return self.location_index

    @property
    def etag_rows(self) -> np.ndarray:
        assert self.etag_index is not None
        return self.etag_index

    @property
    def starts(self) -> np.ndarray:
        assert self.inline_start is not None
        return self.inline_start

    @cached_property
    def location(self) -> np.ndarray:
        """Per-row location strings (None where absent), as an object array."""
        return _strings_column(self.locations, self.loc_index)

    @cached_property
    def etag(self) -> np.ndarray:
        """Per-row etags (None where absent), as an object array."""
        return _strings_column(self.etags, self.etag_rows)

    @cached_property
    def inline(self) -> np.ndarray:
        """Per-row inline bytes (None for other kinds), as an object array."""
        out = np.full(len(self), None, dtype=object)
        rows = np.flatnonzero(self.kind == RefKind.INLINE)
        if len(rows):
            out[rows] = _object_array([self.inline_bytes(r) for r in rows.tolist()])
        return out

    def inline_bytes(self, row: int) -> bytes:
        start = int(self.starts[row])
        return self.inline_data[start : start + int(self.lengths[row])]

    def __len__(self) -> int:
        return int(self.kind.shape[0])

    @property
    def ndim(self) -> int:
        return int(self.coords.shape[1])

    @classmethod
    def empty(cls, ndim: int) -> ChunkRefTable:
        return cls(np.zeros((0, ndim), dtype=np.uint32), np.zeros(0, dtype=np.uint8))

    @classmethod
    def from_payloads(
        cls, ndim: int, items: Iterable[tuple[ChunkCoords, ChunkPayload]]
    ) -> ChunkRefTable:
        """Build a table from ``(coords, payload)`` pairs (any order, unique coords)."""
        pairs = list(items)
        return cls.from_lists(ndim, [c for c, _ in pairs], [p for _, p in pairs])

    @classmethod
    def from_lists(
        cls,
        ndim: int,
        keys: list[ChunkCoords],
        payloads: list[ChunkPayload],
        packed: np.ndarray | None = None,
        types: set[type] | None = None,
    ) -> ChunkRefTable:
        """Build a table from coordinates and their payloads (any order, unique coords).

        ``packed``, when given, is ``keys`` already as an ``(n, ndim)`` integer array, and
        ``types`` the set of the payloads' types. Columns are filled per kind of reference.
        """
        n = len(keys)
        coords = np.zeros((n, ndim), dtype=np.uint32)
        if n:
            packed = uniform_coords(keys) if packed is None else packed
            if packed is None or packed.shape[1] != ndim or not _fits_u32(packed):
                packed = np.array(keys, dtype=np.uint32).reshape(n, ndim)
            coords[:] = packed
        if types is not None and len(types) == 1:  # one kind: no pass over the payloads
            kind = np.full(n, _KIND_OF.get(next(iter(types)), RefKind.VIRTUAL), dtype=np.uint8)
        else:
            kinds = map(_KIND_OF.get, map(type, payloads), itertools.repeat(RefKind.VIRTUAL))
            kind = np.fromiter(kinds, dtype=np.uint8, count=n)
        columns = _Columns(coords, kind)
        columns.fill_inline(np.flatnonzero(kind == RefKind.INLINE), payloads)
        columns.fill_native(np.flatnonzero(kind == RefKind.NATIVE), payloads)
        columns.fill_virtual(np.flatnonzero(kind == RefKind.VIRTUAL), payloads)
        return columns.table()._sorted()

    @classmethod
    def virtual(
        cls,
        coords: np.ndarray,
        locations: Sequence[str],
        location_index: np.ndarray,
        offset: np.ndarray,
        length: np.ndarray,
        etag: str | None = None,
        last_modified: int | None = None,
    ) -> ChunkRefTable:
        """A table of virtual references sharing one checksum (unsorted ``coords`` allowed)."""
        n = len(location_index)
        etag_index = np.full(n, -1 if etag is None else 0, dtype=np.int32)
        return cls(
            coords=np.ascontiguousarray(coords, dtype=np.uint32).reshape(n, -1),
            kind=np.full(n, RefKind.VIRTUAL, dtype=np.uint8),
            offset=np.asarray(offset, dtype=np.uint64),
            length=np.asarray(length, dtype=np.uint64),
            last_modified=np.full(n, last_modified or 0, dtype=np.uint32),
            location_index=np.asarray(location_index, dtype=np.int32),
            locations=tuple(locations),
            etag_index=etag_index,
            etags=() if etag is None else (etag,),
        )._sorted()

    def _take(self, rows: np.ndarray) -> ChunkRefTable:
        return replace(
            self,
            coords=self.coords[rows],
            kind=self.kind[rows],
            **{name: getattr(self, name)[rows] for name in _ROW_COLUMNS},
        )

    def _sorted(self) -> ChunkRefTable:
        if len(self) < 2 or self.ndim == 0:
            return self
        keys = _KeyIndex.build(self.coords)
        if keys is not None:
            if keys.order is None:
                return self
            return self._take(keys.order)
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

    def row_of(self, coords: ChunkCoords) -> int | None:
        """The row holding ``coords``, or None."""
        if len(coords) != self.ndim or len(self) == 0:
            return None
        index = self._index
        return self._row_of.get(coords) if index is None else index.row(coords)

    def lookup(self, coords: ChunkCoords) -> ChunkPayload | None:
        """The reference at ``coords``, or None."""
        row = self.row_of(coords)
        return None if row is None else self.payload(row)

    def payload(self, row: int) -> ChunkPayload:
        """The reference in ``row`` as a payload object."""
        kind = int(self.kind[row])  # a Python int: numpy scalars compare slowly with enums
        if kind == RefKind.INLINE:
            start = int(self.starts[row])
            return InlineChunk(memoryview(self.inline_data)[start : start + int(self.lengths[row])])
        if kind == RefKind.NATIVE:
            checksum = int(self.checksums[row])
            return NativeChunk(
                self.ids[row].tobytes(),
                int(self.offsets[row]),
                int(self.lengths[row]),
                None if checksum < 0 else checksum,
            )
        lm = int(self.modified[row])
        loc, etag = int(self.loc_index[row]), int(self.etag_rows[row])
        return VirtualChunk(
            self.locations[loc] if loc >= 0 else "",
            int(self.offsets[row]),
            int(self.lengths[row]),
            self.etags[etag] if etag >= 0 else None,
            lm or None,
        )

    def iter_coords(self) -> Iterable[ChunkCoords]:
        return (tuple(c) for c in self.coords.tolist())

    def items(self) -> Iterable[tuple[ChunkCoords, ChunkPayload]]:
        for row, c in enumerate(self.coords.tolist()):
            yield tuple(c), self.payload(row)

    def updated(
        self,
        changes: Mapping[ChunkCoords, ChunkPayload | None],
        packed: np.ndarray | None = None,
    ) -> ChunkRefTable:
        """A new table with ``changes`` applied (a ``None`` payload deletes the ref).

        ``packed``, when given, is the keys of ``changes`` of this table's rank, as from
        :func:`coords_array`.
        """
        if not changes:
            return self
        keys = list(changes)
        query = coords_array(keys, self.ndim) if packed is None else packed
        replaced = self._rows_matching(query)
        values = list(changes.values())
        types = set(map(type, values))
        added_packed = query if len(query) == len(keys) else None
        if type(None) in types:  # deletions
            present = list(map(operator.is_not, values, itertools.repeat(None)))
            keys = list(itertools.compress(keys, present))
            values = list(itertools.compress(values, present))
            added_packed = None
            types.discard(type(None))
        added = ChunkRefTable.from_lists(self.ndim, keys, values, added_packed, types)  # type: ignore[arg-type]
        return concat_tables([self._take(np.flatnonzero(~replaced)), added])._sorted()

    def overlaid(self, other: ChunkRefTable) -> ChunkRefTable:
        """A new table: the rows of ``other`` replace (or add to) the rows of this one."""
        if len(other) == 0:
            return self
        if len(self) == 0 and other.ndim == self.ndim:
            return other
        replaced = self._rows_matching(other.coords.astype(np.int64))
        return concat_tables([self._take(np.flatnonzero(~replaced)), other])._sorted()

    def without(self, query: np.ndarray) -> ChunkRefTable:
        """A new table without the rows whose coordinates are among the rows of ``query``."""
        return self._take(np.flatnonzero(~self._rows_matching(query)))

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

    def contains(self, query: np.ndarray) -> np.ndarray:
        """Whether each row of the ``(m, ndim)`` ``query`` has a row in this table."""
        if len(self) == 0 or len(query) == 0:
            return np.zeros(len(query), dtype=bool)
        if self.ndim == 0:
            return np.ones(len(query), dtype=bool)
        index = self._index
        if index is None:
            return np.array([c in self._row_of for c in map(tuple, query.tolist())], dtype=bool)
        return np.asarray(index.rows(query) >= 0)

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

    def nbytes(self) -> int:
        """Memory held by the table's columns, tables and buffers (approximately)."""
        arrays = [self.coords, self.kind, *(getattr(self, c) for c in _ROW_COLUMNS)]
        strings = sum(len(s) + 49 for s in self.locations + self.etags)
        return sum(a.nbytes for a in arrays) + strings + len(self.inline_data)


# the columns that joining tables copies as they are (strings and inline starts are recoded)
JOINED_COLUMNS = ("coords", "kind", "chunk_id", "offset", "length", "checksum", "last_modified")

# every per-row column besides ``coords`` and ``kind``
_ROW_COLUMNS = (
    "chunk_id",
    "offset",
    "length",
    "checksum",
    "last_modified",
    "location_index",
    "etag_index",
    "inline_start",
)

_KIND_OF: dict[type, RefKind] = {
    InlineChunk: RefKind.INLINE,
    NativeChunk: RefKind.NATIVE,
    VirtualChunk: RefKind.VIRTUAL,
}


def _strings_column(table: tuple[str, ...], index: np.ndarray) -> np.ndarray:
    values = _object_array([*table, None])
    return values[np.where(index >= 0, index, len(table))]


class _Columns:
    """The columns of a table under construction from payload objects."""

    def __init__(self, coords: np.ndarray, kind: np.ndarray) -> None:
        self.coords, self.kind = coords, kind
        self.empty = ChunkRefTable(coords, kind)
        self.locations: tuple[str, ...] = ()
        self.etags: tuple[str, ...] = ()
        self.inline_data = b""

    def table(self) -> ChunkRefTable:
        return replace(
            self.empty, locations=self.locations, etags=self.etags, inline_data=self.inline_data
        )

    def fill_inline(self, rows: np.ndarray, payloads: list[ChunkPayload]) -> None:
        data: list[InlineChunk] = _select(payloads, rows)  # type: ignore[assignment]
        if data:
            lens = np.fromiter(map(len, data), dtype=np.int64, count=len(data))
            self.empty.lengths[rows] = lens
            self.empty.starts[rows] = np.cumsum(lens) - lens
            self.inline_data = b"".join(data)

    def fill_native(self, rows: np.ndarray, payloads: list[ChunkPayload]) -> None:
        refs: list[NativeChunk] = _select(payloads, rows)  # type: ignore[assignment]
        if not refs:
            return
        m, t = len(refs), self.empty
        ids = b"".join([p.chunk_id for p in refs])
        t.ids[rows] = np.frombuffer(ids, dtype=np.uint8).reshape(m, 12)
        t.offsets[rows] = np.fromiter((p.offset for p in refs), dtype=np.uint64, count=m)
        t.lengths[rows] = np.fromiter((p.length for p in refs), dtype=np.uint64, count=m)
        t.checksums[rows] = np.fromiter(
            (-1 if p.checksum is None else p.checksum for p in refs), dtype=np.int64, count=m
        )

    def fill_virtual(self, rows: np.ndarray, payloads: list[ChunkPayload]) -> None:
        refs: list[VirtualChunk] = _select(payloads, rows)  # type: ignore[assignment]
        if not refs:
            return
        m, t = len(refs), self.empty
        self.locations, t.loc_index[rows] = intern_strings([p.location for p in refs])
        t.offsets[rows] = np.fromiter((p.offset for p in refs), dtype=np.uint64, count=m)
        t.lengths[rows] = np.fromiter((p.length for p in refs), dtype=np.uint64, count=m)
        self.etags, t.etag_rows[rows] = intern_strings([p.etag for p in refs])
        t.modified[rows] = np.fromiter(
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


def concat_tables(tables: list[ChunkRefTable]) -> ChunkRefTable:
    """Rows of all tables, unsorted; tables must share ndim."""
    if len(tables) == 1:
        return tables[0]
    locations, loc_index = _merged_tables(tables, "locations", "loc_index")
    etags, etag_index = _merged_tables(tables, "etags", "etag_rows")
    shift = np.cumsum([0] + [len(t.inline_data) for t in tables[:-1]])
    columns = {name: np.concatenate([getattr(t, name) for t in tables]) for name in JOINED_COLUMNS}
    return ChunkRefTable(
        **columns,
        location_index=loc_index,
        locations=locations,
        etag_index=etag_index,
        etags=etags,
        inline_start=np.concatenate([t.starts + int(s) for t, s in zip(tables, shift)]),
        inline_data=b"".join(t.inline_data for t in tables),
    )


def _merged_tables(
    tables: list[ChunkRefTable], strings: str, index: str
) -> tuple[tuple[str, ...], np.ndarray]:
    """One string table for all ``tables`` and every row's index into it."""
    merged: dict[str, int] = {}
    parts = [recode_strings(getattr(t, index), getattr(t, strings), merged) for t in tables]
    return tuple(merged), np.concatenate(parts) if parts else np.zeros(0, dtype=np.int32)


def recode_strings(
    index: np.ndarray, strings: tuple[str, ...], codes: dict[str, int]
) -> np.ndarray:
    """``index`` (into ``strings``; -1: none) as indices into ``codes``, a string table that
    grows with the strings it did not hold yet."""
    recode = np.array([codes.setdefault(s, len(codes)) for s in strings] + [-1], dtype=np.int32)
    return recode[index]  # -1 picks the appended -1


class LazyTables(Mapping[bytes, ChunkRefTable]):
    """A manifest's tables (by node id) that are decoded when first used.

    :meth:`lookup` may answer a single lookup without decoding a whole table.
    """

    @property
    @abc.abstractmethod
    def num_refs(self) -> int:
        """The number of refs in all tables, without decoding them."""

    @abc.abstractmethod
    def lookup(self, node_id: bytes, coords: ChunkCoords) -> ChunkPayload | None:
        """The reference at ``coords`` of array ``node_id``, or None."""


@dataclass(frozen=True, eq=False)
class Manifest:
    """A manifest file: chunk reference tables keyed by 8-byte node id."""

    manifest_id: bytes
    arrays: Mapping[bytes, ChunkRefTable]

    @property
    def num_chunk_refs(self) -> int:
        if isinstance(self.arrays, LazyTables):
            return self.arrays.num_refs
        return sum(len(t) for t in self.arrays.values())

    def lookup(self, node_id: bytes, coords: ChunkCoords) -> ChunkPayload | None:
        """The reference at ``coords`` of array ``node_id``, or None."""
        if isinstance(self.arrays, LazyTables):
            return self.arrays.lookup(node_id, coords)
        table = self.arrays.get(node_id)
        return None if table is None else table.lookup(coords)

"""Chunk references of one array in bulk, as numpy columns: set many virtual refs at once, and
list an array's references in batches (what VirtualiZarr and large archive indexers use).
"""

from __future__ import annotations

import datetime as _dt
import operator
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._config.virtual import SPEC_LOCATIONS, spec_record_dtype
from .._exceptions import InvalidKeyError
from .._format._coords import last_occurrences
from .._format.ids import encode_id
from .._format.manifest import (
    ChunkCoords,
    ChunkRefTable,
    RefKind,
    VirtualChunk,
    coords_array,
    intern_strings,
)
from .._format.snapshot import NodeSnapshot
from .._time import as_aware
from .._virtual import check_location_url
from ._nodes import grid_shape
from .session import SessionCore

# the public ChunkType values of each manifest ref kind (upstream's array_chunk_iterator)
_PUBLIC_KIND = {RefKind.NATIVE: 1, RefKind.VIRTUAL: 2, RefKind.INLINE: 3}


@dataclass(frozen=True)
class RefBatch:
    """One batch of an array's chunk references; row ``i`` of every column is one chunk."""

    coords: np.ndarray  # (n, ndim) uint32
    kinds: np.ndarray  # (n,) uint8: 1 native, 2 virtual, 3 inline
    paths: list[str]  # URL (virtual), chunk id (native), "" (inline)
    offsets: np.ndarray  # (n,) uint64
    lengths: np.ndarray  # (n,) uint64
    inlined: dict[int, bytes]  # row -> bytes, inline rows only

    def as_tuple(
        self,
    ) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray, np.ndarray, dict[int, bytes]]:
        return self.coords, self.kinds, self.paths, self.offsets, self.lengths, self.inlined


def set_virtual_refs_arr(
    session: SessionCore,
    node: NodeSnapshot,
    chunk_grid_shape: Sequence[int],
    locations: Sequence[str],
    offsets: np.ndarray,
    lengths: np.ndarray,
    *,
    validate_containers: bool = True,
    arr_offset: Sequence[int] | None = None,
    checksum: _dt.datetime | str | None = None,
) -> list[ChunkCoords] | None:
    """Stage one virtual reference per non-empty location, chunks in C order of the grid.

    Returns the chunk indices whose location no virtual chunk container covers (those are
    skipped), or None when every reference was staged.
    """
    session._require_writable()
    assert node.array is not None
    shape = tuple(int(n) for n in chunk_grid_shape)
    count = int(np.prod(shape, dtype=np.int64)) if shape else 1
    offsets = np.asarray(offsets, dtype=np.uint64).reshape(-1)
    lengths = np.asarray(lengths, dtype=np.uint64).reshape(-1)
    if not len(locations) == len(offsets) == len(lengths) == count:
        raise ValueError(
            f"set_virtual_refs_arr needs one location, offset and length per chunk of the "
            f"grid {list(shape)} ({count}); got {len(locations)} locations, {len(offsets)} "
            f"offsets and {len(lengths)} lengths"
        )
    grid = grid_shape(node.array.shape)
    start = tuple(int(i) for i in arr_offset) if arr_offset is not None else (0,) * len(grid)
    if len(shape) != len(grid) or len(start) != len(grid):
        raise ValueError(
            f"array {node.path!r} has {len(grid)} dimensions; got a chunk grid of {len(shape)} "
            f"and an offset of {len(start)}"
        )
    ends = [s + n for s, n in zip(start, shape)]
    if any(e > g for e, g in zip(ends, grid)):
        raise InvalidKeyError(
            f"chunks {start} to {tuple(e - 1 for e in ends)} reach outside the chunk grid "
            f"{list(grid)} of array {node.path!r}; resize the array first"
        )
    etag, modified = _checksum_fields(checksum)
    table, loc_index = intern_strings(locations)
    for location in table:
        if location:
            check_location_url(location)
    allowed = np.array(
        [
            bool(loc)
            and (not validate_containers or session.virtual.container_for(loc) is not None)
            for loc in table
        ]
        + [False],
        dtype=bool,
    )
    present = np.array([bool(loc) for loc in table] + [False], dtype=bool)
    loc_index = np.where(loc_index >= 0, loc_index, len(table))  # None: no location
    keep = allowed[loc_index]
    coords = _grid_coords(shape, start)
    failed = [tuple(c) for c in coords[present[loc_index] & ~keep].tolist()]
    everything = bool(keep.all())
    refs = ChunkRefTable.virtual(
        coords if everything else coords[keep],
        table,
        loc_index if everything else loc_index[keep],
        offsets if everything else offsets[keep],
        lengths if everything else lengths[keep],
        etag,
        modified,
    )
    session.change_set.array_chunks(node.node_id).set_bulk(refs)
    if not session.change_set.chunks[node.node_id]:
        del session.change_set.chunks[node.node_id]
    return failed or None


def _grid_coords(shape: tuple[int, ...], start: tuple[int, ...]) -> np.ndarray:
    """Every chunk index of a grid of ``shape`` shifted by ``start``, in C order, as rows."""
    if not shape:
        return np.zeros((1, 0), dtype=np.int64)
    grids = np.indices(shape, dtype=np.int64).reshape(len(shape), -1).T
    return grids + np.array(start, dtype=np.int64)


def set_virtual_refs(
    session: SessionCore, node: NodeSnapshot, specs: Sequence[Any], validate_containers: bool
) -> list[ChunkCoords] | None:
    """Stage the references of ``VirtualChunkSpec`` objects as one bulk table.

    Locations are checked once per distinct URL and chunk indices against the grid at once.
    Returns the indices whose location no container covers (skipped), or None.
    """
    session._require_writable()
    assert node.array is not None
    grid = grid_shape(node.array.shape)
    if not specs:
        return None
    columns = _SpecColumns.of(specs, len(grid))
    coords = columns.coords
    bad = len(coords) != len(specs) or bool((coords >= np.array(grid, dtype=np.int64)).any())
    if bad or bool((coords < 0).any()):
        for spec in specs:  # the first index out of the grid names itself in the error
            session._check_coords(node, tuple(int(i) for i in spec.index))
    table, loc_index = columns.locations, columns.location_index
    allowed = np.ones(len(table) + 1, dtype=bool)
    for i, location in enumerate(table):
        check_location_url(location)
        allowed[i] = not validate_containers or session.virtual.container_for(location) is not None
    keep = allowed[loc_index]
    failed = [tuple(c) for c in coords[~keep].tolist()]
    if columns.any_checksum:  # per-ref checksums: one reference at a time
        for spec, ok in zip(specs, keep.tolist()):
            if ok:
                checksum = spec.etag_checksum or spec.last_updated_at_checksum
                ref = virtual_chunk(spec.location, spec.offset, spec.length, checksum)
                session.change_set.set_chunk(node.node_id, tuple(int(i) for i in spec.index), ref)
        return failed or None
    rows = np.flatnonzero(keep & last_occurrences(coords))  # a later spec for the same chunk wins
    refs = ChunkRefTable.virtual(
        coords[rows], table, loc_index[rows], columns.offsets[rows], columns.lengths[rows]
    )
    session.change_set.array_chunks(node.node_id).set_bulk(refs)
    return failed or None


@dataclass(frozen=True)
class _SpecColumns:
    """The fields of many ``VirtualChunkSpec`` objects, as columns."""

    coords: np.ndarray  # (n, ndim) int64; fewer rows when some index has another rank
    locations: tuple[str, ...]  # the distinct locations
    location_index: np.ndarray  # (n,) int32: each spec's location in ``locations``
    offsets: np.ndarray  # (n,) uint64
    lengths: np.ndarray  # (n,) uint64
    any_checksum: bool

    @classmethod
    def of(cls, specs: Sequence[Any], ndim: int) -> _SpecColumns:
        try:  # VirtualChunkSpec keeps its numbers packed (``_packed``): read them at once
            joined = b"".join([spec._packed for spec in specs])
        except AttributeError:
            return cls._of_objects(specs, ndim)
        layout = spec_record_dtype(ndim)
        records = np.frombuffer(joined[: len(joined) // layout.itemsize * layout.itemsize], layout)
        # while every rank is ndim, records stay aligned: the first spec of another rank is
        # read where it starts, so its rank field tells
        if len(records) != len(specs) or len(joined) % layout.itemsize or (
            not (records["ndim"] == ndim).all()
        ):
            return cls._of_objects(specs, ndim)
        locations, location_index = _spec_locations(specs, records)
        return cls(
            coords=records["index"].astype(np.int64).reshape(len(specs), ndim),
            locations=locations,
            location_index=location_index,
            offsets=records["offset"],
            lengths=records["length"],
            any_checksum=bool(records["has_checksum"].any()),
        )

    @classmethod
    def _of_objects(cls, specs: Sequence[Any], ndim: int) -> _SpecColumns:
        n = len(specs)
        checksums = (s.etag_checksum or s.last_updated_at_checksum for s in specs)
        locations, location_index = intern_strings(list(map(_LOCATION, specs)))
        return cls(
            coords=coords_array([tuple(int(i) for i in s.index) for s in specs], ndim),
            locations=locations,
            location_index=location_index,
            offsets=np.fromiter((s.offset for s in specs), dtype=np.uint64, count=n),
            lengths=np.fromiter((s.length for s in specs), dtype=np.uint64, count=n),
            any_checksum=any(c is not None for c in checksums),
        )


def _spec_locations(
    specs: Sequence[Any], records: np.ndarray
) -> tuple[tuple[str, ...], np.ndarray]:
    """The distinct locations of packed specs and each spec's index among them, from the
    location codes of ``SPEC_LOCATIONS`` (no pass over the strings) when all are current."""
    generation, names = SPEC_LOCATIONS.current()
    if not (records["generation"] == generation).all():
        return intern_strings(list(map(_LOCATION, specs)))
    codes = records["location"]
    used = np.zeros(len(names), dtype=bool)
    used[codes] = True
    distinct = np.flatnonzero(used)
    renumber = np.zeros(len(names), dtype=np.int32)
    renumber[distinct] = np.arange(len(distinct), dtype=np.int32)
    return tuple(map(names.__getitem__, distinct.tolist())), renumber[codes]


_LOCATION = operator.attrgetter("location")


def virtual_chunk(
    location: str, offset: int, length: int, checksum: _dt.datetime | str | None
) -> VirtualChunk:
    """A virtual reference; ``checksum`` is an etag (str) or a last-modified time."""
    etag, modified = _checksum_fields(checksum)
    return VirtualChunk(location, offset, length, etag, modified)


def _checksum_fields(checksum: _dt.datetime | str | None) -> tuple[str | None, int | None]:
    if checksum is None:
        return None, None
    if isinstance(checksum, _dt.datetime):
        return None, int(as_aware(checksum).timestamp())
    if isinstance(checksum, str):
        return checksum, None
    raise TypeError(
        f"checksum must be an etag (str), a last-modified datetime or None; got "
        f"{type(checksum).__name__}"
    )


async def iter_chunk_refs(
    session: SessionCore, node: NodeSnapshot, batch_size: int = 100_000
) -> AsyncIterator[RefBatch]:
    """The array's chunk references (committed, with the session's changes), in batches."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    table = await session.chunk_table(node)
    for begin in range(0, len(table), batch_size):
        rows = np.arange(begin, min(begin + batch_size, len(table)))
        kind = table.kind[rows]
        paths: list[str] = []
        inlined: dict[int, bytes] = {}
        for i, (k, row) in enumerate(zip(kind.tolist(), rows.tolist())):
            if k == RefKind.VIRTUAL:
                paths.append(table.location[row])
            elif k == RefKind.NATIVE:
                paths.append(encode_id(table.chunk_id[row].tobytes()))
            else:
                paths.append("")
                inlined[i] = table.inline[row]
        public = np.zeros(len(rows), dtype=np.uint8)
        for ref_kind, value in _PUBLIC_KIND.items():
            public[kind == ref_kind] = value
        yield RefBatch(
            coords=table.coords[rows].astype(np.uint32),
            kinds=public,
            paths=paths,
            offsets=table.offset[rows].astype(np.uint64),
            lengths=table.length[rows].astype(np.uint64),
            inlined=inlined,
        )

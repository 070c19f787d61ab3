"""Chunk coordinates in bulk: packed-key binary search, numpy-backed coordinate sets, and
string tables (no Python object per chunk where millions are handled)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

ChunkCoords = tuple[int, ...]


def intern_strings(values: Sequence[str | None]) -> tuple[tuple[str, ...], np.ndarray]:
    """The distinct strings of ``values`` and, per value, its index among them (-1: None).

    Neighbours that are the same object (chunks of one file, with interned locations) are
    looked up once per run.
    """
    n = len(values)
    if n >= _RUNS_FROM:
        ids = np.fromiter(map(id, values), dtype=np.uint64, count=n)
        heads = np.flatnonzero(np.concatenate(([True], ids[1:] != ids[:-1])))
        if len(heads) * 4 <= n:
            distinct, codes = _intern(list(map(values.__getitem__, heads.tolist())))
            return distinct, np.repeat(codes, np.diff(np.append(heads, n)))
    return _intern(values)


_RUNS_FROM = 1024  # values from which intern_strings looks for runs of one object


def _intern(values: Sequence[str | None]) -> tuple[tuple[str, ...], np.ndarray]:
    distinct = tuple(v for v in dict.fromkeys(values) if v is not None)
    code_of: dict[str | None, int] = {v: i for i, v in enumerate(distinct)}
    code_of[None] = -1
    return distinct, np.fromiter(map(code_of.__getitem__, values), dtype=np.int32, count=len(values))


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


class CoordSet(AbstractSet[ChunkCoords]):
    """An immutable set of distinct chunk coordinates held as one ``(n, ndim)`` array.

    Used where millions of coordinates would otherwise be as many tuples (changes staged in
    bulk, transaction logs); iterating yields tuples, set operations with other sets give
    frozensets.
    """

    def __init__(self, array: np.ndarray) -> None:
        self.array = np.asarray(array, dtype=np.int64)

    @classmethod
    def _from_iterable(cls, it: Iterable[Any]) -> AbstractSet[Any]:
        return frozenset(it)

    @cached_property
    def _index(self) -> _KeyIndex | None:
        return _KeyIndex.build(self.array)

    @cached_property
    def _members(self) -> frozenset[ChunkCoords]:
        return frozenset(map(tuple, self.array.tolist()))

    def __contains__(self, coords: object) -> bool:
        if not isinstance(coords, tuple) or len(coords) != self.array.shape[1]:
            return False
        if not len(self.array):
            return False
        index = self._index
        if index is None or self.array.shape[1] == 0:
            return coords in self._members
        return index.row(coords) is not None

    def __iter__(self) -> Iterator[ChunkCoords]:
        return map(tuple, self.array.tolist())

    def __len__(self) -> int:
        return int(self.array.shape[0])

    def __repr__(self) -> str:
        return f"CoordSet({len(self)} coordinates)"

    __hash__ = AbstractSet._hash


def sorted_coord_lists(coords: AbstractSet[ChunkCoords]) -> list[list[int]]:
    """``coords`` as lists of ints in ascending order (sorted with numpy when of one rank)."""
    arr = coords.array if isinstance(coords, CoordSet) else uniform_coords(list(coords))
    if arr is None or (arr.size and int(arr.min()) < 0):
        return sorted(list(c) for c in coords)
    if arr.shape[1] and len(arr) > 1:
        arr = arr[np.lexsort(arr.T[::-1])]
    out: list[list[int]] = arr.tolist()
    return out


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


def last_occurrences(coords: np.ndarray) -> np.ndarray:
    """Mask of the rows that are the last occurrence of their coordinates."""
    n = len(coords)
    index = _KeyIndex.build(coords) if n > 1 else None
    if index is None:
        if n < 2:
            return np.ones(n, dtype=bool)
        _, first_of_reversed = np.unique(coords[::-1], axis=0, return_index=True)
        mask = np.zeros(n, dtype=bool)
        mask[n - 1 - first_of_reversed] = True
        return mask
    last_of_run = np.append(index.keys[1:] != index.keys[:-1], True)
    if last_of_run.all():  # no coordinates repeat
        return np.ones(n, dtype=bool)
    mask = np.zeros(n, dtype=bool)
    mask[last_of_run if index.order is None else index.order[last_of_run]] = True  # stable sort
    return mask

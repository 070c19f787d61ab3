"""Manifest splitting: which manifests a commit writes for one array, and which it keeps.

``ManifestSplittingConfig`` gives, per dimension of an array, a split size in chunks; the
array's chunk grid is cut into regions of that many chunks along each split dimension
(dimensions without a size are not cut), and each non-empty region gets a manifest of its
own. On commit only the regions holding changed chunks are written again; a region without
changes keeps the manifests it already had, provided they lie wholly inside it (after a
change of split sizes an old manifest may straddle regions; then the region is rewritten).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._change_set import ArrayChunks
from .._format.manifest import ChunkCoords, ChunkRefTable, uniform_coords
from .._format.snapshot import ManifestRef

SplitSizes = tuple[int | None, ...]  # chunks per manifest along each dimension (None: no cut)
RegionKey = tuple[int, ...]


@dataclass(frozen=True)
class ManifestPlan:
    """What a commit does for one array: tables to write as new manifests, refs to keep."""

    write: tuple[ChunkRefTable, ...]
    keep: tuple[ManifestRef, ...]


def split_sizes(
    splitting: Any, path: str, dimension_names: Sequence[str | None] | None, ndim: int
) -> SplitSizes:
    """Split size of each dimension of the array at ``path`` under ``splitting`` (may be None).

    Parameters
    ----------
    splitting
        A ``ManifestSplittingConfig``, or None for no splitting.
    path
        The array's absolute node path.
    dimension_names
        The array's dimension names, if any.
    ndim
        The array's number of dimensions.
    """
    if splitting is None:
        return (None,) * ndim
    names = tuple(dimension_names) if dimension_names else (None,) * ndim
    return tuple(splitting._split_size(path, axis, names[axis]) for axis in range(ndim))


def region_of(coords: ChunkCoords, sizes: SplitSizes) -> RegionKey:
    """The region (index along each dimension) holding chunk ``coords``."""
    return tuple(c // s if s else 0 for c, s in zip(coords, sizes))


def regions_of(changed: Iterable[ChunkCoords], sizes: SplitSizes) -> set[RegionKey]:
    """The regions holding any of the ``changed`` chunks (:func:`region_of` of each, at once)."""
    if isinstance(changed, ArrayChunks):
        keys: list[ChunkCoords] = []
        coords: np.ndarray | None = changed.coords_array(len(sizes))
        if coords is None or not len(coords):
            return set()
    else:
        keys = list(changed)
        if not keys:
            return set()
        coords = uniform_coords(keys)
    if coords is None or coords.shape[1] != len(sizes):  # mixed ranks
        return {region_of(c, sizes) for c in keys}
    if not any(sizes):  # one region: the whole array (also 0-d arrays)
        return {(0,) * len(sizes)}
    divisors = np.array([s or 0 for s in sizes], dtype=np.int64)
    regions = np.where(divisors > 0, coords // np.maximum(divisors, 1), 0)
    return set(map(tuple, np.unique(regions, axis=0).tolist()))


def _contained(ref: ManifestRef, key: RegionKey, sizes: SplitSizes) -> bool:
    """Whether every chunk ``ref`` may hold lies in region ``key``."""
    for (lo, hi), k, s in zip(ref.extents, key, sizes):
        if s and (lo < k * s or hi > (k + 1) * s):
            return False
    return True


def _intersects(ref: ManifestRef, key: RegionKey, sizes: SplitSizes) -> bool:
    for (lo, hi), k, s in zip(ref.extents, key, sizes):
        if hi <= lo or (s and (hi <= k * s or lo >= (k + 1) * s)):
            return False
    return True


def plan_manifests(
    table: ChunkRefTable,
    changed: Iterable[ChunkCoords],
    base_refs: Sequence[ManifestRef],
    sizes: SplitSizes,
    rewrite_all: bool = False,
) -> ManifestPlan:
    """Which manifests the array needs after a commit.

    Parameters
    ----------
    table
        Every chunk reference of the array after the commit (change set applied).
    changed
        Coordinates of chunks the commit sets or deletes.
    base_refs
        The array's manifest refs in the base snapshot.
    sizes
        Split size per dimension (see :func:`split_sizes`).
    rewrite_all
        Write every region again (``Repository.rewrite_manifests``).

    Returns
    -------
    ManifestPlan
        One table per region to write, in region order, and the base refs to keep.
    """
    if len(table) == 0:
        return ManifestPlan((), ())
    changed_regions = regions_of(changed, sizes)
    if any(sizes):
        divisors = np.array([s or 0 for s in sizes], dtype=np.int64)
        coords = table.coords.astype(np.int64)
        keys = np.where(divisors > 0, coords // np.maximum(divisors, 1), 0)
        regions, inverse = np.unique(keys, axis=0, return_inverse=True)
    else:  # one region: the whole array (also 0-d arrays)
        regions = np.zeros((1, len(sizes)), dtype=np.int64)
        inverse = np.zeros(len(table), dtype=np.int64)
    write: list[ChunkRefTable] = []
    keep: list[ManifestRef] = []
    for index, region in enumerate(regions.tolist()):
        key = tuple(int(k) for k in region)
        refs = [r for r in base_refs if _intersects(r, key, sizes)]
        reusable = refs and all(_contained(r, key, sizes) for r in refs)
        if rewrite_all or key in changed_regions or not reusable:
            write.append(table.filtered(np.asarray(inverse).reshape(-1) == index))
        else:
            keep.extend(r for r in refs if r not in keep)
    return ManifestPlan(tuple(write), tuple(keep))

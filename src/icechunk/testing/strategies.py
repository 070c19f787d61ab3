"""Hypothesis strategies for Icechunk configuration objects.

``splitting_configs(arrays=...)`` draws a :class:`~icechunk.ManifestSplittingConfig` that
applies to the given zarr arrays, so that property tests can exercise manifest splitting on
the data they write.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import hypothesis.strategies as st
import zarr

import icechunk as ic

__all__ = ["splitting_configs"]


def _array_condition(draw: st.DrawFn, array: zarr.Array[Any]) -> ic.ManifestSplitCondition:
    """A condition selecting ``array``: by its name or by its whole path."""
    path = array.path.strip("/")
    if draw(st.booleans()):
        return ic.ManifestSplitCondition.name_matches(re.escape(path.rsplit("/", 1)[-1]))
    return ic.ManifestSplitCondition.path_matches(re.escape(path))


def _dim_condition(
    draw: st.DrawFn, axis: int, name: str | None
) -> ic.ManifestSplitDimCondition:
    """A condition selecting dimension ``axis``: by number, by name (if named) or any."""
    options: list[ic.ManifestSplitDimCondition] = [
        ic.ManifestSplitDimCondition.Axis(axis),
        ic.ManifestSplitDimCondition.Any(),
    ]
    if name is not None:
        options.append(ic.ManifestSplitDimCondition.DimensionName(re.escape(name)))
    return draw(st.sampled_from(options))


def _chunks_per_axis(array: zarr.Array[Any]) -> tuple[int, ...]:
    """Chunks along each axis, at least 1 (empty arrays may have zero-sized chunks)."""
    return tuple(
        max(1, -(-s // c)) if c else 1 for s, c in zip(array.shape, array.chunks, strict=True)
    )


@st.composite
def splitting_configs(
    draw: st.DrawFn, *, arrays: Iterable[zarr.Array[Any]]
) -> ic.ManifestSplittingConfig:
    """Draw a manifest splitting configuration for ``arrays``.

    Each array is, or is not, given a condition (its name or its path); each of its dimensions
    gets a split size between 1 and one more than its number of chunks, selected by axis
    number, by dimension name or as "any dimension".

    Parameters
    ----------
    draw
        Supplied by hypothesis.
    arrays
        Zarr v3 arrays (of any store) whose paths and shapes the configuration targets.

    Returns
    -------
    ManifestSplittingConfig
    """
    config: dict[ic.ManifestSplitCondition, dict[Any, int]] = {}
    for array in arrays:
        if not draw(st.booleans()):
            continue
        names = getattr(array.metadata, "dimension_names", None) or (None,) * array.ndim
        dims: dict[Any, int] = {}
        for axis, (name, nchunks) in enumerate(zip(names, _chunks_per_axis(array), strict=True)):
            if draw(st.booleans()):
                dims[_dim_condition(draw, axis, name)] = draw(
                    st.integers(min_value=1, max_value=nchunks + 1)
                )
        config[_array_condition(draw, array)] = dims
    return ic.ManifestSplittingConfig.from_dict(config)

"""Manifest preloading and splitting configuration."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias, cast

from .._records import Record, instance_of, record, setting, u32, uint
from . import defaults
from .conditions import (
    AnyDimCondition,
    ManifestPreloadCondition,
    ManifestSplitCondition,
    ManifestSplitDimCondition,
    default_preload_condition,
)

SplitSizes: TypeAlias = tuple[
    tuple[ManifestSplitCondition, tuple[tuple[AnyDimCondition, int], ...]], ...
]


@record
class ManifestPreloadConfig(Record):
    """Which manifests are preloaded when a session starts.

    Parameters
    ----------
    max_total_refs
        Maximum number of chunk references to preload in total (default 10,000).
    preload_if
        Condition a manifest must match to be preloaded (default: coordinate-like array names
        with at most 1000 references).
    """

    max_total_refs: int | None = setting(
        default=None, check=u32, effective=defaults.MANIFEST_PRELOAD_MAX_TOTAL_REFS
    )
    preload_if: ManifestPreloadCondition | None = setting(
        default=None,
        check=instance_of(ManifestPreloadCondition),
        effective=lambda _: default_preload_condition(),
    )


def check_split_sizes(name: str, value: Any) -> SplitSizes | None:
    """Check for ``((condition, ((dim condition, size), ...)), ...)`` (dims may be a dict)."""
    if value is None:
        return None
    if isinstance(value, Mapping) or not isinstance(value, Sequence) or isinstance(value, str):
        raise TypeError(
            f"{name} must be a sequence of (ManifestSplitCondition, ((dim condition, size), ...)) "
            f"pairs; use ManifestSplittingConfig.from_dict for a dict"
        )
    out = []
    for entry in value:
        try:
            cond, dims = entry
        except (TypeError, ValueError):
            raise TypeError(f"{name}: each entry must be a (condition, dims) pair, got {entry!r}")
        if not isinstance(cond, ManifestSplitCondition):
            raise TypeError(f"{name}: {cond!r} is not a ManifestSplitCondition")
        if isinstance(dims, Mapping):
            dims = list(dims.items())
        dim_out = []
        for d in dims:
            try:
                dim, size = d
            except (TypeError, ValueError):
                raise TypeError(
                    f"{name}: each dimension entry must be (condition, size), got {d!r}"
                )
            if not isinstance(dim, ManifestSplitDimCondition):
                raise TypeError(f"{name}: {dim!r} is not a ManifestSplitDimCondition")
            dim_out.append((dim, uint(32, optional=False)(f"{name} split size", size)))
        out.append((cond, tuple(dim_out)))
    return cast(SplitSizes, tuple(out))


@record
class ManifestSplittingConfig(Record):
    """How manifests of large arrays are split into several manifest files.

    Parameters
    ----------
    split_sizes
        ``((condition, ((dim_condition, num_chunks), ...)), ...)``: for the first condition an
        array matches, the number of chunks per manifest along each matched dimension.

    Examples
    --------
    >>> ManifestSplittingConfig.from_dict(
    ...     {
    ...         ManifestSplitCondition.name_matches("temperature"): {
    ...             ManifestSplitDimCondition.DimensionName("longitude"): 3
    ...         }
    ...     }
    ... )  # doctest: +ELLIPSIS
    ManifestSplittingConfig(...)
    """

    _split_sizes: SplitSizes | None = setting(default=None, check=check_split_sizes)

    def __init__(self, split_sizes: SplitSizes | None = None) -> None:
        self.split_sizes = split_sizes  # type: ignore[assignment]

    @classmethod
    def _field_names(cls) -> tuple[str, ...]:
        return ("split_sizes",)

    @property
    def split_sizes(self) -> list[tuple[ManifestSplitCondition, list[tuple[AnyDimCondition, int]]]]:
        """The split sizes, as ``[(condition, [(dim_condition, num_chunks), ...]), ...]``."""
        raw = self._split_sizes
        if raw is None:
            return None  # type: ignore[return-value]
        return [(cond, list(dims)) for cond, dims in raw]

    @split_sizes.setter
    def split_sizes(self, value: SplitSizes | None) -> None:
        self._split_sizes = check_split_sizes("split_sizes", value)  # named as the public field

    @staticmethod
    def from_dict(
        split_sizes: Mapping[ManifestSplitCondition, Mapping[AnyDimCondition, int]],
    ) -> ManifestSplittingConfig:
        """Build the configuration from ``{condition: {dim_condition: num_chunks}}``.

        Parameters
        ----------
        split_sizes
            Conditions in priority order (dicts keep insertion order).

        Returns
        -------
        ManifestSplittingConfig
        """
        return ManifestSplittingConfig(tuple((k, tuple(v.items())) for k, v in split_sizes.items()))

    def to_dict(self) -> dict[ManifestSplitCondition, dict[AnyDimCondition, int]]:
        """The configuration as ``{condition: {dim_condition: num_chunks}}``.

        Returns
        -------
        dict
        """
        return {cond: dict(dims) for cond, dims in (self._split_sizes or ())}

    def __repr__(self) -> str:
        return f"ManifestSplittingConfig({self.split_sizes!r})"

    def _split_size(self, path: str, axis: int, dimension_name: str | None) -> int | None:
        """The number of chunks per manifest along one dimension of the array at ``path``.

        The first condition the array matches decides; within it, the first dimension entry
        matching the dimension. None means no splitting along that dimension.
        """
        for cond, dims in self._split_sizes or ():
            if cond._matches(path):
                for dim, size in dims:
                    if dim._matches(axis, dimension_name):
                        return size
                return None
        return None


@record
class ManifestConfig(Record):
    """Manifest loading and splitting.

    Parameters
    ----------
    preload
        Which manifests are preloaded when a session starts.
    splitting
        How manifests are split.
    """

    preload: ManifestPreloadConfig | None = setting(
        default=None, check=instance_of(ManifestPreloadConfig), effective=ManifestPreloadConfig
    )
    splitting: ManifestSplittingConfig | None = setting(
        default=None, check=instance_of(ManifestSplittingConfig)
    )

"""One condition algebra for manifest preloading and manifest splitting.

Both unions are built from the same members: ``Or`` / ``And`` of conditions, ``PathMatches`` /
``NameMatches`` (a regex on the array's path or name), a condition matching everything (preload
``True``, split ``AnyArray``) or nothing (preload ``False``) and, for preloading only,
``NumRefs`` (the manifest's number of chunk references in a range). Each union
(:class:`ManifestPreloadCondition`, :class:`ManifestSplitCondition`) is a family: its members
subclass the shared ones and combine only with members of the same family.
:class:`ManifestSplitDimCondition` picks the dimension a split size applies to.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, ClassVar, Self, TypeAlias, cast

from .._exceptions import ConfigError
from .._records import Variant, nest, req_str, setting, u32, uint, variant
from . import defaults

Bound: TypeAlias = tuple[str, int] | None  # ("Included" | "Excluded", n), or None = unbounded


def check_regex(name: str, value: Any) -> str:
    """Check for a string that compiles as a regular expression."""
    value = req_str(name, value)
    try:
        re.compile(value)
    except re.error as e:
        raise ConfigError(f"{name}: invalid regular expression {value!r}: {e}") from None
    return cast(str, value)


def check_bound(name: str, value: Any) -> Bound:
    """Check for ``None`` (unbounded) or ``("Included" | "Excluded", n)``."""
    if value is None:
        return None
    kind, n = value
    if kind not in ("Included", "Excluded"):
        raise ConfigError(f"{name}: a bound is Included, Excluded or Unbounded, got {kind!r}")
    return (kind, cast(int, u32(name, n)))


# --- the shared members -----------------------------------------------------------------------


class _Member(Variant):
    """A member of a condition family; ``_family`` is the public union class it belongs to."""

    __slots__ = ()
    _family: ClassVar[type]
    _yaml_tag: ClassVar[str]

    def _matches(self, path: str, num_refs: int = 0) -> bool:
        """Whether the array at ``path`` (a manifest with ``num_refs`` references) matches."""
        raise NotImplementedError


@variant
class _List(_Member):
    __match_args__ = ("_0",)
    _items: tuple[Any, ...] = setting(default=None)

    def __init__(self, conditions: list[Any]) -> None:
        family, name = self._family, type(self).__qualname__
        if not isinstance(conditions, Sequence) or isinstance(conditions, str):
            raise TypeError(
                f"{name} needs a list of {family.__name__}, got {type(conditions).__name__}"
            )
        for c in conditions:
            if not isinstance(c, family):
                raise TypeError(f"{name} needs a list of {family.__name__}, got {c!r}")
        self._init(_items=tuple(conditions))

    @property
    def _0(self) -> list[Any]:
        return list(self._items)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (list(self._items),))

    def __repr__(self) -> str:
        return f"{type(self).__qualname__}({list(self._items)!r})"


class _Or(_List):
    """Matches if any of the conditions matches."""

    _yaml_tag = "or"

    def _matches(self, path: str, num_refs: int = 0) -> bool:
        return any(c._matches(path, num_refs) for c in self._items)


class _And(_List):
    """Matches if all of the conditions match."""

    _yaml_tag = "and"

    def _matches(self, path: str, num_refs: int = 0) -> bool:
        return all(c._matches(path, num_refs) for c in self._items)


@variant
class _PathMatches(_Member):
    """Matches if the array path matches the regex."""

    __match_args__ = ("regex",)
    _yaml_tag = "path_matches"
    regex: str = setting(default=None)

    def __init__(self, regex: str) -> None:
        self._init(regex=check_regex("regex", regex))

    def _matches(self, path: str, num_refs: int = 0) -> bool:
        return re.search(self.regex, path) is not None


class _NameMatches(_PathMatches):
    """Matches if the array name matches the regex."""

    _yaml_tag = "name_matches"

    def _matches(self, path: str, num_refs: int = 0) -> bool:
        return re.search(self.regex, path.rstrip("/").rsplit("/", 1)[-1]) is not None


@variant
class _Always(_Member):
    def _matches(self, path: str, num_refs: int = 0) -> bool:
        return True


@variant
class _Never(_Member):
    def _matches(self, path: str, num_refs: int = 0) -> bool:
        return False


# --- what both unions offer -------------------------------------------------------------------


class _Family:
    """The constructors and operators both condition unions share; each union sets its members
    (``Or``, ``And``, ``PathMatches``, ``NameMatches``) through :func:`nest`."""

    __slots__ = ()
    Or: ClassVar[type[Any]]
    And: ClassVar[type[Any]]
    PathMatches: ClassVar[type[Any]]
    NameMatches: ClassVar[type[Any]]

    @classmethod
    def or_conditions(cls, conditions: list[Self]) -> Self:
        """A condition that matches if any of ``conditions`` matches."""
        return cast(Self, cls.Or(conditions))

    @classmethod
    def and_conditions(cls, conditions: list[Self]) -> Self:
        """A condition that matches only if all of ``conditions`` match."""
        return cast(Self, cls.And(conditions))

    @classmethod
    def path_matches(cls, regex: str) -> Self:
        """A condition that matches if the array's absolute path (``/a/b``) matches ``regex``."""
        return cast(Self, cls.PathMatches(regex))

    @classmethod
    def name_matches(cls, regex: str) -> Self:
        """A condition that matches if the array's name (last path segment) matches ``regex``."""
        return cast(Self, cls.NameMatches(regex))

    def __and__(self, other: Self) -> Self:
        """A condition that matches if both this condition and ``other`` match."""
        return cast(Self, self.And([self, other]))

    def __or__(self, other: Self) -> Self:
        """A condition that matches if this condition or ``other`` matches."""
        return cast(Self, self.Or([self, other]))

    def _matches(self, path: str, num_refs: int = 0) -> bool:
        """Whether the array at ``path`` (a manifest with ``num_refs`` references) matches."""
        raise NotImplementedError


# --- manifest preloading ----------------------------------------------------------------------


class ManifestPreloadCondition(_Family):
    """Which manifests are loaded when a session starts.

    Build conditions with the static constructors and combine them with ``&`` and ``|``. The
    members are ``Or``, ``And``, ``PathMatches``, ``NameMatches``, ``NumRefs``, ``True`` and
    ``False`` (the last two through ``getattr``, as they are Python keywords).
    """

    __slots__ = ()
    Or: ClassVar[type[_PreloadOr]]
    And: ClassVar[type[_PreloadAnd]]
    PathMatches: ClassVar[type[_PreloadPathMatches]]
    NameMatches: ClassVar[type[_PreloadNameMatches]]
    NumRefs: ClassVar[type[_PreloadNumRefs]]

    @staticmethod
    def num_refs(from_refs: int | None, to_refs: int | None) -> ManifestPreloadCondition:
        """A condition that matches if the manifest's number of chunk references is in range.

        ``from_refs`` is inclusive, ``to_refs`` exclusive; None leaves that side open.
        """
        return _PreloadNumRefs(from_refs, to_refs)

    @staticmethod
    def true() -> ManifestPreloadCondition:
        """A condition that matches every manifest."""
        return _PreloadTrue()

    @staticmethod
    def false() -> ManifestPreloadCondition:
        """A condition that matches no manifest."""
        return _PreloadFalse()


class _PreloadOr(_Or, ManifestPreloadCondition):
    _family = ManifestPreloadCondition


class _PreloadAnd(_And, ManifestPreloadCondition):
    _family = ManifestPreloadCondition


class _PreloadPathMatches(_PathMatches, ManifestPreloadCondition):
    pass


class _PreloadNameMatches(_NameMatches, ManifestPreloadCondition):
    pass


class _PreloadTrue(_Always, ManifestPreloadCondition):
    """Matches every manifest."""

    _yaml_tag = "true"


class _PreloadFalse(_Never, ManifestPreloadCondition):
    """Matches no manifest."""

    _yaml_tag = "false"


@variant
class _PreloadNumRefs(_Member, ManifestPreloadCondition):
    """Matches if the manifest's number of references is within the range.

    Parameters
    ----------
    from_refs
        Inclusive lower limit, or None.
    to_refs
        Exclusive upper limit, or None.
    """

    __match_args__ = ("from", "to")
    _yaml_tag = "num_refs"
    _lo: Bound = setting(default=None)
    _hi: Bound = setting(default=None)

    def __init__(self, from_refs: int | None, to_refs: int | None) -> None:
        lo = None if from_refs is None else ("Included", u32("from_refs", from_refs))
        hi = None if to_refs is None else ("Excluded", u32("to_refs", to_refs))
        self._init(_lo=lo, _hi=hi)

    @classmethod
    def _from_bounds(cls, lo: Bound, hi: Bound) -> _PreloadNumRefs:
        obj = cls(None, None)
        obj._init(_lo=check_bound("num_refs.from", lo), _hi=check_bound("num_refs.to", hi))
        return obj

    def _lower(self) -> int | None:
        if self._lo is None:
            return None
        return self._lo[1] if self._lo[0] == "Included" else self._lo[1] + 1

    def _upper(self) -> int | None:
        if self._hi is None:
            return None
        return self._hi[1] if self._hi[0] == "Excluded" else self._hi[1] + 1

    @property
    def to(self) -> int | None:
        """The exclusive upper limit of the range, or None."""
        return self._upper()

    def _matches(self, path: str, num_refs: int = 0) -> bool:
        lo, hi = self._lower(), self._upper()
        return (lo is None or num_refs >= lo) and (hi is None or num_refs < hi)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_PreloadNumRefs._from_bounds, (self._lo, self._hi))

    def __repr__(self) -> str:
        return f"ManifestPreloadCondition.NumRefs({self._lower()!r}, {self._upper()!r})"


# ``from`` is a keyword: expose it as upstream does, through getattr.
setattr(
    _PreloadNumRefs,
    "from",
    property(lambda self: self._lower(), doc="The inclusive lower limit, or None."),
)

nest(ManifestPreloadCondition, "Or", _PreloadOr)
nest(ManifestPreloadCondition, "And", _PreloadAnd)
nest(ManifestPreloadCondition, "PathMatches", _PreloadPathMatches)
nest(ManifestPreloadCondition, "NameMatches", _PreloadNameMatches)
nest(ManifestPreloadCondition, "NumRefs", _PreloadNumRefs)
nest(ManifestPreloadCondition, "True", _PreloadTrue)
nest(ManifestPreloadCondition, "False", _PreloadFalse)


def default_preload_condition() -> ManifestPreloadCondition:
    """The condition upstream uses when ``preload_if`` is unset: coordinate-like array names
    (time, level, latitude, longitude, x, y, ...) with at most 1000 chunk references."""
    names = [
        r"^\bt\b$|^(time|min|hour|day|week|month|year)[0-9]*$",
        (
            r"^(z|nav_lev|gdep|lv_|[o]*lev|bottom_top|sigma|h(ei)?ght|altitude|depth|isobaric|"
            r"pres|isotherm)[a-z_]*[0-9]*$"
        ),
        r"^(y|j|nlat|rlat|nj)$",
        r"^y?(nav_lat|lat|gphi)[a-z0-9]*$",
        r"^x?(nav_lon|lon|glam)[a-z0-9]*$",
        r"^(x|i|nlon|rlon|ni)$",
    ]
    return _PreloadAnd(
        [
            _PreloadOr([_PreloadNameMatches(r) for r in names]),
            _PreloadNumRefs._from_bounds(
                None, ("Included", defaults.MANIFEST_PRELOAD_MAX_NUM_REFS)
            ),
        ]
    )


# --- manifest splitting -----------------------------------------------------------------------


class ManifestSplitCondition(_Family):
    """Which arrays a manifest splitting rule applies to.

    Build conditions with the static constructors (or ``ManifestSplitCondition.AnyArray()``) and
    combine them with ``&`` and ``|``. Conditions are hashable, for use as dict keys in
    :meth:`ManifestSplittingConfig.from_dict`.
    """

    __slots__ = ()
    Or: ClassVar[type[_SplitOr]]
    And: ClassVar[type[_SplitAnd]]
    PathMatches: ClassVar[type[_SplitPathMatches]]
    NameMatches: ClassVar[type[_SplitNameMatches]]
    AnyArray: ClassVar[type[_SplitAnyArray]]


class _SplitOr(_Or, ManifestSplitCondition):
    _family = ManifestSplitCondition


class _SplitAnd(_And, ManifestSplitCondition):
    _family = ManifestSplitCondition


class _SplitPathMatches(_PathMatches, ManifestSplitCondition):
    pass


class _SplitNameMatches(_NameMatches, ManifestSplitCondition):
    pass


class _SplitAnyArray(_Always, ManifestSplitCondition):
    """Matches every array."""

    _yaml_tag = "any_array"


nest(ManifestSplitCondition, "Or", _SplitOr)
nest(ManifestSplitCondition, "And", _SplitAnd)
nest(ManifestSplitCondition, "PathMatches", _SplitPathMatches)
nest(ManifestSplitCondition, "NameMatches", _SplitNameMatches)
nest(ManifestSplitCondition, "AnyArray", _SplitAnyArray)

# The members of each family by YAML tag, for reading config.yaml.
PRELOAD_TAGS: dict[str, type[_Member]] = {
    c._yaml_tag: c
    for c in (
        _PreloadOr,
        _PreloadAnd,
        _PreloadPathMatches,
        _PreloadNameMatches,
        _PreloadNumRefs,
        _PreloadTrue,
        _PreloadFalse,
    )
}
SPLIT_TAGS: dict[str, type[_Member]] = {
    c._yaml_tag: c
    for c in (_SplitOr, _SplitAnd, _SplitPathMatches, _SplitNameMatches, _SplitAnyArray)
}


# --- split dimensions -------------------------------------------------------------------------


class ManifestSplitDimCondition:
    """Which dimension of an array a split size applies to: ``Axis(n)``, ``DimensionName(regex)``
    or ``Any()`` (every dimension not matched by an earlier entry)."""

    __slots__ = ()
    Axis: ClassVar[type[_DimAxis]]
    DimensionName: ClassVar[type[_DimName]]
    Any: ClassVar[type[_DimAny]]

    def _matches(self, axis: int, dimension_name: str | None) -> bool:
        """Whether dimension number ``axis`` named ``dimension_name`` matches."""
        raise NotImplementedError


@variant
class _DimAxis(Variant, ManifestSplitDimCondition):
    """Split along the given axis.

    Parameters
    ----------
    axis
        The axis number, from 0.
    """

    __match_args__ = ("_0",)
    _0: int = setting(default=None)

    def __init__(self, axis: int) -> None:
        self._init(_0=uint(64, optional=False)("axis", axis))

    def _matches(self, axis: int, dimension_name: str | None) -> bool:
        return axis == self._0


@variant
class _DimName(Variant, ManifestSplitDimCondition):
    """Split along dimensions whose name matches the regex.

    Parameters
    ----------
    regex
        Regular expression for the dimension name.
    """

    __match_args__ = ("_0",)
    _0: str = setting(default=None)

    def __init__(self, regex: str) -> None:
        self._init(_0=check_regex("regex", regex))

    def _matches(self, axis: int, dimension_name: str | None) -> bool:
        return dimension_name is not None and re.search(self._0, dimension_name) is not None


@variant
class _DimAny(Variant, ManifestSplitDimCondition):
    """Split along any dimension not matched before."""

    def _matches(self, axis: int, dimension_name: str | None) -> bool:
        return True


nest(ManifestSplitDimCondition, "Axis", _DimAxis)
nest(ManifestSplitDimCondition, "DimensionName", _DimName)
nest(ManifestSplitDimCondition, "Any", _DimAny)

AnyDimCondition: TypeAlias = _DimAxis | _DimName | _DimAny

"""Value objects for the public configuration and credential classes.

Two kinds exist in upstream Icechunk's Python API and are mirrored here, both declared with one
annotated line per field (the default stated once, in :func:`setting`):

* :func:`record` — a mutable bag of named, validated fields (``RepositoryConfig``,
  ``CachingConfig``, ...): every assignment (also in ``__init__``) goes through the field's
  check, unknown attributes are rejected, equality is field by field, instances pickle and are
  not hashable.
* :func:`variant` — an immutable member of a tagged union (``S3Credentials.Static``,
  ``ObjectStoreConfig.S3``, ...): equality and hashing by value, positional ``repr`` under the
  union's name (see :func:`nest`), pickling by constructor arguments.

A class may write its own ``__init__`` or ``__repr__``; the decorators keep them. The checks
below turn bad input into a :class:`~icechunk.ConfigError` (out of range) or :class:`TypeError`
(wrong type) naming the field.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
import operator
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Self, TypeVar, cast, dataclass_transform

from ._exceptions import ConfigError
from ._time import as_aware

Check = Callable[[str, Any], Any]
T = TypeVar("T", bound=type)


def setting(
    *,
    default: Any = dataclasses.MISSING,
    check: Check | None = None,
    init: bool = True,
    repr: bool = True,
    effective: Any = None,
    yaml: Any = None,
) -> Any:
    """Declare a field of a record or variant.

    Parameters
    ----------
    default
        The constructor's default (``None``: unset, the built-in default applies; see
        ``effective``); without one the argument is required.
    check
        Validator and normaliser ``(qualified name, value) -> value``, run on every assignment.
    init, repr
        As for :func:`dataclasses.field`.
    effective
        The built-in value when unset (see :func:`with_defaults`): a value, or a callable taking
        the record (a record class gives an empty one, filled in turn).
    yaml
        How the value is written to and read from ``config.yaml`` when it is not plain data or
        a nested record (see ``icechunk._config.yaml``).
    """
    metadata = {"check": check, "effective": effective, "yaml": yaml}
    return dataclasses.field(default=default, init=init, repr=repr, metadata=metadata)


def fields(cls_or_obj: Any) -> tuple[dataclasses.Field[Any], ...]:
    """The declared fields of a record or variant, in declaration order."""
    return dataclasses.fields(cls_or_obj)


def field_names(cls_or_obj: Any) -> tuple[str, ...]:
    """The names of :func:`fields`."""
    return tuple(f.name for f in dataclasses.fields(cls_or_obj))


# --- records ----------------------------------------------------------------------------------


class Record:
    """Base of :func:`record` classes (for ``isinstance``)."""

    __record_checks__: ClassVar[dict[str, Check | None]] = {}

    def __setattr__(self, name: str, value: Any) -> None:
        checks = type(self).__record_checks__
        if name in checks:
            check = checks[name]
            if check is not None:
                value = check(f"{type(self).__name__}.{name}", value)
        elif not isinstance(getattr(type(self), name, None), property):
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        object.__setattr__(self, name, value)

    @classmethod
    def _field_names(cls) -> tuple[str, ...]:
        """The public field names, in ``repr`` and ``__init__`` order."""
        return field_names(cls)

    def _with_defaults(self) -> Self:
        """A deep copy with every unset field that declares an ``effective`` value filled in,
        nested records included: the values the engine uses (see :func:`with_defaults`)."""
        return cast(Self, with_defaults(copy.deepcopy(self)))

    def __getstate__(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in type(self).__record_checks__}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            object.__setattr__(self, name, value)


def with_defaults(value: Any) -> Any:
    """A copy of record ``value`` with every unset field that declares an ``effective`` value
    filled in, nested records included (fields without one stay as they are)."""
    out = copy.copy(value)
    for f in dataclasses.fields(value):
        v = getattr(value, f.name)
        effective = f.metadata.get("effective")
        if v is None and effective is not None:
            if isinstance(effective, type):
                v = effective()
            else:
                v = effective(value) if callable(effective) else effective
        if isinstance(v, Record):
            v = with_defaults(v)
        object.__setattr__(out, f.name, v)
    return out


@dataclass_transform(field_specifiers=(setting,))
def record(cls: T) -> T:
    """Make ``cls`` (a :class:`Record` subclass) a validated, mutable value class."""
    out: Any = dataclasses.dataclass(eq=True)(cls)
    out.__record_checks__ = {f.name: f.metadata.get("check") for f in dataclasses.fields(out)}
    return cast(T, out)


# --- variants ---------------------------------------------------------------------------------


class Variant:
    """Base of :func:`variant` classes: immutable, compared and hashed by value."""

    __slots__ = ()

    def _init(self, **values: Any) -> None:
        """Set payload fields from a hand-written ``__init__``."""
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, f.name) for f in dataclasses.fields(self))  # type: ignore[arg-type]

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__qualname__} objects are immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__qualname__} objects are immutable")

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._values() == other._values()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__qualname__, _hashable(self._values())))

    def __repr__(self) -> str:
        return f"{type(self).__qualname__}({', '.join(repr(v) for v in self._values())})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), self._values())


@dataclass_transform(field_specifiers=(setting,), frozen_default=True)
def variant(cls: T) -> T:
    """Make ``cls`` (a :class:`Variant` subclass) an immutable member of a tagged union.

    Equality, hashing and ``repr`` stay :class:`Variant`'s (by value, dicts included); a
    hand-written ``__init__`` sets the payload with :meth:`Variant._init`.
    """
    out: Any = dataclasses.dataclass(frozen=True, eq=False, repr=False, match_args=False)(cls)
    return cast(T, out)


def _hashable(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, Record):
        return _hashable(tuple(getattr(value, n) for n in type(value).__record_checks__))
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


def nest(outer: type, name: str, inner: type) -> None:
    """Attach variant class ``inner`` to union class ``outer`` as ``outer.name``."""
    inner.__name__ = name
    inner.__qualname__ = f"{outer.__qualname__}.{name}"
    inner.__module__ = outer.__module__
    setattr(outer, name, inner)


# --- checks -----------------------------------------------------------------------------------


def _int(name: str, value: Any) -> int:
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, got a bool ({value!r})")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(
            f"{name} must be an integer, got {type(value).__name__} ({value!r})"
        ) from None


def uint(bits: int, *, nonzero: bool = False, optional: bool = True) -> Check:
    """Check for an unsigned integer of ``bits`` bits (optionally non-zero, or None)."""
    low = 1 if nonzero else 0
    high = (1 << bits) - 1

    def check(name: str, value: Any) -> int | None:
        if value is None:
            if optional:
                return None
            raise TypeError(f"{name} is required, got None")
        v = _int(name, value)
        if not low <= v <= high:
            raise ConfigError(f"{name} must be an integer in [{low}, {high}], got {v}")
        return v

    return check


u8, u16, u32, u64 = uint(8), uint(16), uint(32), uint(64)


def _typed(kind: type, label: str, *, optional: bool) -> Check:
    def check(name: str, value: Any) -> Any:
        if (value is None and optional) or isinstance(value, kind):
            return value
        return _wrong(name, label + (" or None" if optional else ""), value)

    return check


def _wrong(name: str, expected: str, value: Any) -> Any:
    raise TypeError(f"{name} must be {expected}, got {type(value).__name__} ({value!r})")


opt_bool = _typed(bool, "a bool", optional=True)
req_bool = _typed(bool, "a bool", optional=False)
opt_str = _typed(str, "a str", optional=True)
req_str = _typed(str, "a str", optional=False)


def opt_datetime(name: str, value: Any) -> datetime.datetime | None:
    """Check for ``datetime | None``; a naive datetime is taken as local time."""
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        return as_aware(value)
    return _wrong(name, "a datetime.datetime or None", value)  # type: ignore[no-any-return]


def str_map(name: str, value: Any) -> dict[str, str]:
    """Check for an optional ``Mapping[str, str]``; None becomes an empty dict (a copy)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a mapping of str to str, got {type(value).__name__}")
    out: dict[str, str] = {}
    for k, v in value.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise TypeError(f"{name} must map str to str, got {k!r}: {v!r}")
        out[k] = v
    return out


class _InstanceOf:
    """Check for an instance of ``cls`` (or None when optional); ``cls`` is kept for the YAML
    mapping, which reads a nested record by its class."""

    def __init__(self, cls: type | tuple[type, ...], optional: bool) -> None:
        self.cls = cls
        self.optional = optional
        self.names = cls.__name__ if isinstance(cls, type) else " | ".join(c.__name__ for c in cls)

    def __call__(self, name: str, value: Any) -> Any:
        if (value is None and self.optional) or isinstance(value, self.cls):
            return value
        return _wrong(name, self.names + (" or None" if self.optional else ""), value)


def instance_of(cls: type | tuple[type, ...], *, optional: bool = True) -> Check:
    """Check for an instance of ``cls`` (or None when optional)."""
    return _InstanceOf(cls, optional)


def upstream_repr(value: Record, shown: tuple[str, ...]) -> str:
    """``Name(field=value, ...)`` with upstream's fields in its order, strings double-quoted;
    fields upstream does not print follow, when set."""
    extra = [f for f in value._field_names() if f not in shown and getattr(value, f) is not None]
    inner = ", ".join(f"{f}={_repr_value(getattr(value, f))}" for f in (*shown, *extra))
    return f"{type(value).__name__}({inner})"


def _repr_value(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else repr(value)

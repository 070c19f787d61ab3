"""Small building blocks for the public value objects (configuration and credentials).

Two kinds of objects exist in upstream Icechunk's Python API and are mirrored here:

* :class:`Record` — a mutable bag of named, validated fields (``RepositoryConfig``,
  ``CachingConfig``, ...). Unknown attributes are rejected, every assignment is validated,
  equality is field by field, and instances pickle.
* :class:`Variant` — an immutable member of a tagged union (``S3Credentials.Static``,
  ``ObjectStoreConfig.S3``, ...). Equality and hashing are by value, instances pickle.

The validators below turn bad input into a clear :class:`~icechunk.ConfigError` (out of range)
or :class:`TypeError` (wrong type), naming the field.
"""

from __future__ import annotations

import datetime
import operator
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from ._exceptions import ConfigError
from ._time import as_aware

Check = Callable[[str, Any], Any]


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
    """Validator for an unsigned integer of ``bits`` bits (optionally non-zero, or None)."""
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


def opt_bool(name: str, value: Any) -> bool | None:
    """Validator for ``bool | None``."""
    if value is None or isinstance(value, bool):
        return value
    raise TypeError(f"{name} must be a bool or None, got {type(value).__name__} ({value!r})")


def req_bool(name: str, value: Any) -> bool:
    """Validator for ``bool``."""
    if isinstance(value, bool):
        return value
    raise TypeError(f"{name} must be a bool, got {type(value).__name__} ({value!r})")


def opt_str(name: str, value: Any) -> str | None:
    """Validator for ``str | None``."""
    if value is None or isinstance(value, str):
        return value
    raise TypeError(f"{name} must be a str or None, got {type(value).__name__} ({value!r})")


def req_str(name: str, value: Any) -> str:
    """Validator for ``str``."""
    if isinstance(value, str):
        return value
    raise TypeError(f"{name} must be a str, got {type(value).__name__} ({value!r})")


def opt_datetime(name: str, value: Any) -> datetime.datetime | None:
    """Validator for ``datetime | None``; a naive datetime is taken as local time."""
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        return as_aware(value)
    raise TypeError(
        f"{name} must be a datetime.datetime or None, got {type(value).__name__} ({value!r})"
    )


def str_map(name: str, value: Any) -> dict[str, str]:
    """Validator for an optional ``Mapping[str, str]``; None becomes an empty dict."""
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


def instance_of(cls: type | tuple[type, ...], *, optional: bool = True) -> Check:
    """Validator for an instance of ``cls`` (or None when optional)."""
    names = cls.__name__ if isinstance(cls, type) else " | ".join(c.__name__ for c in cls)

    def check(name: str, value: Any) -> Any:
        if value is None and optional:
            return None
        if isinstance(value, cls):
            return value
        raise TypeError(
            f"{name} must be {names}{' or None' if optional else ''}, got "
            f"{type(value).__name__} ({value!r})"
        )

    return check


class Record:
    """Mutable value object with validated, named fields.

    Subclasses set ``__slots__`` to their field names and ``_checks`` to a validator per field;
    the order of ``__slots__`` is the order of ``repr`` and of the pickled state.
    """

    __slots__ = ()
    _checks: ClassVar[dict[str, Check]] = {}

    @classmethod
    def _field_names(cls) -> tuple[str, ...]:
        return tuple(cls._checks)

    def __setattr__(self, name: str, value: Any) -> None:
        check = self._checks.get(name)
        if check is None:
            if isinstance(getattr(type(self), name, None), property):
                object.__setattr__(self, name, value)
                return
            if name.startswith("_") and name in _all_slots(type(self)):
                object.__setattr__(self, name, value)
                return
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        object.__setattr__(self, name, check(f"{type(self).__name__}.{name}", value))

    def _fields(self) -> tuple[Any, ...]:
        return tuple(getattr(self, f) for f in self._field_names())

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._fields() == other._fields()  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        inner = ", ".join(f"{f}={getattr(self, f)!r}" for f in self._field_names())
        return f"{type(self).__name__}({inner})"

    def __getstate__(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in _all_slots(type(self))}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for k, v in state.items():
            setattr(self, k, v)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_new_record, (type(self),), self.__getstate__())


def _all_slots(cls: type) -> tuple[str, ...]:
    out: list[str] = []
    for klass in cls.__mro__:
        slots = klass.__dict__.get("__slots__", ())
        out.extend([slots] if isinstance(slots, str) else slots)
    return tuple(out)


def _new_record(cls: type[Record]) -> Record:
    obj = cls.__new__(cls)
    for f in _all_slots(cls):
        object.__setattr__(obj, f, None)
    return obj


class Variant:
    """Immutable member of a tagged union; equality, hashing and pickling are by value.

    Subclasses list their payload attributes in ``_payload`` and set them in ``__init__``
    with :meth:`_init`; the constructor arguments must be the payload, in order.
    """

    __slots__ = ()
    _payload: ClassVar[tuple[str, ...]] = ()

    def _init(self, **values: Any) -> None:
        for k, v in values.items():
            object.__setattr__(self, k, v)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__qualname__} objects are immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__qualname__} objects are immutable")

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, p) for p in self._payload)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._values() == other._values()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__qualname__, _hashable(self._values())))

    def __repr__(self) -> str:
        inner = ", ".join(repr(v) for v in self._values())
        return f"{type(self).__qualname__}({inner})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), self._values())


def _hashable(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(_hashable(v) for v in value)
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

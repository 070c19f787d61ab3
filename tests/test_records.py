"""Unit tests for the value-object helpers of ``icechunk._records``."""

from __future__ import annotations

import pickle

import pytest

from icechunk._exceptions import ConfigError
from icechunk._records import (
    Record,
    Variant,
    instance_of,
    nest,
    record,
    req_str,
    setting,
    u8,
    variant,
    with_defaults,
)


@record
class _Inner(Record):
    level: int | None = setting(default=None, check=u8, effective=3)


@record
class _Outer(Record):
    name: str = setting(default="x", check=req_str)
    inner: _Inner | None = setting(default=None, check=instance_of(_Inner), effective=_Inner)
    copy_of_name: str | None = setting(default=None, effective=lambda r: r.name)


class _Union:
    __slots__ = ()


@variant
class _Member(Variant, _Union):
    payload: dict[str, str] = setting(default=None)


nest(_Union, "Member", _Member)


def test_record_validates_every_assignment_and_rejects_unknown_names() -> None:
    r = _Outer()
    assert r.name == "x" and r.inner is None
    with pytest.raises(ConfigError, match=r"_Inner.level must be an integer in \[0, 255\]"):
        _Inner(level=256)
    with pytest.raises(TypeError, match="_Outer.name must be a str"):
        r.name = 5  # type: ignore[assignment]
    with pytest.raises(AttributeError, match="no attribute 'nme'"):
        r.nme = "y"  # type: ignore[attr-defined]
    assert r.name == "x"


def test_record_equality_repr_pickle_and_no_hash() -> None:
    a, b = _Outer("n", _Inner(1)), _Outer("n", _Inner(1))
    assert a == b and a != _Outer("n", _Inner(2))
    assert repr(a) == "_Outer(name='n', inner=_Inner(level=1), copy_of_name=None)"
    assert pickle.loads(pickle.dumps(a)) == a
    with pytest.raises(TypeError):
        hash(a)
    assert _Outer._field_names() == ("name", "inner", "copy_of_name")


def test_with_defaults_fills_unset_fields_recursively_and_copies() -> None:
    r = _Outer("n")
    full = with_defaults(r)
    assert full == _Outer("n", _Inner(3), "n")
    assert r == _Outer("n")  # untouched
    assert with_defaults(_Outer("n", _Inner(7), "c")) == _Outer("n", _Inner(7), "c")


def test_variant_is_immutable_hashable_by_value_and_nested() -> None:
    m = _Union.Member({"a": "b"})  # type: ignore[attr-defined]
    assert repr(m) == "_Union.Member({'a': 'b'})"
    assert m == _Member({"a": "b"}) and hash(m) == hash(_Member({"a": "b"}))
    assert m != _Member({"a": "c"})
    with pytest.raises(AttributeError):
        m.payload = {}  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(m)) == m

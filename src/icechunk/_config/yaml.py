"""``config.yaml``: what upstream's ``Repository.save_config`` writes (serde_yaml of the Rust
``RepositoryConfig``), written and read from the records' field declarations.

Every field is written, unset ones as ``null``, in declaration order (or a record's
``_yaml_order``), under its name without a leading underscore. Values that are not plain data or
nested records are written by the codecs below, chosen by the field's check: enums are YAML tags
(``store: !s3 {...}``, ``preload_if: !or [...]``, ``from: !Included 1``) and unit variants plain
strings (``any_array``, ``'true'``, ``Unbounded``, ``in_memory``). Reading ignores unknown keys
and leaves missing ones unset, as upstream does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import yaml

from .._exceptions import ConfigError
from .._records import Record, fields, req_str, uint
from ._yaml_io import Tagged, dump_tree, load_tree
from .compression import CompressionAlgorithm
from .conditions import (
    PRELOAD_TAGS,
    SPLIT_TAGS,
    Bound,
    ManifestPreloadCondition,
    ManifestSplitCondition,
    _DimAny,
    _DimAxis,
    _DimName,
    _List,
    _Member,
    _PathMatches,
    _PreloadNumRefs,
    check_regex,
)
from .manifest import check_split_sizes
from .object_store import STORE_TAGS, ObjectStoreConfig, S3Options, _StoreLocal, _StoreMap
from .object_store import _StoreS3Base as _S3
from .repository import RepositoryConfig, check_containers
from .virtual import VirtualChunkContainer

# --- writing ----------------------------------------------------------------------------------


def _key(name: str) -> str:
    return name.lstrip("_")


def _record_to_tree(r: Record) -> dict[str, Any]:
    by_key = {_key(f.name): f for f in fields(r)}
    order = getattr(r, "_yaml_order", None) or tuple(by_key)
    out: dict[str, Any] = {}
    for key in order:
        f = by_key[key]
        out[key] = _to_tree(getattr(r, f.name), f.metadata.get("check"))
    return out


def _to_tree(value: Any, check: Any = None) -> Any:
    if value is None:
        return None
    if isinstance(value, Record):
        return _record_to_tree(value)
    if isinstance(value, CompressionAlgorithm):
        return value.name.lower()
    if isinstance(value, _Member):
        return _condition_to_tree(value)
    if isinstance(value, ObjectStoreConfig):
        return _store_to_tree(value)
    if check is check_containers:
        return {k: _to_tree(v) for k, v in value.items()}
    if check is check_split_sizes:
        return [
            [_to_tree(cond), [{"condition": _dim_to_tree(d), "num_chunks": n} for d, n in dims]]
            for cond, dims in value
        ]
    return value


def _bound_to_tree(b: Bound) -> Any:
    return "Unbounded" if b is None else Tagged(b[0], b[1])


def _condition_to_tree(c: _Member) -> Any:
    if isinstance(c, _List):
        return Tagged(c._yaml_tag, [_condition_to_tree(x) for x in c._items])
    if isinstance(c, _PathMatches):
        return Tagged(c._yaml_tag, {"regex": c.regex})
    if isinstance(c, _PreloadNumRefs):
        return Tagged(c._yaml_tag, {"from": _bound_to_tree(c._lo), "to": _bound_to_tree(c._hi)})
    return c._yaml_tag


def _dim_to_tree(d: Any) -> Any:
    if isinstance(d, _DimAxis):
        return Tagged("Axis", d._0)
    if isinstance(d, _DimName):
        return Tagged("DimensionName", d._0)
    return "Any"


def _store_to_tree(s: Any) -> Any:
    if isinstance(s, _StoreLocal):
        return Tagged(s._yaml_tag, s._path)
    if isinstance(s, _S3):
        return Tagged(s._yaml_tag, _record_to_tree(s._options))
    if isinstance(s, _StoreMap):
        return Tagged(s._yaml_tag, dict(s._opts))
    return s._yaml_tag


def config_to_yaml(cfg: RepositoryConfig) -> bytes:
    """Serialize a configuration as upstream's ``config.yaml``.

    Parameters
    ----------
    cfg
        The configuration.

    Returns
    -------
    bytes
        UTF-8 YAML in upstream's layout (every field present, unset ones ``null``).
    """
    if not isinstance(cfg, RepositoryConfig):
        raise TypeError(f"expected a RepositoryConfig, got {type(cfg).__name__}")
    return dump_tree(_record_to_tree(cfg))


# --- reading ----------------------------------------------------------------------------------


class _Bad(Exception):
    """A value in config.yaml is invalid; carries the path to it."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _variant(where: str, value: Any) -> tuple[str, Any]:
    """(variant name, payload) of a serialized Rust enum: ``!tag payload``, a plain string for a
    unit variant, or a one-key mapping."""
    if isinstance(value, Tagged):
        return value.tag, value.value
    if isinstance(value, bool):
        return ("true" if value else "false"), None
    if isinstance(value, str):
        return value, None
    if isinstance(value, dict) and len(value) == 1:
        ((k, v),) = value.items()
        if isinstance(k, str):
            return k, v
    raise _Bad(where, f"expected an enum variant (a YAML tag like !name), got {value!r}")


def _mapping(where: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Bad(where, f"expected a mapping, got {type(value).__name__} ({value!r})")
    return value


def _list(where: str, value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise _Bad(where, f"expected a list, got {value!r}")
    return value


def _build(where: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except (TypeError, ValueError) as e:
        raise _Bad(where or "config", str(e)) from None


def _record_from(where: str, cls: type[Record], value: Any) -> Any:
    d = _mapping(where or "config", value)
    kwargs: dict[str, Any] = {}
    for f in fields(cls):
        key = _key(f.name)
        if key in d:
            kwargs[key] = _from_tree(_join(where, key), f.metadata.get("check"), d[key])
    out = _build(where, cls, **kwargs)
    for f in fields(cls):  # read as written: no copy by the check (keeps a container's name)
        if f.metadata.get("check") in _KEEP_AS_READ and kwargs.get(_key(f.name)) is not None:
            object.__setattr__(out, f.name, kwargs[_key(f.name)])
    return out


def _from_tree(where: str, check: Any, value: Any) -> Any:
    if value is None:
        return None
    cls = getattr(check, "cls", None)
    read = _READERS.get(cls) or _READERS.get(check)
    if read is not None:
        return read(where, value)
    if isinstance(cls, type) and issubclass(cls, Record):
        return _record_from(where, cls, value)
    return value


def _algorithm_from(where: str, value: Any) -> CompressionAlgorithm:
    name, _ = _variant(where, value)
    if name != "zstd":
        raise _Bad(where, f"unknown variant {name!r}, expected 'zstd'")
    return CompressionAlgorithm.Zstd


def _bound_from(where: str, value: Any) -> Bound:
    name, payload = _variant(where, value)
    if name == "Unbounded":
        return None
    if name not in ("Included", "Excluded"):
        raise _Bad(where, f"unknown bound {name!r}, expected Included, Excluded or Unbounded")
    return (name, _build(where, uint(32, optional=False), where, payload))


def _condition_reader(tags: dict[str, type[_Member]], kind: str) -> Callable[[str, Any], Any]:
    def read(where: str, value: Any) -> Any:
        name, payload = _variant(where, value)
        cls = tags.get(name)
        if cls is None:
            raise _Bad(where, f"unknown manifest {kind} condition {name!r}")
        if issubclass(cls, _List):
            items = _list(where, payload)
            return cls([read(f"{where}[{i}]", x) for i, x in enumerate(items)])
        if issubclass(cls, _PathMatches):
            regex = _mapping(where, payload or {}).get("regex")
            return cls(_build(where, check_regex, where, regex))
        if issubclass(cls, _PreloadNumRefs):
            d = _mapping(where, payload or {})
            lo = _bound_from(f"{where}.from", d.get("from", "Unbounded"))
            hi = _bound_from(f"{where}.to", d.get("to", "Unbounded"))
            return _PreloadNumRefs._from_bounds(lo, hi)
        return cls()

    return read


def _scalar_str(value: Any) -> Any:
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


def _dim_from(where: str, value: Any) -> Any:
    name, payload = _variant(where, value)
    if name == "Axis":
        return _build(where, _DimAxis, payload)
    if name == "DimensionName":
        return _build(where, _DimName, _scalar_str(payload))
    if name == "Any":
        return _DimAny()
    raise _Bad(where, f"unknown split dimension condition {name!r}")


def _store_from(where: str, value: Any) -> ObjectStoreConfig:
    name, payload = _variant(where, value)
    cls = STORE_TAGS.get(name)
    if cls is None:
        raise _Bad(where, f"unknown object store type {name!r}")
    if cls is _StoreLocal:
        return cast(ObjectStoreConfig, _build(where, cls, _scalar_str(payload)))
    if issubclass(cls, _S3):
        return cast(ObjectStoreConfig, cls(_record_from(where, S3Options, payload or {})))
    if issubclass(cls, _StoreMap):
        d = {str(k): str(v) for k, v in (_mapping(where, payload or {})).items()}
        return cast(ObjectStoreConfig, _build(where, cls, d))
    return cast(ObjectStoreConfig, cls())


def _containers_from(where: str, value: Any) -> dict[str, VirtualChunkContainer]:
    out: dict[str, VirtualChunkContainer] = {}
    for key, v in _mapping(where, value).items():
        at = f"{where}[{key!r}]"
        d = _mapping(at, v)
        if "store" not in d:
            raise _Bad(at, "missing field 'store'")
        store = _store_from(f"{at}.store", d["store"])
        cont = _build(at, VirtualChunkContainer, d.get("url_prefix", key), store)
        if d.get("name") is not None:
            cont.name = _build(f"{at}.name", req_str, "name", d["name"])
        out[str(key)] = cont
    return out


def _split_sizes_from(where: str, value: Any) -> Any:
    sizes = []
    for i, entry in enumerate(_list(where, value)):
        at = f"{where}[{i}]"
        pair = _list(at, entry)
        if len(pair) != 2:
            raise _Bad(at, "expected [condition, [dimension sizes]]")
        dims = []
        for j, dim in enumerate(_list(at, pair[1])):
            d = _mapping(f"{at}[1][{j}]", dim)
            dims.append(
                (_dim_from(f"{at}[1][{j}].condition", d.get("condition")), d.get("num_chunks"))
            )
        sizes.append((_read_split(f"{at}[0]", pair[0]), tuple(dims)))
    return _build(where, check_split_sizes, where, tuple(sizes))


_read_split = _condition_reader(SPLIT_TAGS, "split")
_KEEP_AS_READ = (check_containers,)
_READERS: dict[Any, Callable[[str, Any], Any]] = {
    CompressionAlgorithm: _algorithm_from,
    ManifestPreloadCondition: _condition_reader(PRELOAD_TAGS, "preload"),
    ManifestSplitCondition: _read_split,
    ObjectStoreConfig: _store_from,
    check_containers: _containers_from,
    check_split_sizes: _split_sizes_from,
}


def config_from_yaml(data: bytes | str) -> RepositoryConfig:
    """Parse a ``config.yaml`` as written by upstream Icechunk (or :func:`config_to_yaml`).

    Parameters
    ----------
    data
        The file's bytes.

    Returns
    -------
    RepositoryConfig

    Raises
    ------
    ConfigError
        The YAML is malformed, or a value has the wrong type or is out of range; the message
        names the field.
    """
    try:
        tree = load_tree(data)
    except (UnicodeDecodeError, yaml.YAMLError) as e:
        raise ConfigError(f"invalid config.yaml: not valid YAML: {e}") from None
    if tree is None:
        return RepositoryConfig()
    try:
        return cast(RepositoryConfig, _record_from("", RepositoryConfig, tree))
    except _Bad as e:
        raise ConfigError(f"invalid config.yaml: {e}") from None

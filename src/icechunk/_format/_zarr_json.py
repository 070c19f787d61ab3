"""Plausibility checks of the zarr v3 metadata (``zarr.json``) a snapshot node carries.

Used on snapshots without a checksum (written by upstream Icechunk 1.1), where a damaged byte
in a node's ``zarr.json`` would otherwise reach zarr and fail there with a ``JSONDecodeError``,
``TypeError`` or ``ValueError``, or pass as a changed shape. The checks are structural and need
no zarr: well-formed JSON; the fields zarr v3 allows; shape, regular chunk shape and dimension
names equal to the node's own record; chunk grid, chunk key encoding and codecs shaped as zarr
v3 has them; the configuration keys of zarr's built-in codecs and the names of its data types;
and no codec or data type name one character away from a built-in one (a custom codec could have
any name, but one letter off ``zstd`` or ``bytes`` is a damaged byte, not a custom codec). A flip that turns one valid value into another valid value (an attribute, a fill value, a
codec level) cannot be seen without a checksum.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from .._exceptions import FormatError

if TYPE_CHECKING:
    from .snapshot import ArrayNodeData

_COMMON_KEYS = frozenset({"zarr_format", "node_type", "attributes"})
_KEYS = {
    "group": _COMMON_KEYS | {"consolidated_metadata"},
    "array": _COMMON_KEYS
    | {
        "shape",
        "data_type",
        "chunk_grid",
        "chunk_key_encoding",
        "fill_value",
        "codecs",
        "dimension_names",
        "storage_transformers",
    },
}
_CHUNK_GRIDS = frozenset({"regular", "rectilinear"})
_KEY_ENCODINGS = frozenset({"default", "v2"})
_SEPARATORS = frozenset({"/", "."})
#: Configuration keys of the codecs zarr-python ships (zarr 3.1); other codecs are not checked.
_CODEC_KEYS = {
    "bytes": frozenset({"endian"}),
    "zstd": frozenset({"level", "checksum"}),
    "gzip": frozenset({"level"}),
    "blosc": frozenset({"typesize", "cname", "clevel", "shuffle", "blocksize"}),
    "transpose": frozenset({"order"}),
    "crc32c": frozenset(),
    "vlen-utf8": frozenset(),
    "vlen-bytes": frozenset(),
    "sharding_indexed": frozenset({"chunk_shape", "codecs", "index_codecs", "index_location"}),
}
#: Data type names of zarr v3 and zarr-python 3.1 (``r<bits>`` raw types match a pattern).
_DATA_TYPES = frozenset(
    {"bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"}
    | {"float16", "float32", "float64", "complex64", "complex128"}
    | {"string", "bytes", "fixed_length_utf32", "null_terminated_bytes", "variable_length_bytes"}
    | {"numpy.datetime64", "numpy.timedelta64", "structured", "raw_bytes"}
)
_RAW_TYPE = re.compile(r"r[1-9][0-9]*")
_ENDIANS = frozenset({"little", "big"})
_KEY_ENCODING_KEYS = frozenset({"separator"})


def _one_off(name: str, known: frozenset[str] | dict[str, Any]) -> bool:
    """Whether ``name`` differs in exactly one character from a known name of its length."""
    return any(
        len(k) == len(name) and sum(a != b for a, b in zip(k, name)) == 1 for k in known
    )


def check_zarr_json(path: str, user_data: bytes, array: ArrayNodeData | None) -> None:
    """Check the zarr metadata of the node at ``path`` (an array when ``array`` is set).

    Raises
    ------
    FormatError
        Naming the node path and what is wrong.
    """
    doc = _parse(path, user_data)
    kind = "group" if array is None else "array"
    _expect(path, "zarr_format", doc.get("zarr_format") == 3, doc.get("zarr_format"))
    _expect(path, "node_type", doc.get("node_type") == kind, doc.get("node_type"))
    _expect(path, "attributes", isinstance(doc.get("attributes", {}), dict), doc.get("attributes"))
    extra = [
        name
        for name, value in doc.items()
        if name not in _KEYS[kind]
        and not (isinstance(value, dict) and value.get("must_understand") is False)
    ]
    _expect(path, "field", not extra, extra)
    if array is not None:
        _check_array(path, array, doc)


def _expect(path: str, name: str, ok: bool, found: Any) -> None:
    if not ok:
        raise FormatError(f"node {path!r} has an invalid {name} in its zarr metadata: {found!r}")


def _parse(path: str, user_data: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(user_data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise FormatError(f"the zarr metadata of node {path!r} is not valid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise FormatError(f"the zarr metadata of node {path!r} is not a JSON object")
    return doc


def _named(value: Any, names: frozenset[str] | None = None) -> bool:
    """Whether ``value`` is a zarr v3 ``{"name": ..., "configuration": {...}}`` object."""
    if not isinstance(value, dict) or not isinstance(value.get("name"), str):
        return False
    if names is not None and value["name"] not in names:
        return False
    return isinstance(value.get("configuration", {}), dict)


def _codecs_ok(codecs: Any) -> bool:
    if not isinstance(codecs, list):
        return False
    for codec in codecs:
        if isinstance(codec, str):
            continue
        if not _named(codec) or _one_off(codec["name"], _CODEC_KEYS):
            return False
        known = _CODEC_KEYS.get(codec["name"])
        configuration = codec.get("configuration", {})
        if known is not None and not set(configuration) <= known:
            return False
        if codec["name"] == "bytes" and configuration.get("endian", "little") not in _ENDIANS:
            return False
        if codec["name"] == "sharding_indexed":
            inner = (configuration.get("codecs", []), configuration.get("index_codecs", []))
            if not all(_codecs_ok(c) for c in inner):
                return False
    return True


def _data_type_ok(dtype: Any) -> bool:
    if isinstance(dtype, str):
        return dtype in _DATA_TYPES or _RAW_TYPE.fullmatch(dtype) is not None
    return _named(dtype) and not _one_off(dtype["name"], _DATA_TYPES)


def _check_array(path: str, array: ArrayNodeData, doc: dict[str, Any]) -> None:
    lengths = [d.array_length for d in array.shape]
    _expect(path, "shape", doc.get("shape") == lengths, f"{doc.get('shape')!r}, not {lengths}")
    grid: Any = doc.get("chunk_grid")  # a dict once _expect passes
    _expect(path, "chunk_grid", _named(grid, _CHUNK_GRIDS), grid)
    if grid["name"] == "regular":
        chunks = [d.chunk_length for d in array.shape]
        declared = grid.get("configuration", {}).get("chunk_shape")
        _expect(path, "chunk_shape", declared == chunks, f"{declared!r}, not {chunks}")
    encoding: Any = doc.get("chunk_key_encoding")
    _expect(path, "chunk_key_encoding", _named(encoding, _KEY_ENCODINGS), encoding)
    configuration = encoding.get("configuration", {})
    ok = set(configuration) <= _KEY_ENCODING_KEYS
    _expect(path, "chunk key encoding configuration", ok, configuration)
    separator = configuration.get("separator", "/")
    _expect(path, "chunk key separator", separator in _SEPARATORS, separator)
    _expect(path, "data_type", _data_type_ok(doc.get("data_type")), doc.get("data_type"))
    _expect(path, "codecs", _codecs_ok(doc.get("codecs")), doc.get("codecs"))
    if array.dimension_names is not None:
        names = list(array.dimension_names)
        found = doc.get("dimension_names")
        _expect(path, "dimension_names", found == names, f"{found!r}, not {names}")

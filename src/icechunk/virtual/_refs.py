"""Reading kerchunk reference sets into one flat mapping of key -> reference.

A reference set comes as a dict (version 0: keys at the top; version 1: ``{"version": 1,
"refs": ..., "templates": ..., "gen": ...}``), as JSON text, as the path or URL of a JSON
file, as the directory of a parquet reference set, or as a list of any of these (what
``kerchunk.grib2.scan_grib`` returns), which is combined with kerchunk's ``MultiZarrToZarr``.

Templates (``{{u}}``) and generators (``gen``) are expanded by fsspec's
``ReferenceFileSystem``, the reference implementation of the format; parquet sets are read
by its ``LazyReferenceMapper``. What comes out is a :class:`References`: metadata documents
by key and, by chunk key, either inline bytes (``base64:`` decoded) or a
:class:`Location`.
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, NamedTuple
from urllib.parse import quote

from ._errors import KerchunkLocationError, KerchunkReferenceError

__all__ = ["Location", "References", "load_references"]

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_METADATA_NAMES = (".zarray", ".zattrs", ".zgroup", ".zmetadata")

RefsInput = Mapping[str, Any] | str | bytes | os.PathLike[str] | Sequence[Any]


class Location(NamedTuple):
    """A chunk stored in another file: ``url`` and, unless the whole file, a byte range."""

    url: str
    offset: int | None = None
    length: int | None = None


@dataclass
class References:
    """A reference set, flattened: metadata documents and chunk references by key."""

    metadata: dict[str, dict[str, Any]] = field(default_factory=dict)
    chunks: dict[str, bytes | Location] = field(default_factory=dict)


def load_references(
    refs: RefsInput,
    *,
    concat_dims: Sequence[str] | None = None,
    identical_dims: Sequence[str] | None = None,
) -> References:
    """Read a reference set in any of kerchunk's forms (see the module docstring).

    Raises
    ------
    KerchunkReferenceError
        The input is not a reference set, or a list is given without ``concat_dims``.
    KerchunkLocationError
        A reference names a relative path.
    """
    if isinstance(refs, Sequence) and not isinstance(refs, str | bytes):
        refs = _combine(list(refs), concat_dims, identical_dims)
    elif concat_dims is not None or identical_dims is not None:
        raise KerchunkReferenceError(
            "concat_dims and identical_dims combine a list of reference sets; pass the list "
            "(for example the one kerchunk.grib2.scan_grib returns), or leave them out"
        )
    mapping = _expanded(_as_input(refs))
    if isinstance(mapping, dict):
        return _flatten(mapping.items())
    # not mapping.items(): fsspec's parquet mapper pairs keys and values out of step there
    return _flatten((key, mapping[key]) for key in mapping)


def _as_input(refs: Any) -> Any:
    """A dict, or a path/URL string for fsspec (JSON text is parsed here)."""
    if isinstance(refs, bytes):
        refs = refs.decode()
    if isinstance(refs, os.PathLike):
        return os.fspath(refs)
    if isinstance(refs, str):
        if refs.lstrip().startswith("{"):
            try:
                return json.loads(refs)
            except json.JSONDecodeError as exc:
                raise KerchunkReferenceError(
                    f"the reference set is not valid JSON: {exc}; pass a dict, JSON text, or "
                    "the path of a .json file written by kerchunk"
                ) from exc
        return refs
    if isinstance(refs, Mapping):
        return dict(refs)
    raise KerchunkReferenceError(
        f"expected a kerchunk reference set (a dict, JSON text, a path or URL, or a list of "
        f"these), got {type(refs).__name__}"
    )


def _combine(
    sets: list[Any], concat_dims: Sequence[str] | None, identical_dims: Sequence[str] | None
) -> Any:
    if not sets:
        raise KerchunkReferenceError("the list of reference sets is empty: nothing to ingest")
    if len(sets) == 1 and concat_dims is None:
        return sets[0]
    if not concat_dims:
        raise KerchunkReferenceError(
            f"a list of {len(sets)} reference sets is combined into one with kerchunk's "
            "MultiZarrToZarr, which needs the dimension(s) they are joined along: pass "
            "concat_dims=['time'] (GRIB messages of successive times; 'step' for forecast "
            "steps)"
        )
    try:
        from kerchunk.combine import MultiZarrToZarr
    except ImportError as exc:
        raise KerchunkReferenceError(
            "combining a list of reference sets needs kerchunk: pip install kerchunk"
        ) from exc
    inputs = [_as_input(s) for s in sets]
    if identical_dims is None:
        identical_dims = _shared_arrays([_expanded(s) for s in inputs], concat_dims)
    try:
        return MultiZarrToZarr(
            inputs,
            concat_dims=list(concat_dims),
            identical_dims=list(identical_dims),
        ).translate()
    except (KeyError, TypeError, ValueError) as exc:
        raise KerchunkReferenceError(
            f"kerchunk could not combine the {len(sets)} reference sets along "
            f"{list(concat_dims)} ({type(exc).__name__}: {exc}); check concat_dims and "
            "identical_dims name coordinates of the sets"
        ) from exc


def _shared_arrays(sets: list[Mapping[str, Any]], concat_dims: Sequence[str]) -> list[str]:
    """The arrays MultiZarrToZarr should copy from the first set rather than concatenate.

    Those are the top-level arrays that every set holds inline with the same values (for
    GRIB messages: latitude, longitude, the level, the step), and the coordinates whose
    chunks point into the files, have the same metadata in every set and do not span a
    concatenated dimension (the 2-D latitude and longitude of a projected GRIB grid, one
    copy in each message). Others, such as GRIB's valid_time, are concatenated.
    """
    grouped = [_by_top_level(refs) for refs in sets]
    first = grouped[0]
    coordinates = _coordinate_names(first, sets[0].get(".zattrs"))
    shared = []
    for name, keys in sorted(first.items()):
        if name in concat_dims or f"{name}/.zarray" not in keys:
            continue
        if not any(isinstance(v, list | tuple) for v in keys.values()):
            if all(other.get(name) == keys for other in grouped[1:]):
                shared.append(name)  # inline and the same everywhere
        elif name in coordinates and not set(_dimensions(keys)) & set(concat_dims):
            zarray = keys[f"{name}/.zarray"]
            if all(other.get(name, {}).get(f"{name}/.zarray") == zarray for other in grouped):
                shared.append(name)
    return shared


def _by_top_level(refs: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for key in refs:
        top, sep, _ = key.partition("/")
        if sep:
            out.setdefault(top, {})[key] = refs[key]
    return out


def _coordinate_names(grouped: dict[str, dict[str, Any]], root_attrs: Any) -> set[str]:
    """Names in the CF ``coordinates`` attributes of the root group and the arrays."""
    documents = [root_attrs] + [keys.get(f"{name}/.zattrs") for name, keys in grouped.items()]
    names: set[str] = set()
    for attrs in documents:
        if attrs is not None:
            names.update(str(_json(attrs).get("coordinates", "")).split())
    return names


def _dimensions(keys: dict[str, Any]) -> list[str]:
    for key, value in keys.items():
        if key.endswith("/.zattrs"):
            return list(_json(value).get("_ARRAY_DIMENSIONS", []))
    return []


def _json(value: Any) -> dict[str, Any]:
    try:
        doc = value if isinstance(value, Mapping) else json.loads(value)
    except (TypeError, ValueError):
        return {}
    return dict(doc) if isinstance(doc, Mapping) else {}


def _expanded(refs: Any) -> Mapping[str, Any]:
    """The references with templates and generators expanded, by fsspec."""
    from fsspec.implementations.memory import MemoryFileSystem
    from fsspec.implementations.reference import ReferenceFileSystem

    if isinstance(refs, dict) and refs.get("version") not in (None, 1):
        raise KerchunkReferenceError(
            f"unknown kerchunk reference set version {refs.get('version')!r}: versions 0 "
            "(keys at the top level) and 1 ({'version': 1, 'refs': {...}}) are supported"
        )
    if isinstance(refs, dict) and refs.get("version") == 1 and "refs" not in refs:
        raise KerchunkReferenceError(
            "a version 1 reference set needs a 'refs' mapping: {'version': 1, 'refs': {...}}"
        )
    simple = not (isinstance(refs, dict) and refs.get("gen"))
    try:
        # fs: no remote file system is created for the targets; only the references are read
        fs = ReferenceFileSystem(refs, fs=MemoryFileSystem(), simple_templates=simple)
    except (FileNotFoundError, IsADirectoryError) as exc:
        raise KerchunkReferenceError(f"no kerchunk reference set at {refs!r}: {exc}") from exc
    except ImportError as exc:
        raise KerchunkReferenceError(
            f"reading this reference set needs a package that is not installed ({exc}): "
            "'gen' entries need jinja2, parquet reference sets need pandas and fastparquet"
        ) from exc
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise KerchunkReferenceError(
            f"malformed kerchunk reference set ({type(exc).__name__}: {exc}); see "
            "https://fsspec.github.io/kerchunk/spec.html for the format"
        ) from exc
    return fs.references  # type: ignore[no-any-return]


def _flatten(items: Iterable[tuple[str, Any]]) -> References:
    out = References()
    chunks = out.chunks
    for raw_key, value in items:
        key = raw_key.lstrip("/") if isinstance(raw_key, str) else str(raw_key)
        if ".z" not in key:  # most keys are chunks: skip the metadata test
            chunks[key] = _chunk(key, value)
            continue
        name = key.rpartition("/")[2]
        if name == ".zmetadata":
            continue  # consolidated metadata repeats the .zarray/.zattrs documents
        if name in _METADATA_NAMES:
            out.metadata[key] = _document(key, value)
        else:
            chunks[key] = _chunk(key, value)
    return out


def _document(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return dict(value)
    try:
        doc = json.loads(value)
    except (TypeError, ValueError) as exc:
        raise KerchunkReferenceError(
            f"the metadata document {key!r} is not JSON ({exc}): {str(value)[:80]!r}"
        ) from exc
    if not isinstance(doc, dict):
        raise KerchunkReferenceError(f"the metadata document {key!r} is not a JSON object")
    return doc


def _chunk(key: str, value: Any) -> bytes | Location:
    if type(value) is list and len(value) == 3:  # the common case first, without conversions
        url, offset, length = value
        if type(offset) is int and type(length) is int and offset >= 0 and length >= 0:
            return Location(_url(url, key), offset, length)
    if isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
        return base64.b64decode(data[7:]) if data.startswith(b"base64:") else data
    if isinstance(value, str):
        if value.startswith("base64:"):
            try:
                return base64.b64decode(value[7:], validate=True)
            except ValueError as exc:
                raise KerchunkReferenceError(f"{key!r}: invalid base64 inline data") from exc
        return value.encode("utf-8")
    if isinstance(value, list | tuple) and len(value) in (1, 3) and isinstance(value[0], str):
        if len(value) == 1:
            return Location(_url(value[0], key))
        offset, length = value[1], value[2]
        if _is_uint(offset) and _is_uint(length):
            return Location(_url(value[0], key), int(offset), int(length))
    raise KerchunkReferenceError(
        f"reference {key!r} is {value!r}: a chunk reference is inline data (a string, "
        "'base64:...'), [url], or [url, offset, length] with non-negative integers"
    )


def _is_uint(value: Any) -> bool:
    try:
        return int(value) == value and int(value) >= 0 and not isinstance(value, bool)
    except (TypeError, ValueError):
        return False


def _url(url: Any, key: str) -> str:
    if not isinstance(url, str):
        raise KerchunkReferenceError(f"reference {key!r} has the url {url!r}: not a string")
    normalised = _absolute_url(url)
    if normalised is None:
        location_url(url, key)  # raises, naming the key
    return normalised  # type: ignore[return-value]


@lru_cache(maxsize=4096)
def _absolute_url(url: str) -> str | None:
    """``url`` as an absolute URL, or None for a relative path (one result per file)."""
    if _SCHEME.match(url):
        return url
    if url.startswith("file:"):
        return "file://" + url[len("file:") :]
    if os.path.isabs(url):
        return "file://" + quote(os.path.normpath(url))
    return None


def location_url(url: str, key: str = "") -> str:
    """``url`` as an absolute URL: absolute local paths become ``file://`` URLs.

    Raises
    ------
    KerchunkLocationError
        ``url`` is a relative path: it would mean a different file in every process.
    """
    normalised = _absolute_url(url)
    if normalised is not None:
        return normalised
    where = f"reference {key!r}" if key else "a reference"
    raise KerchunkLocationError(
        f"{where} points at the relative path {url!r}; virtual chunks need absolute "
        "locations. Make the references with an absolute path (for example "
        "scan_grib(os.path.abspath(path))) or a URL such as file:///data/x.grib or "
        "s3://bucket/x.grib"
    )

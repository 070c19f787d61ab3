"""Zarr v3 metadata documents as the format sees them: node type, shape, chunking, names."""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._change_set import ArrayDefinition
from .._exceptions import InvalidKeyError
from .._format.manifest import ChunkCoords, uniform_coords
from .._format.snapshot import DimensionShape, NodeSnapshot


@dataclass(frozen=True)
class ParsedMetadata:
    """A parsed ``zarr.json``: a group (``array is None``) or an array definition."""

    user_data: bytes
    array: ArrayDefinition | None


def parse_zarr_json(path: str, data: bytes) -> ParsedMetadata:
    """Parse the zarr.json bytes written for the node at ``path``.

    Raises
    ------
    InvalidKeyError
        When the document is not Zarr v3 group or array metadata.
    """
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise InvalidKeyError(
            f"zarr.json for node {path!r} is not valid JSON ({e}); icechunk stores Zarr v3 "
            "metadata documents only"
        ) from None
    if not isinstance(doc, dict) or doc.get("zarr_format") != 3:
        raise InvalidKeyError(
            f"zarr.json for node {path!r} is not Zarr v3 metadata (zarr_format must be 3)"
        )
    node_type = doc.get("node_type")
    if node_type == "group":
        return ParsedMetadata(data, None)
    if node_type != "array":
        raise InvalidKeyError(f"zarr.json for node {path!r} has unknown node_type {node_type!r}")
    return ParsedMetadata(data, _array_definition(path, doc, data))


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _array_definition(path: str, doc: dict[str, Any], data: bytes) -> ArrayDefinition:
    shape = doc.get("shape")
    grid = doc.get("chunk_grid")
    if (
        not isinstance(shape, list)
        or not isinstance(grid, dict)
        or grid.get("name") != "regular"
    ):
        raise InvalidKeyError(
            f"array metadata for {path!r} needs a shape and a regular chunk grid"
        )
    if not all(_is_count(n) for n in shape):
        raise InvalidKeyError(
            f"array metadata for {path!r} has an invalid shape {shape!r}: expected a list of "
            "non-negative integers"
        )
    configuration = grid.get("configuration")
    chunk_shape = configuration.get("chunk_shape") if isinstance(configuration, dict) else None
    if (
        not isinstance(chunk_shape, list)
        or len(chunk_shape) != len(shape)
        or not all(_is_count(c) for c in chunk_shape)
    ):
        raise InvalidKeyError(
            f"array metadata for {path!r} has a chunk_shape that does not match its shape"
        )
    names = doc.get("dimension_names")
    if names is not None and (
        not isinstance(names, list)
        or len(names) != len(shape)
        or not all(n is None or isinstance(n, str) for n in names)
    ):
        raise InvalidKeyError(
            f"array metadata for {path!r} has invalid dimension_names {names!r}: expected one "
            "name (a string or null) per dimension"
        )
    encoding = doc.get("chunk_key_encoding")
    if encoding is not None and (
        not isinstance(encoding, dict)
        or encoding.get("name", "default") not in ("default", "v2")
        or not isinstance(encoding.get("configuration") or {}, dict)
    ):
        raise InvalidKeyError(
            f"array metadata for {path!r} has an unsupported chunk_key_encoding {encoding!r}"
        )
    dims = tuple(DimensionShape(n, c) for n, c in zip(shape, chunk_shape))
    return ArrayDefinition(
        user_data=data,
        shape=dims,
        dimension_names=None if names is None else tuple(names),
    )


@dataclass(frozen=True)
class ChunkKeyEncoding:
    """How an array names its chunks: ``default`` (``c/0/1``) or ``v2`` (``0.1``)."""

    name: str = "default"
    separator: str = "/"

    def parse(self, rest: str, ndim: int) -> tuple[int, ...] | None:
        """Chunk coordinates for the key suffix ``rest``, or None if it is not a chunk key."""
        if self.name == "default":
            if rest == "c":
                parts: list[str] = []
            elif rest.startswith("c" + self.separator):
                parts = rest[2:].split(self.separator)
            else:
                return None
        else:
            parts = rest.split(self.separator) if rest != "0" or ndim else []
            if ndim == 0:
                return () if rest == "0" else None
        if len(parts) != ndim or not all(p.isdigit() for p in parts):
            return None
        return tuple(int(p) for p in parts)

    def key(self, coords: tuple[int, ...]) -> str:
        if self.name == "default":
            return self.separator.join(["c", *map(str, coords)])
        return self.separator.join(map(str, coords)) if coords else "0"


def chunk_key_encoding(user_data: bytes) -> ChunkKeyEncoding:
    """The chunk key encoding declared in an array's zarr.json."""
    doc = json.loads(user_data)
    enc = doc.get("chunk_key_encoding") or {"name": "default"}
    name = enc.get("name", "default")
    default_sep = "/" if name == "default" else "."
    sep = (enc.get("configuration") or {}).get("separator", default_sep)
    return ChunkKeyEncoding(name, sep)


def grid_shape(shape: tuple[DimensionShape, ...]) -> tuple[int, ...]:
    """Number of chunks along each dimension."""
    return tuple(
        -(-d.array_length // d.chunk_length) if d.chunk_length else 0 for d in shape
    )


def is_descendant(path: str, ancestor: str) -> bool:
    """Whether ``path`` lies strictly below ``ancestor`` (both absolute)."""
    if ancestor == "/":
        return path != "/"
    return path.startswith(ancestor + "/")


def inside_grid(
    chunks: Mapping[ChunkCoords, object], grid: tuple[int, ...]
) -> frozenset[ChunkCoords]:
    """The coordinates among ``chunks`` that lie inside a chunk grid of shape ``grid``.

    Coordinates of another rank than the grid are compared on their common dimensions.
    """
    keys = list(chunks)
    arr = uniform_coords(keys)
    if arr is None or arr.shape[1] != len(grid):  # mixed ranks, or none at all
        return frozenset(c for c in keys if all(i < g for i, g in zip(c, grid)))
    inside: np.ndarray = np.asarray((arr < np.array(grid, dtype=np.int64)).all(axis=1))
    if inside.all():
        return frozenset(keys)
    return frozenset(itertools.compress(keys, inside.tolist()))


def in_extents(coords: ChunkCoords, extents: tuple[tuple[int, int], ...]) -> bool:
    return all(lo <= c < hi for c, (lo, hi) in zip(coords, extents))


def in_grid(coords: ChunkCoords, node: NodeSnapshot) -> bool:
    assert node.array is not None
    return all(c * d.chunk_length < d.array_length for c, d in zip(coords, node.array.shape))

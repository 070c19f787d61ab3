"""The groups and arrays of a flattened reference set, and each array's chunks by index.

Chunk references are kept in columns per array (chunk keys, then indices as one integer
array), not as one Python object per chunk: a GRIB archive or a long NetCDF series can
hold millions of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._errors import KerchunkReferenceError
from ._refs import Location, References

__all__ = ["ArrayRefs", "assign_chunks", "nodes", "parents"]


@dataclass
class ArrayRefs:
    """One array of the reference set: its v2 metadata and its chunk references."""

    path: str
    zarray: dict[str, Any]
    zattrs: dict[str, Any]
    virtual_keys: list[str] = field(default_factory=list)
    virtual: list[Location] = field(default_factory=list)
    inline_keys: list[str] = field(default_factory=list)
    inline: list[bytes] = field(default_factory=list)

    @property
    def separator(self) -> str:
        """The character between chunk indices in the array's v2 chunk keys."""
        return str(self.zarray.get("dimension_separator") or ".")

    @property
    def grid(self) -> tuple[int, ...]:
        """Chunks per dimension (call after the metadata was validated)."""
        shape, chunks = self.zarray["shape"], self.zarray["chunks"]
        return tuple(math.ceil(s / c) if c else 0 for s, c in zip(shape, chunks, strict=True))

    def indices(self, keys: list[str]) -> np.ndarray[Any, Any]:
        """The chunk indices named by chunk ``keys`` (relative to the array), ``(n, ndim)``.

        Raises
        ------
        KerchunkReferenceError
            A key names no chunk of the array's grid.
        """
        grid = self.grid
        if not grid:  # a scalar array's one chunk: "x/0" in zarr v2, "x/c" in zarr v3
            for key in keys:
                if key not in ("0", ""):
                    self._no_chunk(key)
            return np.zeros((len(keys), 0), dtype=np.int64)
        if not keys:
            return np.zeros((0, len(grid)), dtype=np.int64)
        sep = self.separator
        try:
            parsed = np.array([[int(i) for i in k.split(sep)] for k in keys], dtype=np.int64)
        except ValueError:
            parsed = np.zeros((0,), dtype=np.int64)
        if parsed.shape != (len(keys), len(grid)):
            for key in keys:  # find the culprit for the message
                parts = key.split(sep)
                if len(parts) != len(grid) or not all(p.lstrip("-").isdigit() for p in parts):
                    self._no_chunk(key)
        outside = ((parsed < 0) | (parsed >= np.asarray(grid))).any(axis=1)
        if outside.any():
            self._no_chunk(keys[int(np.argmax(outside))])
        return parsed

    def _no_chunk(self, key: str) -> None:
        name = f"{self.path}/{key}" if self.path else key
        raise KerchunkReferenceError(
            f"the reference {name!r} names no chunk of array {self.path!r} (chunk grid "
            f"{list(self.grid)}, separator {self.separator!r})"
        )


def nodes(refs: References) -> tuple[dict[str, dict[str, Any]], dict[str, ArrayRefs]]:
    """Groups (path -> attributes) and arrays of the reference set, parents included."""
    zarrays = _documents(refs, ".zarray")
    zattrs = _documents(refs, ".zattrs")
    groups = {p: zattrs.get(p, {}) for p in _documents(refs, ".zgroup")}
    for path, attrs in zattrs.items():
        if path not in zarrays:
            groups.setdefault(path, attrs)
    if not zarrays and not groups:
        raise KerchunkReferenceError(
            "the reference set has no .zgroup or .zarray document: it describes no zarr "
            "group or array (is it a kerchunk reference set?)"
        )
    for path in zarrays:
        if path in groups:
            raise KerchunkReferenceError(f"{path!r} has both a .zgroup and a .zarray document")
        for parent in parents(path):
            if parent in zarrays:
                raise KerchunkReferenceError(
                    f"array {path!r} is inside array {parent!r}: arrays hold no nodes"
                )
            groups.setdefault(parent, {})
    arrays = {p: ArrayRefs(p, z, zattrs.get(p, {})) for p, z in zarrays.items()}
    return groups, arrays


def _documents(refs: References, name: str) -> dict[str, dict[str, Any]]:
    out = {}
    for key, doc in refs.metadata.items():
        parent, _, last = key.rpartition("/")
        if last == name:
            out[parent] = doc
    return out


def parents(path: str) -> list[str]:
    """The groups above ``path``, the root ``""`` first."""
    parts = path.split("/")[:-1] if path else []
    return [""] + ["/".join(parts[: i + 1]) for i in range(len(parts))]


def assign_chunks(refs: References, arrays: dict[str, ArrayRefs]) -> None:
    """Put each chunk reference on its array (keys relative to the array)."""
    dotted = {p: a for p, a in arrays.items() if a.separator != "/"}
    nested = sorted((a for a in arrays.values() if a.separator == "/"), key=lambda a: -len(a.path))
    for key, ref in refs.chunks.items():
        parent, _, rest = key.rpartition("/")
        array = dotted.get(parent)
        if array is None:
            array = next((a for a in nested if not a.path or key.startswith(a.path + "/")), None)
            if array is None:
                raise KerchunkReferenceError(
                    f"the reference {key!r} belongs to no array of the reference set (no "
                    "'.zarray' above it); chunk keys look like 'temperature/0.0'"
                )
            rest = key[len(array.path) + 1 :] if array.path else key
        if isinstance(ref, Location):
            array.virtual_keys.append(rest)
            array.virtual.append(ref)
        else:
            array.inline_keys.append(rest)
            array.inline.append(ref)

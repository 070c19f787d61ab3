"""The array nodes of a snapshot, laid out as one pre-built flatbuffers block with numpy.

Going through :class:`flatbuffers.Builder` costs about 30 calls per array (and each vtable is
searched against every earlier one). Here the nodes are grouped by kind (rank, named
dimensions, extents per manifest ref): the tables and vectors of one node of a kind form a
fixed-size record, and all records of a kind are filled at once as one numpy structured array.

Block layout: six shared vtables; the records, kind after kind, each 8-byte aligned (a
record holds the ``NodeSnapshot`` table, the ``ArrayNodeData`` table, the shape vector, the
dimension-names vector and tables, the manifest-refs vector and tables, and the extents
vectors); then the path strings; then each distinct dimension name once; then each distinct
``user_data`` once. Every uoffset points forward, to a later position.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Iterator, Sequence
from itertools import chain, count, repeat
from operator import attrgetter, is_not, itemgetter

import numpy as np

from ._fbwrite import byte_vectors, string_vectors
from .snapshot import ArrayNodeData, ManifestRef, NodeSnapshot

NODE_DATA_ARRAY = 1

# NodeSnapshot, groups and arrays alike: id@4, path@12, user_data@16, data_type@24,
# node_data@20 (28 B table); 16 bytes with its padding
NODE_VTABLE = struct.pack("<7H2x", 14, 28, 4, 12, 16, 24, 20)

_VTABLES = b"".join(
    (
        NODE_VTABLE,  # at 0
        struct.pack("<5H2x", 10, 16, 4, 8, 12),  # at 16: ArrayNodeData with dimension names
        struct.pack("<5H2x", 10, 16, 4, 0, 12),  # at 28: ArrayNodeData without
        struct.pack("<4H", 8, 20, 4, 16),  # at 40: ManifestRef, object_id@4, extents@16
        struct.pack("<3H2x", 6, 8, 4),  # at 48: DimensionName with a name
        struct.pack("<3H2x", 6, 8, 0),  # at 56: DimensionName without (8 B table all the same)
    )
)
_NODE_VT, _ARRAY_NAMES_VT, _ARRAY_VT, _MREF_VT, _NAME_VT, _NO_NAME_VT = 0, 16, 28, 40, 48, 56

Kind = tuple[int, bool, tuple[int, ...]]  # rank, named dimensions, extents per manifest ref


def arrays_block(nodes: Sequence[NodeSnapshot]) -> tuple[bytes, np.ndarray]:
    """The block holding ``nodes`` (arrays), a multiple of 8 bytes long, and the position of
    each node table in it; the block must be placed at an 8-byte aligned position."""
    n = len(nodes)
    arrays: list[ArrayNodeData] = list(map(_ARRAY, nodes))
    kinds = _kinds(arrays)
    positions = np.zeros(n, dtype=np.int64)
    at = len(_VTABLES)
    for kind, rows in kinds.items():
        size = _record(*kind).itemsize
        positions[rows] = at + size * np.arange(len(rows), dtype=np.int64)
        at += size * len(rows)
    paths, path_pos = string_vectors(list(map(_PATH, nodes)), at)
    at += len(paths)
    distinct_names = dict.fromkeys(chain.from_iterable(filter(None, map(_NAMES, arrays))))
    distinct_names.pop(None, None)
    names, names_pos = string_vectors(list(distinct_names), at)
    name_pos: dict[str | None, int] = dict(zip(distinct_names, names_pos.tolist()))
    name_pos[None] = -1
    at += len(names)
    datas = list(map(bytes, map(_USER_DATA, nodes)))
    distinct_data = {d: i for i, d in enumerate(dict.fromkeys(datas))}
    data_bytes, data_pos = byte_vectors(list(distinct_data), at)
    data_of = data_pos[np.fromiter(map(distinct_data.__getitem__, datas), np.int64, count=n)]
    one_kind = len(kinds) == 1
    records = [
        _records(
            kind,
            list(nodes) if one_kind else list(map(nodes.__getitem__, rows.tolist())),
            arrays if one_kind else list(map(arrays.__getitem__, rows.tolist())),
            positions[rows],
            path_pos[rows],
            data_of[rows],
            name_pos,
        )
        for kind, rows in kinds.items()
    ]
    block = b"".join((_VTABLES, *records, paths, names, data_bytes))
    return block + bytes(-len(block) % 8), positions


def _kinds(arrays: list[ArrayNodeData]) -> dict[Kind, np.ndarray]:
    """The rows of ``arrays`` of each kind, in order."""
    keys = zip(
        map(len, map(_SHAPE, arrays)),
        map(is_not, map(_NAMES, arrays), repeat(None)),
        map(_extent_counts, map(_MANIFESTS, arrays)),
    )
    first_of: dict[Kind, int] = {}  # each kind's code: the row where it first appears
    codes = np.fromiter(map(first_of.setdefault, keys, count()), np.int64, count=len(arrays))
    if len(first_of) == 1:
        return {kind: np.arange(len(arrays)) for kind in first_of}
    order = np.argsort(codes, kind="stable")
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    groups = {int(codes[rows[0]]): rows for rows in np.split(order, bounds)}
    return {kind: groups[code] for kind, code in first_of.items()}


_ARRAY = attrgetter("array")
_PATH = attrgetter("path")
_USER_DATA = attrgetter("user_data")
_NODE_ID = attrgetter("node_id")
_SHAPE = attrgetter("shape")
_NAMES = attrgetter("dimension_names")
_MANIFESTS = attrgetter("manifests")
_MANIFEST_ID = attrgetter("manifest_id")
_EXTENTS = attrgetter("extents")


def _extent_counts(manifests: tuple[ManifestRef, ...]) -> tuple[int, ...]:
    return tuple(map(len, map(_EXTENTS, manifests))) if manifests else ()


@functools.lru_cache(maxsize=256)
def _record(ndim: int, named: bool, extents: tuple[int, ...]) -> np.dtype[np.void]:
    """The numpy layout of one node's tables and vectors (itemsize a multiple of 8)."""
    m = len(extents)
    fields: list[tuple[str, object, int]] = [
        ("soffset", "<i4", 0),
        ("id", "V8", 4),
        ("path", "<u4", 12),
        ("user_data", "<u4", 16),
        ("node_data", "<u4", 20),
        ("data_type", "u1", 24),
        ("array_soffset", "<i4", 28),
        ("shape_field", "<u4", 32),
        ("names_field", "<u4", 36),
        ("manifests_field", "<u4", 40),
        ("shape_len", "<u4", 44),
    ]
    if ndim:
        fields.append(("shape", ("<u8", (ndim, 2)), 48))  # 8-aligned: records are
    at = 48 + 16 * ndim
    if named:
        name_table = np.dtype([("soffset", "<i4"), ("name", "<u4")])
        fields += [
            ("names_len", "<u4", at),
            ("names_slots", ("<u4", (ndim,)), at + 4),
            ("names", (name_table, (ndim,)), at + 4 + 4 * ndim),
        ]
        at += 4 + 12 * ndim
    fields.append(("manifests_len", "<u4", at))
    if m:
        ref_table = np.dtype(
            {
                "names": ["soffset", "id", "extents"],
                "formats": ["<i4", "V12", "<u4"],
                "offsets": [0, 4, 16],
                "itemsize": 20,
            }
        )
        fields += [
            ("refs_slots", ("<u4", (m,)), at + 4),
            ("refs", (ref_table, (m,)), at + 4 + 4 * m),
        ]
    at += 4 + 24 * m
    for j, length in enumerate(extents):
        fields.append((f"extents{j}_len", "<u4", at))
        if length:
            fields.append((f"extents{j}", ("<u4", (length, 2)), at + 4))
        at += 4 + 8 * length
    names, formats, offsets = zip(*fields)
    return np.dtype(
        {
            "names": list(names),
            "formats": list(formats),
            "offsets": list(offsets),
            "itemsize": at + -at % 8,
        }
    )


def _records(
    kind: Kind,
    nodes: list[NodeSnapshot],
    arrays: list[ArrayNodeData],
    p: np.ndarray,
    path_pos: np.ndarray,
    data_pos: np.ndarray,
    name_pos: dict[str | None, int],
) -> bytes:
    """The records of ``nodes`` (all of ``kind``, with their ``arrays``) placed at block
    positions ``p``."""
    ndim, named, extents = kind
    n = len(nodes)
    rec = np.zeros(n, dtype=_record(*kind))
    offsets = rec.dtype.fields
    assert offsets is not None
    rec["soffset"] = p - _NODE_VT
    rec["id"] = np.frombuffer(b"".join(map(_NODE_ID, nodes)), dtype="V8")
    rec["path"] = path_pos - (p + 12)
    rec["user_data"] = data_pos - (p + 16)
    rec["node_data"] = 8  # the ArrayNodeData table follows the node table
    rec["data_type"] = NODE_DATA_ARRAY
    rec["array_soffset"] = p + 28 - (_ARRAY_NAMES_VT if named else _ARRAY_VT)
    rec["shape_field"] = 44 - 32
    rec["shape_len"] = ndim
    if ndim:
        numbers = chain.from_iterable(chain.from_iterable(map(_SHAPE, arrays)))
        rec["shape"] = np.fromiter(numbers, np.uint64, count=2 * n * ndim).reshape(n, ndim, 2)
    if named:
        names_at = offsets["names_len"][1]
        rec["names_field"] = names_at - 36
        rec["names_len"] = ndim
        rec["names_slots"] = 4 * ndim + 4 * np.arange(ndim)  # slot k -> table k
        tables = p[:, None] + (names_at + 4 + 4 * ndim) + 8 * np.arange(ndim)
        given = chain.from_iterable(map(_NAMES, arrays))
        at = np.fromiter(map(name_pos.__getitem__, given), np.int64, count=n * ndim)
        absent = (at < 0).reshape(n, ndim)
        at = at.reshape(n, ndim)
        rec["names"]["soffset"] = tables - np.where(absent, _NO_NAME_VT, _NAME_VT)
        rec["names"]["name"] = np.where(absent, 0, at - (tables + 4))
    manifests_at = offsets["manifests_len"][1]
    rec["manifests_field"] = manifests_at - 40
    m = len(extents)
    rec["manifests_len"] = m
    if m:
        rec["refs_slots"] = 4 * m + 16 * np.arange(m)  # slot j -> table j
        refs = p[:, None] + (manifests_at + 4 + 4 * m) + 20 * np.arange(m)
        manifests = list(map(_MANIFESTS, arrays))
        ids = b"".join(map(_MANIFEST_ID, chain.from_iterable(manifests)))
        rec["refs"]["soffset"] = refs - _MREF_VT
        rec["refs"]["id"] = np.frombuffer(ids, dtype="V12").reshape(n, m)
        ext_at = np.array([offsets[f"extents{j}_len"][1] for j in range(m)], dtype=np.int64)
        rec["refs"]["extents"] = (p[:, None] + ext_at) - (refs + 16)
        for j, length in enumerate(extents):
            rec[f"extents{j}_len"] = length
            if length:
                ranges = chain.from_iterable(map(_EXTENTS, map(itemgetter(j), manifests)))
                rec[f"extents{j}"] = _flat(ranges, np.uint32).reshape(n, length, 2)
    return rec.tobytes()


def _flat(pairs: Iterator[tuple[int, int]], dtype: type) -> np.ndarray:
    """The numbers of ``pairs``, flattened into an array."""
    return np.fromiter(chain.from_iterable(pairs), dtype=dtype)

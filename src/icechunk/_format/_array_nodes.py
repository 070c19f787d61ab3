"""The array nodes of a snapshot, laid out as one pre-built flatbuffers block.

Going through :class:`flatbuffers.Builder` costs about 30 calls per array (and each vtable is
searched against every earlier one); here each node's tables and vectors are one ``struct``
pack, with a layout computed once per kind of node (rank, named dimensions, manifest count).

The block starts with six shared vtables. Then, per node, 8-byte aligned: its ``NodeSnapshot``
table, its ``ArrayNodeData`` table, the shape vector, the dimension names (vector and
tables), the manifest refs (vector, tables, extents vectors), then its strings (path, names).
Every distinct ``user_data`` vector follows all nodes, once. Every uoffset points forward.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Sequence

from .snapshot import NodeSnapshot

NODE_DATA_ARRAY = 1

_VTABLES = b"".join(
    (
        # NodeSnapshot: id@4, path@12, user_data@16, data_type@24, node_data@20 (28 B table)
        struct.pack("<7H2x", 14, 28, 4, 12, 16, 24, 20),  # at 0
        struct.pack("<5H2x", 10, 16, 4, 8, 12),  # at 16: ArrayNodeData with dimension names
        struct.pack("<5H2x", 10, 16, 4, 0, 12),  # at 28: ArrayNodeData without
        struct.pack("<4H", 8, 20, 4, 16),  # at 40: ManifestRef, object_id@4, extents@16
        struct.pack("<3H2x", 6, 8, 4),  # at 48: DimensionName with a name
        struct.pack("<3H2x", 6, 8, 0),  # at 56: DimensionName without (8 B table all the same)
    )
)
_NODE_VT, _ARRAY_NAMES_VT, _ARRAY_VT, _MREF_VT, _NAME_VT, _NO_NAME_VT = 0, 16, 28, 40, 48, 56
_USER_DATA_FIELD = 16  # in the node table
_U32 = struct.Struct("<I")


@functools.lru_cache(maxsize=256)
def _layout(ndim: int, named: bool, extents: tuple[int, ...]) -> tuple[struct.Struct, int, int]:
    """The struct of a node's tables and vectors, the position of its dimension-names vector
    and that of its manifests vector (relative to the node)."""
    m = len(extents)
    fmt = f"<i8sIIIB3xiIIII{2 * ndim}Q"  # node table, array table, shape vector
    names_at = 48 + 16 * ndim
    manifests_at = names_at
    if named:
        fmt += f"I{ndim}I" + "iI" * ndim
        manifests_at += 4 + 12 * ndim
    fmt += f"I{m}I" + "i12sI" * m + "".join(f"I{2 * e}I" for e in extents)
    return struct.Struct(fmt), names_at, manifests_at


@functools.lru_cache(maxsize=1024)
def _name(text: str) -> bytes:
    """:func:`_string` of a dimension name (few distinct ones, used by many arrays)."""
    return _string(text)


def _string(text: str) -> bytes:
    """A flatbuffers string (length, UTF-8, NUL), padded to 4 bytes."""
    data = text.encode("utf-8")
    return _U32.pack(len(data)) + data + bytes(4 - len(data) % 4)


def arrays_block(nodes: Sequence[NodeSnapshot]) -> tuple[bytes, list[int]]:
    """The block holding ``nodes`` (arrays), a multiple of 8 bytes long, and the position of
    each node table in it; the block must be placed at an 8-byte aligned position."""
    out = bytearray(_VTABLES)
    out += bytes(-len(out) % 8)
    positions = []
    for node in nodes:
        p = len(out)
        positions.append(p)
        out += _node_bytes(node, p)
        out += bytes(-len(out) % 8)
    user_data_at: dict[bytes, int] = {}
    for p, node in zip(positions, nodes):  # after every node: links must point forward
        data = bytes(node.user_data)
        at = user_data_at.get(data)
        if at is None:
            at = user_data_at[data] = len(out)
            out += _U32.pack(len(data)) + data + bytes(-len(data) % 4)
        _U32.pack_into(out, p + _USER_DATA_FIELD, at - p - _USER_DATA_FIELD)
    out += bytes(-len(out) % 8)
    return bytes(out), positions


def _node_bytes(node: NodeSnapshot, p: int) -> bytes:
    """The tables, vectors and strings of one array node placed at block position ``p``."""
    array = node.array
    assert array is not None
    names = array.dimension_names
    ndim, refs = len(array.shape), array.manifests
    extents = tuple(len(ref.extents) for ref in refs)
    layout, names_at, manifests_at = _layout(ndim, names is not None, extents)
    strings_at = layout.size
    path = _string(node.path)
    values: list[object] = [
        p - _NODE_VT,
        node.node_id,
        strings_at - 12,  # path
        0,  # user_data, linked at the end of the block
        8,  # node_data: the array table follows
        NODE_DATA_ARRAY,
        p + 28 - (_ARRAY_VT if names is None else _ARRAY_NAMES_VT),
        12,  # shape
        0 if names is None else names_at - 36,
        manifests_at - 40,
        ndim,
    ]
    for dim in array.shape:
        values += (dim.array_length, dim.chunk_length)
    strings = [path]
    if names is not None:
        tables_at = names_at + 4 + 4 * ndim
        values.append(ndim)
        values += [4 * ndim + 4 * k for k in range(ndim)]  # vector slot k -> table k
        text_at = strings_at + len(path)
        for k, name in enumerate(names):
            table = tables_at + 8 * k
            if name is None:
                values += (p + table - _NO_NAME_VT, 0)
            else:
                values += (p + table - _NAME_VT, text_at - table - 4)
                strings.append(_name(name))
                text_at += len(strings[-1])
    m = len(refs)
    refs_at = manifests_at + 4 + 4 * m
    extents_at = refs_at + 20 * m
    values.append(m)
    values += [4 * m + 16 * j for j in range(m)]  # vector slot j -> table j
    for j, ref in enumerate(refs):
        table = refs_at + 20 * j
        values += (p + table - _MREF_VT, ref.manifest_id, extents_at - table - 16)
        extents_at += 4 + 8 * extents[j]
    for ref in refs:
        values.append(len(ref.extents))
        for start, stop in ref.extents:
            values += (start, stop)
    return layout.pack(*values) + b"".join(strings)

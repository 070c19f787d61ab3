"""Hypothesis strategies for the format dataclasses."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st

from icechunk._format.manifest import (
    ChunkPayload,
    ChunkRefTable,
    InlineChunk,
    Manifest,
    NativeChunk,
    VirtualChunk,
)
from icechunk._format.snapshot import (
    ArrayNodeData,
    DimensionShape,
    ManifestFileInfo,
    ManifestRef,
    NodeSnapshot,
    Snapshot,
)
from icechunk._format.transaction_log import TransactionLog

id12 = st.binary(min_size=12, max_size=12)
id8 = st.binary(min_size=8, max_size=8)
u32 = st.integers(0, 2**32 - 1)
u64 = st.integers(0, 2**64 - 1)
text = st.text(max_size=20)

json_values: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False)
    | text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(text, children, max_size=4),
    max_leaves=10,
)


@st.composite
def array_data(draw: st.DrawFn) -> ArrayNodeData:
    ndim = draw(st.integers(0, 4))
    shape = tuple(DimensionShape(draw(u64), draw(u64)) for _ in range(ndim))
    names = draw(st.none() | st.tuples(*[st.none() | text for _ in range(ndim)]))
    manifests = draw(
        st.lists(
            st.builds(ManifestRef, id12, st.tuples(*[st.tuples(u32, u32) for _ in range(ndim)])),
            max_size=3,
        )
    )
    return ArrayNodeData(shape, names, tuple(manifests))


@st.composite
def nodes(draw: st.DrawFn) -> tuple[NodeSnapshot, ...]:
    paths = draw(st.lists(st.text(min_size=1, max_size=8), unique=True, max_size=6))
    out = []
    for path in sorted(["/"] + ["/" + p for p in paths]):
        array = draw(st.none() | array_data())
        out.append(NodeSnapshot(draw(id8), path, draw(st.binary(max_size=40)), array))
    return tuple(sorted(out, key=lambda n: n.path))


@st.composite
def snapshots(draw: st.DrawFn) -> Snapshot:
    files = draw(st.lists(st.builds(ManifestFileInfo, id12, u64, u32), max_size=4))
    return Snapshot(
        snapshot_id=draw(id12),
        parent_id=draw(st.none() | id12),
        flushed_at=draw(u64),
        message=draw(st.text(max_size=50)),
        metadata=draw(st.dictionaries(text, json_values, max_size=5)),
        nodes=draw(nodes()),
        manifest_files=tuple(sorted(files, key=lambda f: f.manifest_id)),
    )


def payloads() -> st.SearchStrategy[ChunkPayload]:
    return st.one_of(
        st.builds(InlineChunk, st.binary(max_size=30)),
        st.builds(NativeChunk, id12, u64, u64, st.none() | st.integers(0, 2**32 - 1)),
        st.builds(
            VirtualChunk,
            st.text(min_size=1, max_size=30),
            u64,
            u64,
            st.none() | st.text(max_size=10),
            st.none(),
        ),
        st.builds(
            VirtualChunk,
            st.text(min_size=1, max_size=30),
            u64,
            u64,
            st.none(),
            u32.map(lambda x: x or 1),
        ),
    )


@st.composite
def ref_tables(draw: st.DrawFn, ndim: int | None = None) -> ChunkRefTable:
    if ndim is None:
        ndim = draw(st.integers(0, 3))
    coords = st.tuples(*[st.integers(0, 2**32 - 1) for _ in range(ndim)])
    items = draw(st.dictionaries(coords, payloads(), max_size=1 if ndim == 0 else 12))
    return ChunkRefTable.from_payloads(ndim, items.items())


@st.composite
def manifests(draw: st.DrawFn) -> Manifest:
    arrays = draw(st.dictionaries(id8, ref_tables(), max_size=4))
    return Manifest(draw(id12), arrays)


@st.composite
def transaction_logs(draw: st.DrawFn) -> TransactionLog:
    ids = st.frozensets(id8, max_size=5)
    coords = st.lists(u32, min_size=0, max_size=4).map(tuple)
    return TransactionLog(
        snapshot_id=draw(id12),
        new_groups=draw(ids),
        new_arrays=draw(ids),
        deleted_groups=draw(ids),
        deleted_arrays=draw(ids),
        updated_arrays=draw(ids),
        updated_groups=draw(ids),
        updated_chunks=draw(st.dictionaries(id8, st.frozensets(coords, max_size=6), max_size=4)),
    )


def tables_equal(a: ChunkRefTable, b: ChunkRefTable) -> bool:
    """Row-by-row equality of two reference tables.

    An array without refs has no dimensionality on disk, so empty tables are all equal.
    """
    if len(a) == len(b) == 0:
        return True
    return a.ndim == b.ndim and list(a.items()) == list(b.items())


def manifests_equal(a: Manifest, b: Manifest) -> bool:
    return (
        a.manifest_id == b.manifest_id
        and a.arrays.keys() == b.arrays.keys()
        and all(tables_equal(t, b.arrays[k]) for k, t in a.arrays.items())
    )


def np_bytes(x: np.ndarray) -> bytes:
    return np.ascontiguousarray(x).tobytes()

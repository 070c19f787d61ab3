from __future__ import annotations

import os
import sys
from functools import partial

import numpy as np
import pytest
from format_strategies import manifests, manifests_equal, tables_equal
from hypothesis import given, settings
from hypothesis import strategies as st

from icechunk._exceptions import FormatError
from icechunk._format._codec_manifest import encode_manifest
from icechunk._format._codec_snapshot import decode_snapshot
from icechunk._format._manifest_decode import decode_manifest
from icechunk._format.header import FileType, decode_file
from icechunk._format.ids import decode_id, encode_id
from icechunk._format.manifest import (
    ChunkRefTable,
    InlineChunk,
    Manifest,
    NativeChunk,
    RefKind,
    VirtualChunk,
)

MIXED = ChunkRefTable.from_payloads(
    2,
    [
        ((0, 0), InlineChunk(b"\x00\x01inline\x00")),
        ((0, 1), NativeChunk(b"c" * 12, 0, 400, checksum=0xDEADBEEF)),
        ((1, 0), NativeChunk(b"d" * 12, 2**40, 2**33)),
        ((1, 1), VirtualChunk("s3://bucket/ü.nc", 5, 10, etag='"abc"')),
        ((2, 0), VirtualChunk("file:///x", 0, 1, last_modified=1_704_164_645)),
        ((2, 1), VirtualChunk("gs://b/k", 7, 8)),
        ((3, 0), InlineChunk(b"")),
    ],
)


def roundtrip(m: Manifest) -> Manifest:
    return decode_manifest(encode_manifest(m))


def test_roundtrip_mixed() -> None:
    m = Manifest(b"M" * 12, {b"n" * 8: MIXED})
    out = roundtrip(m)
    assert manifests_equal(m, out)
    table = out.arrays[b"n" * 8]
    assert table.kind.tolist() == [0, 1, 1, 2, 2, 2, 0]
    assert table.lookup((1, 1)) == VirtualChunk("s3://bucket/ü.nc", 5, 10, '"abc"', None)
    assert table.lookup((3, 0)) == InlineChunk(b"")


def test_roundtrip_shapes() -> None:
    scalar = ChunkRefTable.from_payloads(0, [((), InlineChunk(b"42"))])
    empty = ChunkRefTable.empty(3)
    m = Manifest(b"M" * 12, {b"b" * 8: scalar, b"a" * 8: empty, b"c" * 8: MIXED})
    out = roundtrip(m)
    assert list(out.arrays) == [b"a" * 8, b"b" * 8, b"c" * 8]
    assert manifests_equal(m, out)
    assert len(out.arrays[b"a" * 8]) == 0  # decoded with ndim 0: no refs, no dimensionality
    assert manifests_equal(roundtrip(Manifest(b"E" * 12, {})), Manifest(b"E" * 12, {}))


def test_columns_dtypes() -> None:
    table = roundtrip(Manifest(b"M" * 12, {b"n" * 8: MIXED})).arrays[b"n" * 8]
    assert table.coords.dtype == np.uint32 and table.coords.shape == (7, 2)
    assert table.kind.dtype == np.uint8
    assert table.chunk_id.dtype == np.uint8 and table.chunk_id.shape == (7, 12)
    assert table.offset.dtype == np.uint64 and table.length.dtype == np.uint64
    assert table.last_modified.dtype == np.uint32
    assert type(table.inline[0]) is bytes and table.inline[0] == b"\x00\x01inline\x00"
    assert table.length[0] == len(table.inline[0])


@settings(max_examples=200, deadline=None)
@given(manifests())
def test_roundtrip_property(m: Manifest) -> None:
    assert manifests_equal(roundtrip(m), m)


@pytest.mark.parametrize("block", [1, 2, 3, 6])
def test_refs_decoded_in_blocks_give_the_same_table(
    block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Big ref vectors are decoded block by block (bounded temporaries), then joined."""
    from icechunk._format import _manifest_decode

    monkeypatch.setattr(_manifest_decode, "_DECODE_BLOCK", block)
    m = Manifest(b"M" * 12, {b"n" * 8: MIXED})
    out = roundtrip(m)
    assert manifests_equal(m, out)
    table = out.arrays[b"n" * 8]
    for coords, payload in MIXED.items():
        assert table.lookup(coords) == payload


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_corrupt_buffers_raise_format_error(data: st.DataObject) -> None:
    buf = bytearray(encode_manifest(Manifest(b"M" * 12, {b"n" * 8: MIXED})))
    for _ in range(data.draw(st.integers(1, 8))):
        buf[data.draw(st.integers(0, len(buf) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(buf)))
    try:
        decode_manifest(bytes(buf[:cut]))
    except FormatError:
        pass


@pytest.mark.parametrize("buf", [b"", b"\x01\x02", b"\xff" * 64, bytes(range(256)) * 3])
def test_garbage(buf: bytes) -> None:
    with pytest.raises(FormatError):
        decode_manifest(buf)


def test_ref_without_target_is_rejected() -> None:
    buf = bytearray(
        encode_manifest(Manifest(b"M" * 12, {b"n" * 8: MIXED.filtered(MIXED.kind == 1)}))
    )
    # Zero the chunk_id slot of the native vtable: the ref then has no target at all.
    native_vt = bytes(np.array([14, 36, 4, 0, 8, 16, 24], dtype="<u2").tobytes())
    pos = bytes(buf).index(native_vt)
    buf[pos + 12 : pos + 14] = b"\x00\x00"
    with pytest.raises(FormatError, match="none of inline data, chunk id or location"):
        decode_manifest(bytes(buf))


# --- performance -----------------------------------------------------------------------------


def _native_table(n: int) -> ChunkRefTable:
    coords = np.stack(np.unravel_index(np.arange(n), (n // 100 + 1, 100)), axis=1)
    return ChunkRefTable(
        coords=coords.astype(np.uint32),
        kind=np.full(n, RefKind.NATIVE, np.uint8),
        chunk_id=np.random.default_rng(0).integers(0, 256, (n, 12), dtype=np.uint8),
        length=np.full(n, 1000, np.uint64),
    )


def _python_calls(fn) -> int:  # type: ignore[no-untyped-def]
    """How many Python-level function calls ``fn()`` makes (C calls are not counted)."""
    calls = 0

    def count(frame, event, arg):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += event == "call"

    sys.setprofile(count)
    try:
        fn()
    finally:
        sys.setprofile(None)
    return calls


@pytest.mark.parametrize("kind", ["inline", "native"])
def test_codec_is_vectorized(kind: str) -> None:
    """Encoding and decoding make no Python call per ref: 100 times the refs, about the same
    number of calls (a few more for the decode's blocks of refs)."""

    def table(n: int) -> ChunkRefTable:
        if kind == "inline":
            return ChunkRefTable.from_payloads(
                2, (((i // 300, i % 300), InlineChunk(os.urandom(80))) for i in range(n))
            )
        return _native_table(n)

    calls = {}
    for n in (1_000, 100_000):
        m = Manifest(b"M" * 12, {b"n" * 8: table(n)})
        buf = encode_manifest(m)
        assert tables_equal(decode_manifest(buf).arrays[b"n" * 8], m.arrays[b"n" * 8])
        calls[n] = (
            _python_calls(partial(encode_manifest, m)),
            _python_calls(partial(decode_manifest, buf)),
        )
    (encode_small, decode_small), (encode_big, decode_big) = calls[1_000], calls[100_000]
    assert encode_big <= encode_small + 20, calls
    assert decode_big <= 2 * decode_small + 20, calls


# --- real upstream files ---------------------------------------------------------------------


def _read(path) -> Manifest:  # type: ignore[no-untyped-def]
    return decode_manifest(decode_file(path.read_bytes(), FileType.MANIFEST, what=path.name))


def _array_node_ids(upstream_repo) -> dict[str, bytes]:  # type: ignore[no-untyped-def]
    snap_path = upstream_repo.path / "snapshots" / upstream_repo.summary["first"]
    snap = decode_snapshot(decode_file(snap_path.read_bytes(), FileType.SNAPSHOT, what="s"))
    return {n.path: n.node_id for n in snap.nodes}


def test_upstream_manifests(upstream_repo) -> None:  # type: ignore[no-untyped-def]
    chunks = {p.name for p in upstream_repo.files("chunks")}
    seen_kinds = set()
    for path in upstream_repo.files("manifests"):
        m = _read(path)
        assert encode_id(m.manifest_id) == path.name
        assert list(m.arrays) == sorted(m.arrays)
        for table in m.arrays.values():
            assert len(table) > 0
            assert [tuple(c) for c in table.coords.tolist()] == sorted(table.iter_coords())
            for payload in map(table.payload, range(len(table))):
                seen_kinds.add(type(payload))
                if isinstance(payload, NativeChunk):
                    assert encode_id(payload.chunk_id) in chunks
                    size = (
                        (upstream_repo.path / "chunks" / encode_id(payload.chunk_id)).stat().st_size
                    )
                    assert payload.offset + payload.length <= size
    assert seen_kinds == {InlineChunk, NativeChunk, VirtualChunk}


def test_upstream_chunk_contents(upstream_repo) -> None:  # type: ignore[no-untyped-def]
    ids = _array_node_ids(upstream_repo)
    tables: dict[str, list[ChunkRefTable]] = {}
    for path in upstream_repo.files("manifests"):
        for node_id, table in _read(path).arrays.items():
            path_of = {v: k for k, v in ids.items()}[node_id]
            tables.setdefault(path_of, []).append(table)
    small = [t.lookup((1, 1)) for t in tables["/group1/small"]]
    assert InlineChunk(bytes([10, 11, 14, 15])) in small
    assert {t.lookup((0, 0)) for t in tables["/group1/small"]} == {
        InlineChunk(bytes([0, 1, 4, 5])),
        InlineChunk(bytes([9, 9, 9, 9])),
    }
    assert len(tables["/scalar"]) == 1 and tables["/scalar"][0].ndim == 0
    big = tables["/big"][0].lookup((1,))
    assert isinstance(big, NativeChunk) and big.length == 400
    raw = (upstream_repo.path / "chunks" / encode_id(big.chunk_id)).read_bytes()
    assert np.frombuffer(raw, "<f8").tolist() == list(np.arange(50, 100, dtype="f8"))
    [virtual] = tables["/virtual"]
    location = upstream_repo.summary["virtual_prefix"] + "data.bin"
    lm = upstream_repo.summary["last_modified"]
    assert list(virtual.items()) == [
        ((0,), VirtualChunk(location, 5, 10, "etag-123", None)),
        ((1,), VirtualChunk(location, 15, 10, None, lm)),
        ((2,), VirtualChunk(location, 25, 10, None, None)),
    ]


def test_upstream_reencode(upstream_repo) -> None:  # type: ignore[no-untyped-def]
    for path in upstream_repo.files("manifests"):
        m = _read(path)
        assert manifests_equal(roundtrip(m), m)
        assert decode_id(path.name) == m.manifest_id

from __future__ import annotations

import json

import flatbuffers
import pytest
from format_strategies import snapshots
from hypothesis import given, settings
from hypothesis import strategies as st

from icechunk._exceptions import FormatError
from icechunk._format._codec_snapshot import decode_snapshot, encode_snapshot
from icechunk._format._manifest_decode import decode_manifest
from icechunk._format.header import FileType, decode_file, encode_file
from icechunk._format.ids import INITIAL_SNAPSHOT_ID, decode_id, encode_id
from icechunk._format.snapshot import (
    ArrayNodeData,
    DimensionShape,
    ManifestFileInfo,
    ManifestRef,
    NodeSnapshot,
    Snapshot,
)

GROUP = NodeSnapshot(b"g" * 8, "/", b'{"zarr_format":3,"node_type":"group"}')
ARRAY = NodeSnapshot(
    b"a" * 8,
    "/a/b",
    b'{"zarr_format":3,"node_type":"array"}',
    ArrayNodeData(
        shape=(DimensionShape(100, 10), DimensionShape(5, 5)),
        dimension_names=("x", None),
        manifests=(ManifestRef(b"m" * 12, ((0, 10), (0, 1))),),
    ),
)
NO_DIMS = NodeSnapshot(b"n" * 8, "/a", b"{}", ArrayNodeData((DimensionShape(1, 1),), None, ()))
SNAPSHOT = Snapshot(
    snapshot_id=b"s" * 12,
    parent_id=INITIAL_SNAPSHOT_ID,
    flushed_at=1_700_000_000_123_456,
    message="a commit ✓",
    metadata={"author": "me", "nested": {"a": [1, 2.5, None, True]}, "n": -3},
    nodes=(GROUP, NO_DIMS, ARRAY),
    manifest_files=(ManifestFileInfo(b"m" * 12, 1234, 10),),
)


def test_roundtrip() -> None:
    assert decode_snapshot(encode_snapshot(SNAPSHOT)) == SNAPSHOT


def test_initial_snapshot_roundtrip() -> None:
    initial = Snapshot(INITIAL_SNAPSHOT_ID, None, 0, "Repository initialized", {"__root": True}, ())
    assert decode_snapshot(encode_snapshot(initial)) == initial


def test_encoding_sorts() -> None:
    shuffled = Snapshot(
        SNAPSHOT.snapshot_id,
        None,
        0,
        "",
        {"b": 1, "a": 2},
        (ARRAY, GROUP, NO_DIMS),
        (ManifestFileInfo(b"z" * 12, 1, 1), ManifestFileInfo(b"a" * 12, 2, 2)),
    )
    decoded = decode_snapshot(encode_snapshot(shuffled))
    assert [n.path for n in decoded.nodes] == ["/", "/a", "/a/b"]
    assert list(decoded.metadata) == ["a", "b"]
    assert [f.manifest_id for f in decoded.manifest_files] == [b"a" * 12, b"z" * 12]


def test_dimension_names_absent_vs_all_null() -> None:
    all_null = NodeSnapshot(
        b"x" * 8, "/x", b"", ArrayNodeData((DimensionShape(1, 1),), (None,), ())
    )
    snap = Snapshot(b"s" * 12, None, 0, "", {}, (all_null, NO_DIMS))
    decoded = decode_snapshot(encode_snapshot(snap))
    assert decoded.nodes[0].array is not None and decoded.nodes[0].array.dimension_names is None
    assert decoded.nodes[1].array is not None and decoded.nodes[1].array.dimension_names == (None,)


@settings(max_examples=200, deadline=None)
@given(snapshots())
def test_roundtrip_property(snapshot: Snapshot) -> None:
    assert decode_snapshot(encode_snapshot(snapshot)) == snapshot


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_corrupt_buffers_raise_format_error(data: st.DataObject) -> None:
    buf = bytearray(encode_snapshot(SNAPSHOT))
    for _ in range(data.draw(st.integers(1, 8))):
        buf[data.draw(st.integers(0, len(buf) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(buf)))
    try:
        decode_snapshot(bytes(buf[:cut]))
    except FormatError:
        pass


@pytest.mark.parametrize("buf", [b"", b"\x00", b"\xff" * 3, b"\xff" * 64, bytes(range(256))])
def test_garbage(buf: bytes) -> None:
    with pytest.raises(FormatError):
        decode_snapshot(buf)


def _snapshot_without(missing: int) -> bytes:
    """A Snapshot table with every required field but slot ``missing``."""
    b = flatbuffers.Builder(256)
    message = b.CreateString("m")
    b.StartVector(4, 0, 4)
    empty = b.EndVector()
    b.StartObject(7)
    if missing != 6:
        b.PrependUOffsetTRelativeSlot(6, empty, 0)
    if missing != 5:
        b.PrependUOffsetTRelativeSlot(5, empty, 0)
    if missing != 4:
        b.PrependUOffsetTRelativeSlot(4, message, 0)
    if missing != 2:
        b.PrependUOffsetTRelativeSlot(2, empty, 0)
    if missing != 0:
        b.Prep(1, 12)
        for byte in reversed(b"s" * 12):
            b.PrependUint8(byte)
        b.PrependStructSlot(0, b.Offset(), 0)
    b.Finish(b.EndObject())
    return bytes(b.Output())


def test_minimal_table_decodes() -> None:
    snap = decode_snapshot(_snapshot_without(-1))
    assert snap == Snapshot(b"s" * 12, None, 0, "m", {}, ())


@pytest.mark.parametrize("slot, name", [(0, "id"), (2, "nodes"), (4, "message"), (5, "metadata")])
def test_missing_required_field(slot: int, name: str) -> None:
    with pytest.raises(FormatError, match=f"Snapshot.{name}"):
        decode_snapshot(_snapshot_without(slot))


# --- real upstream files ---------------------------------------------------------------------


def _read(path) -> Snapshot:  # type: ignore[no-untyped-def]
    return decode_snapshot(decode_file(path.read_bytes(), FileType.SNAPSHOT, what=path.name))


def test_upstream_snapshots(upstream_repo) -> None:  # type: ignore[no-untyped-def]
    summary = upstream_repo.summary
    snaps = {p.name: _read(p) for p in upstream_repo.files("snapshots")}
    assert set(snaps) == set(summary["ancestry"])
    for name, snap in snaps.items():
        assert encode_id(snap.snapshot_id) == name
        assert [n.path for n in snap.nodes] == sorted(n.path for n in snap.nodes)
    chain = summary["ancestry"]
    for child, parent, message in zip(chain, chain[1:] + [None], summary["messages"]):
        assert snaps[child].message == message
        assert snaps[child].parent_id == (None if parent is None else decode_id(parent))
    assert snaps[summary["second"]].flushed_at > snaps[summary["first"]].flushed_at > 1.6e15


def test_upstream_initial_snapshot(upstream_repo) -> None:  # type: ignore[no-untyped-def]
    snap = _read(upstream_repo.path / "snapshots" / "1CECHNKREP0F1RSTCMT0")
    assert snap.snapshot_id == INITIAL_SNAPSHOT_ID
    assert snap.parent_id is None
    assert snap.message == "Repository initialized"
    assert snap.metadata == {"__root": True}
    assert snap.nodes == () and snap.manifest_files == ()


def test_upstream_first_commit(upstream_repo) -> None:  # type: ignore[no-untyped-def]
    snap = _read(upstream_repo.path / "snapshots" / upstream_repo.summary["first"])
    assert snap.metadata == {"author": "test", "n": 1, "f": 1.5, "l": [1, "x"], "d": {"k": None}}
    nodes = {n.path: n for n in snap.nodes}
    assert list(nodes) == [
        "/",
        "/big",
        "/group1",
        "/group1/small",
        "/partial",
        "/scalar",
        "/to_delete",
        "/virtual",
    ]
    for node in snap.nodes:
        meta = json.loads(node.user_data)
        assert meta["zarr_format"] == 3
        assert meta["node_type"] == ("array" if node.is_array else "group")
    assert json.loads(nodes["/"].user_data)["attributes"]["nested"] == {"a": [1, 2.5, None]}
    small = nodes["/group1/small"].array
    assert small is not None
    assert small.shape == (DimensionShape(4, 2), DimensionShape(4, 2))
    assert small.dimension_names == ("y", "x")
    assert nodes["/partial"].array.dimension_names == ("t", None)  # type: ignore[union-attr]
    assert nodes["/big"].array.dimension_names is None  # type: ignore[union-attr]
    assert nodes["/big"].array.shape == (DimensionShape(100, 50),)  # type: ignore[union-attr]
    assert nodes["/scalar"].array.shape == ()  # type: ignore[union-attr]
    partial = nodes["/partial"].array
    assert partial is not None and partial.manifests[0].extents == ((0, 1), (0, 1))


def test_upstream_manifest_files(upstream_repo) -> None:  # type: ignore[no-untyped-def]
    for path in upstream_repo.files("snapshots"):
        snap = _read(path)
        listed = {f.manifest_id: f for f in snap.manifest_files}
        assert list(listed) == sorted(listed)
        for node in snap.nodes:
            for ref in node.array.manifests if node.array else ():
                assert ref.manifest_id in listed
                assert len(ref.extents) == len(node.array.shape)
        for info in snap.manifest_files:
            mpath = upstream_repo.path / "manifests" / encode_id(info.manifest_id)
            data = mpath.read_bytes()
            assert info.size_bytes == len(data)
            manifest = decode_manifest(decode_file(data, FileType.MANIFEST, what=mpath.name))
            assert info.num_chunk_refs == manifest.num_chunk_refs


def test_upstream_reencode(upstream_repo) -> None:  # type: ignore[no-untyped-def]
    for path in upstream_repo.files("snapshots"):
        snap = _read(path)
        assert decode_snapshot(encode_snapshot(snap)) == snap
        again = encode_file(FileType.SNAPSHOT, encode_snapshot(snap))
        assert decode_snapshot(decode_file(again, FileType.SNAPSHOT, what="x")) == snap


def test_upstream_snapshots_pass_the_plausibility_checks(upstream_repo) -> None:  # type: ignore
    """Upstream writes no checksum; its snapshots are cross-checked instead (no false alarms)."""
    from icechunk._format.header import file_has_checksum
    from icechunk._format.snapshot import check_snapshot

    for path in upstream_repo.files("snapshots"):
        assert not file_has_checksum(path.read_bytes())
        check_snapshot(_read(path))


@pytest.mark.parametrize(
    ("replace", "match"),
    [
        (b'"zstd"', "codecs"),  # one letter off a built-in codec: damaged, not custom
        (b'"little"', "codecs"),
        (b'"int8"', "data_type"),
        (b'"separator"', "chunk key encoding"),
        (b'"node_type"', "node_type"),
    ],
)
def test_damaged_zarr_json_is_a_format_error(  # type: ignore[no-untyped-def]
    upstream_repo, replace: bytes, match: str
) -> None:
    from dataclasses import replace as dc_replace

    from icechunk._format.snapshot import check_node_metadata

    snap = _read(upstream_repo.path / "snapshots" / upstream_repo.summary["second"])
    damaged = replace[:2] + bytes([replace[2] ^ 0x01]) + replace[3:]
    nodes = tuple(
        dc_replace(n, user_data=n.user_data.replace(replace, damaged, 1)) for n in snap.nodes
    )
    assert any(replace in n.user_data for n in snap.nodes), replace
    with pytest.raises(FormatError, match=match):
        check_node_metadata(nodes)
    check_node_metadata(snap.nodes)


def test_many_kinds_of_arrays_in_one_snapshot_roundtrip() -> None:
    """Array nodes are laid out in one block, a layout per rank, naming and manifest count."""
    names_of = [None, ("x",), (None, "ÿ"), ("t", "lat", "lon")]
    nodes = []
    for i in range(48):
        ndim = i % 4
        names = names_of[ndim] if i % 3 else None
        refs = tuple(
            ManifestRef(bytes([i, j]) * 6, tuple((j, j + k + 1) for k in range(ndim)))
            for j in range(i % 3)
        )
        shape = tuple(DimensionShape(10**12 + k, k + 1) for k in range(ndim))
        user_data = b'{"shared":true}' if i % 2 else json.dumps({"i": i}).encode()
        path = f"/g{i % 5}/ärray {i}"
        nodes.append(NodeSnapshot(bytes([i]) * 8, path, user_data, ArrayNodeData(shape, names, refs)))
    snapshot = Snapshot(b"s" * 12, None, 1, "arrays", {}, (GROUP, *nodes))
    decoded = decode_snapshot(encode_snapshot(snapshot))
    assert {n.path: n for n in decoded.nodes} == {n.path: n for n in snapshot.nodes}

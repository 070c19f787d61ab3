"""Manifests opened lazily: single lookups by binary search in the flatbuffer, tables decoded
when first used (``_format/_manifest_decode.py``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import zarr
from format_strategies import manifests, manifests_equal, tables_equal
from hypothesis import given, settings
from hypothesis import strategies as st
from test_manifest import MIXED

import icechunk
from icechunk._exceptions import FormatError
from icechunk._format import _manifest_decode
from icechunk._format._codec_manifest import encode_manifest
from icechunk._format._manifest_decode import decode_manifest, open_manifest
from icechunk._format.manifest import ChunkRefTable, InlineChunk, LazyTables, Manifest

NODE = b"n" * 8


def _count_decodes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A list that gets one entry per table decoded from now on."""
    decoded: list[int] = []
    real = _manifest_decode._decode_refs

    def counting(g: object, vec: int) -> ChunkRefTable:
        decoded.append(vec)
        return real(g, vec)  # type: ignore[arg-type]

    monkeypatch.setattr(_manifest_decode, "_decode_refs", counting)
    return decoded


def test_lookups_of_every_kind_without_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_manifest_decode, "_MIN_SEARCHES", 100)
    decoded = _count_decodes(monkeypatch)
    m = open_manifest(encode_manifest(Manifest(b"M" * 12, {NODE: MIXED})))
    assert isinstance(m.arrays, LazyTables)
    assert m.num_chunk_refs == len(MIXED)
    for coords, payload in MIXED.items():
        assert m.lookup(NODE, coords) == payload
    for missing in [(0, 2), (4, 0), (2**32 - 1, 0), (0,), (0, 0, 0), ()]:
        assert m.lookup(NODE, missing) is None
    assert m.lookup(b"x" * 8, (0, 0)) is None
    assert decoded == []  # every answer came from the flatbuffer
    assert type(m.lookup(NODE, (0, 0))) is InlineChunk


@settings(max_examples=80, deadline=None)
@given(manifests(), st.data())
def test_lazy_lookups_agree_with_the_decoded_tables(m: Manifest, data: st.DataObject) -> None:
    buf = encode_manifest(m)
    lazy, eager = open_manifest(buf), decode_manifest(buf)
    assert lazy.num_chunk_refs == eager.num_chunk_refs
    for node_id, table in eager.arrays.items():
        for coords, payload in table.items():
            assert lazy.lookup(node_id, coords) == payload
        probe = tuple(data.draw(st.lists(st.integers(0, 2**32 - 1), max_size=4)))
        assert lazy.lookup(node_id, probe) == table.lookup(probe)
    assert manifests_equal(lazy, m)  # reading the tables decodes them


def test_tables_decoded_once_when_looked_up_often(monkeypatch: pytest.MonkeyPatch) -> None:
    """After a few lookups an array's whole table is decoded, once, and the buffer dropped."""
    coords = [(i, j) for i in range(64) for j in range(32)]
    table = ChunkRefTable.from_payloads(2, [(c, InlineChunk(bytes(c))) for c in coords])
    decoded = _count_decodes(monkeypatch)
    m = open_manifest(encode_manifest(Manifest(b"M" * 12, {NODE: table, b"o" * 8: MIXED})))
    budget = _manifest_decode._MIN_SEARCHES + len(table) // _manifest_decode._REFS_PER_SEARCH
    for c in coords[:budget]:
        assert m.lookup(NODE, c) == InlineChunk(bytes(c))
    assert decoded == []
    for c in coords:
        assert m.lookup(NODE, c) == InlineChunk(bytes(c))
    assert len(decoded) == 1
    assert m.arrays._data is not None  # type: ignore[attr-defined]  # the other array needs it
    assert tables_equal(m.arrays[b"o" * 8], MIXED)
    assert len(decoded) == 2
    assert m.arrays._data is None  # type: ignore[attr-defined]  # every table is decoded
    assert m.lookup(b"o" * 8, (2, 1)) == MIXED.lookup((2, 1))


def test_damage_found_by_a_lookup_names_the_manifest() -> None:
    buf = bytearray(encode_manifest(Manifest(b"M" * 12, {NODE: MIXED})))
    native_vt = bytes(np.array([14, 36, 4, 0, 8, 16, 24], dtype="<u2").tobytes())
    pos = bytes(buf).index(native_vt)
    buf[pos + 12 : pos + 14] = b"\x00\x00"  # native refs lose their chunk id: no target
    m = open_manifest(bytes(buf), "manifest XYZ")
    assert m.lookup(NODE, (0, 0)) == InlineChunk(b"\x00\x01inline\x00")
    with pytest.raises(FormatError, match="manifest XYZ is corrupt.*none of inline"):
        m.lookup(NODE, (1, 0))
    with pytest.raises(FormatError, match="manifest XYZ is corrupt.*none of inline"):
        m.arrays[NODE]


@pytest.mark.parametrize("buf", [b"", b"\x01\x02", b"\xff" * 64, bytes(range(256)) * 3])
def test_garbage_fails_when_opened(buf: bytes) -> None:
    with pytest.raises(FormatError):
        open_manifest(buf)


# --- through the engine ----------------------------------------------------------------------


def test_cold_read_of_one_chunk_decodes_no_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = icechunk.local_filesystem_storage(str(tmp_path / "repo"))
    repo = icechunk.Repository.create(storage)
    session = repo.writable_session("main")
    values = np.arange(1000, dtype="int32")
    zarr.create_array(session.store, name="x", shape=(1000,), chunks=(1,), dtype="int32")[:] = (
        values
    )
    session.commit("many small chunks")

    decoded = _count_decodes(monkeypatch)
    cold = icechunk.Repository.open(storage).readonly_session("main")
    array = zarr.open_array(cold.store, path="x", mode="r")
    assert array[123] == 123 and array[999] == 999
    assert decoded == []
    np.testing.assert_array_equal(array[:], values)  # many lookups: the table is decoded once
    assert len(decoded) == 1

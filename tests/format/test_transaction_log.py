from __future__ import annotations

import pytest
from format_strategies import transaction_logs
from hypothesis import given, settings
from hypothesis import strategies as st

from icechunk._exceptions import FormatError
from icechunk._format._codec_snapshot import decode_snapshot
from icechunk._format._codec_transaction_log import decode_transaction_log, encode_transaction_log
from icechunk._format.header import FileType, decode_file
from icechunk._format.ids import encode_id
from icechunk._format.snapshot import Snapshot
from icechunk._format.transaction_log import TransactionLog

LOG = TransactionLog(
    snapshot_id=b"s" * 12,
    new_groups=frozenset({b"b" * 8, b"a" * 8}),
    new_arrays=frozenset({b"c" * 8}),
    deleted_groups=frozenset({b"d" * 8}),
    deleted_arrays=frozenset({b"e" * 8}),
    updated_arrays=frozenset({b"f" * 8}),
    updated_groups=frozenset({b"g" * 8}),
    updated_chunks={b"c" * 8: frozenset({(1, 0), (0, 5), (0, 1)}), b"a" * 8: frozenset({()})},
)


def test_roundtrip() -> None:
    assert decode_transaction_log(encode_transaction_log(LOG)) == LOG


def test_empty() -> None:
    log = TransactionLog(b"s" * 12)
    assert decode_transaction_log(encode_transaction_log(log)) == log


def test_sorted_on_disk() -> None:
    buf = encode_transaction_log(LOG)
    assert buf.index(b"a" * 8) < buf.index(b"b" * 8)


@settings(max_examples=200, deadline=None)
@given(transaction_logs())
def test_roundtrip_property(log: TransactionLog) -> None:
    assert decode_transaction_log(encode_transaction_log(log)) == log


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_corrupt_buffers_raise_format_error(data: st.DataObject) -> None:
    buf = bytearray(encode_transaction_log(LOG))
    for _ in range(data.draw(st.integers(1, 8))):
        buf[data.draw(st.integers(0, len(buf) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(buf)))
    try:
        decode_transaction_log(bytes(buf[:cut]))
    except FormatError:
        pass


@pytest.mark.parametrize("buf", [b"", b"\x00" * 3, b"\xff" * 64])
def test_garbage(buf: bytes) -> None:
    with pytest.raises(FormatError):
        decode_transaction_log(buf)


def _snapshot(upstream_repo, snapshot_id: str) -> Snapshot:  # type: ignore[no-untyped-def]
    path = upstream_repo.path / "snapshots" / snapshot_id
    return decode_snapshot(decode_file(path.read_bytes(), FileType.SNAPSHOT, what=snapshot_id))


def _log(upstream_repo, snapshot_id: str) -> TransactionLog:  # type: ignore[no-untyped-def]
    path = upstream_repo.path / "transactions" / snapshot_id
    return decode_transaction_log(
        decode_file(path.read_bytes(), FileType.TRANSACTION_LOG, what=snapshot_id)
    )


def test_upstream_logs(upstream_repo) -> None:  # type: ignore[no-untyped-def]
    first_id, second_id = upstream_repo.summary["first"], upstream_repo.summary["second"]
    assert {p.name for p in upstream_repo.files("transactions")} == {first_id, second_id}
    ids = {n.path: n.node_id for n in _snapshot(upstream_repo, first_id).nodes}

    first = _log(upstream_repo, first_id)
    assert encode_id(first.snapshot_id) == first_id
    assert first.new_groups == {ids["/"], ids["/group1"], ids["/to_delete"]}
    assert first.new_arrays == {
        ids[p] for p in ["/big", "/group1/small", "/partial", "/scalar", "/virtual"]
    }
    assert not (first.deleted_groups | first.deleted_arrays | first.updated_arrays)
    assert first.updated_chunks[ids["/group1/small"]] == {(0, 0), (0, 1), (1, 0), (1, 1)}
    assert first.updated_chunks[ids["/partial"]] == {(0, 0)}
    assert first.updated_chunks[ids["/scalar"]] == {()}
    assert first.updated_chunks[ids["/virtual"]] == {(0,), (1,), (2,)}

    second = _log(upstream_repo, second_id)
    assert second.deleted_groups == {ids["/to_delete"]}
    assert second.updated_groups == {ids["/"]}
    assert second.updated_chunks == {ids["/big"]: {(0,)}, ids["/group1/small"]: {(0, 0)}}
    for log in (first, second):
        assert decode_transaction_log(encode_transaction_log(log)) == log


def test_many_updated_chunks_are_vectorized(monkeypatch: pytest.MonkeyPatch) -> None:
    """Updated chunks go through numpy, not one flatbuffers table per chunk (counted, not
    timed: no timing asserts)."""
    import flatbuffers

    from icechunk._format import _fb

    calls = {"start_object": 0, "table": 0}
    start_object = flatbuffers.Builder.StartObject
    table_init = _fb.Table.__init__

    def counting_start(self, *args):  # type: ignore[no-untyped-def]
        calls["start_object"] += 1
        return start_object(self, *args)

    def counting_table(self, *args):  # type: ignore[no-untyped-def]
        calls["table"] += 1
        return table_init(self, *args)

    monkeypatch.setattr(flatbuffers.Builder, "StartObject", counting_start)
    monkeypatch.setattr(_fb.Table, "__init__", counting_table)
    coords = frozenset((i // 300, i % 300) for i in range(100_000))
    log = TransactionLog(b"s" * 12, updated_chunks={b"a" * 8: coords, b"b" * 8: frozenset({(1,)})})
    assert decode_transaction_log(encode_transaction_log(log)) == log
    assert calls["start_object"] < 100 and calls["table"] < 100, calls

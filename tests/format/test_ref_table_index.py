"""Coordinate lookups and updates of ``ChunkRefTable`` (packed keys, binary search)."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from icechunk._format.manifest import ChunkRefTable, InlineChunk, NativeChunk, VirtualChunk


def _payload(i: int) -> InlineChunk | NativeChunk | VirtualChunk:
    if i % 3 == 0:
        return InlineChunk(bytes([i % 256]))
    if i % 3 == 1:
        return NativeChunk(bytes([i % 256]) * 12, i, i + 1, None if i % 2 else i)
    return VirtualChunk(f"s3://b/{i}", i, i + 1, None if i % 2 else f"e{i}", i % 5 or None)


coords_2d = st.tuples(st.integers(0, 40), st.integers(0, 40))


@settings(max_examples=60, deadline=None)
@given(
    base=st.dictionaries(coords_2d, st.integers(0, 99), max_size=40),
    changes=st.dictionaries(coords_2d, st.one_of(st.none(), st.integers(0, 99)), max_size=40),
)
def test_lookup_and_updated_match_a_dict(
    base: dict[tuple[int, int], int], changes: dict[tuple[int, int], int | None]
) -> None:
    table = ChunkRefTable.from_payloads(2, [(c, _payload(i)) for c, i in base.items()])
    expected = {c: _payload(i) for c, i in base.items()}
    for c in itertools.product(range(42), repeat=2):
        assert table.lookup(c) == expected.get(c)
    staged = {c: None if i is None else _payload(i) for c, i in changes.items()}
    updated = table.updated(staged)
    for c, p in staged.items():
        if p is None:
            expected.pop(c, None)
        else:
            expected[c] = p
    assert dict(updated.items()) == expected
    assert [c for c, _ in updated.items()] == sorted(expected)


def test_lookup_outside_and_of_other_rank() -> None:
    table = ChunkRefTable.from_payloads(2, [((1, 2), InlineChunk(b"x"))])
    assert table.lookup((1, 2)) == InlineChunk(b"x")
    for c in [(0, 2), (2, 2), (1, 3), (5, 0), (1,), (1, 2, 0), (-1, 2)]:
        assert table.lookup(c) is None
    assert ChunkRefTable.empty(2).lookup((0, 0)) is None
    scalar = ChunkRefTable.from_payloads(0, [((), InlineChunk(b"s"))])
    assert scalar.lookup(()) == InlineChunk(b"s")
    assert len(scalar.updated({(): None})) == 0


def test_unsorted_columns_and_huge_grids() -> None:
    big = 2**32 - 1  # packed keys would overflow 63 bits: the dict fallback answers
    items = [((big, big, big), InlineChunk(b"a")), ((0, 0, 1), InlineChunk(b"b"))]
    table = ChunkRefTable.from_payloads(3, items)
    assert table.lookup((big, big, big)) == InlineChunk(b"a")
    assert table.lookup((0, 0, 1)) == InlineChunk(b"b")
    assert table.lookup((0, 0, 0)) is None
    assert dict(table.updated({(0, 0, 1): None, (1, 1, 1): InlineChunk(b"c")}).items()) == {
        (1, 1, 1): InlineChunk(b"c"),
        (big, big, big): InlineChunk(b"a"),
    }
    # a table whose rows are not in coordinate order (as a foreign manifest might be)
    rows = ChunkRefTable.from_payloads(1, [((i,), InlineChunk(bytes([i]))) for i in range(5)])
    shuffled = rows._take(np.array([3, 0, 4, 1, 2]))
    for i in range(5):
        assert shuffled.lookup((i,)) == InlineChunk(bytes([i]))
    assert shuffled.lookup((5,)) is None

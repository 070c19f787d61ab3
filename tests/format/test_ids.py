from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from icechunk._exceptions import FormatError, InvalidObjectIdError
from icechunk._format.ids import (
    ID8_SIZE,
    ID12_SIZE,
    INITIAL_SNAPSHOT_ID,
    INITIAL_SNAPSHOT_ID_STR,
    decode_id,
    encode_id,
    new_id8,
    new_id12,
)


def test_lengths() -> None:
    assert len(encode_id(new_id12())) == 20
    assert len(encode_id(new_id8())) == 13
    assert len(new_id12()) == ID12_SIZE and len(new_id8()) == ID8_SIZE


def test_initial_snapshot_id() -> None:
    assert encode_id(INITIAL_SNAPSHOT_ID) == INITIAL_SNAPSHOT_ID_STR
    assert len(INITIAL_SNAPSHOT_ID) == 12


def test_known_values() -> None:
    assert encode_id(bytes(12)) == "0" * 20
    assert encode_id(b"\xff" * 8) == "ZZZZZZZZZZZZY"
    assert decode_id("ZZZZZZZZZZZZY", ID8_SIZE) == b"\xff" * 8


@given(st.binary(min_size=12, max_size=12))
def test_roundtrip_12(raw: bytes) -> None:
    text = encode_id(raw)
    assert text == text.upper() and "=" not in text
    assert decode_id(text) == raw


@given(st.binary(min_size=8, max_size=8))
def test_roundtrip_8(raw: bytes) -> None:
    assert decode_id(encode_id(raw), ID8_SIZE) == raw


@pytest.mark.parametrize(
    "text, size",
    [
        ("", 12),
        ("1CECHNKREP0F1RSTCMT", 12),  # too short
        ("1CECHNKREP0F1RSTCMT00", 12),  # too long
        ("1CECHNKREP0F1RSTCMTU", 12),  # U is not Crockford
        ("1cechnkrep0f1rstcmt0", 12),  # lower case
        ("1CECHNKREP0F1RSTCMT0", 8),
    ],
)
def test_invalid(text: str, size: int) -> None:
    with pytest.raises(InvalidObjectIdError) as info:
        decode_id(text, size)
    assert isinstance(info.value, ValueError) and isinstance(info.value, FormatError)

"""Object ids: random bytes shown as Crockford base32 (upper case, no padding).

Snapshot, manifest and chunk ids are 12 bytes (20 characters); node ids are 8 bytes
(13 characters).
"""

from __future__ import annotations

import base64
import functools
import os

from .._exceptions import InvalidObjectIdError

ID12_SIZE = 12
ID8_SIZE = 8

_RFC4648 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_TO_CROCKFORD = str.maketrans(_RFC4648, _CROCKFORD)
_FROM_CROCKFORD = str.maketrans(_CROCKFORD, _RFC4648)
_CROCKFORD_SET = frozenset(_CROCKFORD)

INITIAL_SNAPSHOT_ID_STR = "1CECHNKREP0F1RSTCMT0"


def encode_id(raw: bytes) -> str:
    """Encode id bytes as Crockford base32 without padding."""
    return _encode_bytes(raw if type(raw) is bytes else bytes(raw))


@functools.lru_cache(maxsize=8192)  # the same ids are named again and again (keys, messages)
def _encode_bytes(raw: bytes) -> str:
    return base64.b32encode(raw).decode("ascii").rstrip("=").translate(_TO_CROCKFORD)


def decode_id(text: str, size: int = ID12_SIZE) -> bytes:
    """Decode a Crockford base32 id of ``size`` bytes; raise InvalidObjectIdError otherwise."""
    expected_len = (size * 8 + 4) // 5
    if not isinstance(text, str) or len(text) != expected_len or not set(text) <= _CROCKFORD_SET:
        raise InvalidObjectIdError(
            f"{text!r} is not a valid {size}-byte object id: expected {expected_len} "
            "Crockford base32 characters (0-9, A-Z without I, L, O, U)"
        )
    padded = text.translate(_FROM_CROCKFORD) + "=" * (-expected_len % 8)
    return base64.b32decode(padded)


def is_object_id(text: str, size: int = ID12_SIZE) -> bool:
    """Whether ``text`` is a valid encoded id of ``size`` bytes (the name of a repository object)."""
    try:
        decode_id(text, size)
    except InvalidObjectIdError:
        return False
    return True


def new_id12() -> bytes:
    """A fresh random 12-byte id (snapshots, manifests, chunks)."""
    return os.urandom(ID12_SIZE)


def new_id8() -> bytes:
    """A fresh random 8-byte node id."""
    return os.urandom(ID8_SIZE)


INITIAL_SNAPSHOT_ID = decode_id(INITIAL_SNAPSHOT_ID_STR)

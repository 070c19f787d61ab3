"""The three kinds of chunk reference, one at a time (a manifest holds them as columns)."""

from __future__ import annotations

import enum
import zlib
from dataclasses import dataclass


class RefKind(enum.IntEnum):
    INLINE = 0
    NATIVE = 1
    VIRTUAL = 2


class InlineChunk(bytes):
    """Chunk bytes stored inside the manifest (the object is those bytes).

    A ``bytes`` subclass rather than a wrapper, so that staging millions of small chunks makes
    one object each and their bytes can be joined and measured without reading an attribute.
    """

    __slots__ = ()

    @property
    def data(self) -> bytes:
        """The chunk's bytes, as plain ``bytes``."""
        return bytes(self)

    def __repr__(self) -> str:
        return f"InlineChunk({bytes(self)!r})"


@dataclass(frozen=True, slots=True)
class NativeChunk:
    """A byte range of the object ``chunks/<chunk_id>``.

    ``checksum`` is the :func:`chunk_checksum` of those bytes, when it was recorded.
    """

    chunk_id: bytes
    offset: int
    length: int
    checksum: int | None = None


def chunk_checksum(data: bytes | bytearray | memoryview) -> int:
    """The checksum recorded for native chunk bytes: their CRC-32 (zlib's, as an unsigned int)."""
    return zlib.crc32(data) & 0xFFFFFFFF


@dataclass(frozen=True, slots=True)
class VirtualChunk:
    """A byte range of a file outside the repository.

    ``last_modified`` is seconds since the epoch; ``etag`` and ``last_modified`` are
    alternative checksums (at most one is set).
    """

    location: str
    offset: int
    length: int
    etag: str | None = None
    last_modified: int | None = None


ChunkPayload = InlineChunk | NativeChunk | VirtualChunk

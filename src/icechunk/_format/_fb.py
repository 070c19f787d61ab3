"""A small, bounds-checked flatbuffers reader shared by the format codecs.

The generated accessors in ``_generated`` trust their input; these helpers check every offset
against the buffer so that corrupt data raises :class:`FormatError` instead of reading garbage.
Slot ``k`` of a table is the ``k``-th field of its schema (union fields take two slots: type and
value).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import msgpack

from .._exceptions import FormatError

_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")
_U64 = struct.Struct("<Q")

T = TypeVar("T")

# Errors that corrupt input may provoke in decoding code; they are reported as FormatError.
DECODE_ERRORS: tuple[type[BaseException], ...] = (
    IndexError,
    KeyError,
    ValueError,
    TypeError,
    OverflowError,
    struct.error,
    RecursionError,
    msgpack.UnpackException,
)


@contextmanager
def decoding(what: str) -> Iterator[None]:
    """Turn any low-level decoding failure inside the block into a :class:`FormatError`."""
    try:
        yield
    except FormatError as exc:
        raise FormatError(f"{what} is corrupt: {exc}") from exc
    except DECODE_ERRORS as exc:
        raise FormatError(f"{what} is corrupt: {type(exc).__name__}: {exc}") from exc


class Buffer:
    """A flatbuffer with bounds-checked primitive reads."""

    __slots__ = ("data", "size")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.size = len(data)

    def check(self, pos: int, size: int) -> None:
        """Raise FormatError unless ``[pos, pos + size)`` lies inside the buffer."""
        if pos < 0 or size < 0 or pos + size > self.size:
            raise FormatError(f"offset {pos} (+{size}) is outside the {self.size}-byte buffer")

    def u8(self, pos: int) -> int:
        self.check(pos, 1)
        return self.data[pos]

    def u16(self, pos: int) -> int:
        self.check(pos, 2)
        return int(_U16.unpack_from(self.data, pos)[0])

    def u32(self, pos: int) -> int:
        self.check(pos, 4)
        return int(_U32.unpack_from(self.data, pos)[0])

    def i32(self, pos: int) -> int:
        self.check(pos, 4)
        return int(_I32.unpack_from(self.data, pos)[0])

    def u64(self, pos: int) -> int:
        self.check(pos, 8)
        return int(_U64.unpack_from(self.data, pos)[0])

    def raw(self, pos: int, size: int) -> bytes:
        self.check(pos, size)
        return bytes(self.data[pos : pos + size])

    def deref(self, pos: int) -> int:
        """Follow the uoffset stored at ``pos``."""
        return pos + self.u32(pos)

    def root(self) -> Table:
        """The root table."""
        return Table(self, self.deref(0))

    def vector(self, pos: int, elem_size: int) -> tuple[int, int]:
        """``(first element position, length)`` of the vector starting at ``pos``."""
        n = self.u32(pos)
        self.check(pos + 4, n * elem_size)
        return pos + 4, n


class Table:
    """A table at ``pos``: field lookup through its vtable."""

    __slots__ = ("_vt", "_vt_size", "buf", "pos")

    def __init__(self, buf: Buffer, pos: int) -> None:
        self.buf = buf
        self.pos = pos
        self._vt = pos - buf.i32(pos)
        self._vt_size = buf.u16(self._vt)
        if self._vt_size < 4 or self._vt_size % 2:
            raise FormatError(f"invalid vtable size {self._vt_size}")
        buf.check(self._vt, self._vt_size)

    def field(self, slot: int) -> int:
        """Position of field ``slot``, or 0 when absent."""
        entry = 4 + 2 * slot
        if entry >= self._vt_size:
            return 0
        off = self.buf.u16(self._vt + entry)
        return self.pos + off if off else 0

    def u8(self, slot: int, default: int = 0) -> int:
        p = self.field(slot)
        return self.buf.u8(p) if p else default

    def u32(self, slot: int, default: int = 0) -> int:
        p = self.field(slot)
        return self.buf.u32(p) if p else default

    def u64(self, slot: int, default: int = 0) -> int:
        p = self.field(slot)
        return self.buf.u64(p) if p else default

    def struct(self, slot: int, size: int) -> bytes | None:
        """Raw bytes of an inline struct field, or None when absent."""
        p = self.field(slot)
        return self.buf.raw(p, size) if p else None

    def table(self, slot: int) -> Table | None:
        p = self.field(slot)
        return Table(self.buf, self.buf.deref(p)) if p else None

    def vector(self, slot: int, elem_size: int) -> tuple[int, int] | None:
        """``(first element position, length)`` of a vector field, or None when absent."""
        p = self.field(slot)
        return self.buf.vector(self.buf.deref(p), elem_size) if p else None

    def blob(self, slot: int) -> bytes | None:
        vec = self.vector(slot, 1)
        if vec is None:
            return None
        start, n = vec
        return bytes(self.buf.data[start : start + n])

    def string(self, slot: int) -> str | None:
        raw = self.blob(slot)
        return None if raw is None else raw.decode("utf-8")

    def tables(self, slot: int) -> list[Table] | None:
        """The tables of a vector-of-tables field, or None when absent."""
        vec = self.vector(slot, 4)
        if vec is None:
            return None
        start, n = vec
        buf = self.buf
        return [Table(buf, buf.deref(start + 4 * i)) for i in range(n)]

    def structs(self, slot: int, size: int) -> list[bytes] | None:
        """Raw bytes of each struct in a vector-of-structs field, or None when absent."""
        vec = self.vector(slot, size)
        if vec is None:
            return None
        start, n = vec
        data = self.buf.data
        return [bytes(data[start + size * i : start + size * (i + 1)]) for i in range(n)]


def required(value: T | None, name: str) -> T:
    """Return ``value``; raise FormatError when a required field is missing."""
    if value is None:
        raise FormatError(f"required field {name!r} is missing")
    return value


def read_root(data: bytes, reader: Callable[[Table], T], what: str) -> T:
    """Decode the root table of ``data`` with ``reader``; any failure becomes FormatError."""
    with decoding(what):
        return reader(Buffer(data).root())

"""``IcechunkStore._store``: the store at the level of bytes, as upstream's private handle.

Upstream's ``IcechunkStore`` wraps a native store object, reachable as ``store._store``, whose
async methods take and return ``bytes`` and byte ranges as ``(start, end)`` tuples. Upstream's
own test helpers and some downstream libraries use it; this adapter offers the same calls over
:class:`~icechunk.IcechunkStore`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING

from zarr.abc.store import ByteRequest, OffsetByteRequest, RangeByteRequest, SuffixByteRequest
from zarr.core.buffer import default_buffer_prototype
from zarr.core.buffer.cpu import Buffer

if TYPE_CHECKING:
    from .store import IcechunkStore

__all__ = ["StoreHandle", "byte_request"]

ByteRangeTuple = tuple[int | None, int | None]


def byte_request(byte_range: ByteRangeTuple | None) -> ByteRequest | None:
    """The zarr byte request of upstream's ``(start, end)`` tuple.

    ``(start, end)`` is a range, ``(start, None)`` everything from ``start``, ``(None, n)`` the
    last ``n`` bytes and ``None`` or ``(None, None)`` the whole value.
    """
    if byte_range is None:
        return None
    start, end = byte_range
    if start is not None and end is not None:
        return RangeByteRequest(start, end)
    if start is not None:
        return OffsetByteRequest(start)
    if end is not None:
        return SuffixByteRequest(end)
    return None


class StoreHandle:
    """Bytes-level async operations on an :class:`~icechunk.IcechunkStore`."""

    def __init__(self, store: IcechunkStore):
        self._outer = store

    async def get(self, key: str, byte_range: ByteRangeTuple | None = None) -> bytes:
        """The bytes under ``key`` (or a range of them).

        Raises
        ------
        KeyError
            Nothing is stored under ``key`` (as upstream's handle).
        """
        buffer = await self._outer.get(key, default_buffer_prototype(), byte_request(byte_range))
        if buffer is None:
            raise KeyError(key)
        return buffer.to_bytes()

    async def get_partial_values(
        self, key_ranges: Iterable[tuple[str, ByteRangeTuple | None]]
    ) -> list[bytes | None]:
        """Many :meth:`get` calls at once."""
        requests = [(key, byte_request(rng)) for key, rng in key_ranges]
        buffers = await self._outer.get_partial_values(default_buffer_prototype(), requests)
        return [None if b is None else b.to_bytes() for b in buffers]

    async def exists(self, key: str) -> bool:
        """Whether ``key`` holds a value."""
        return await self._outer.exists(key)

    async def getsize(self, key: str) -> int:
        """The size in bytes of the value under ``key``."""
        return await self._outer.getsize(key)

    async def set(self, key: str, value: bytes) -> None:
        """Store ``value`` under ``key``."""
        await self._outer.set(key, Buffer.from_bytes(value))

    async def set_if_not_exists(self, key: str, value: bytes) -> None:
        """Store ``value`` under ``key`` unless something is there already."""
        await self._outer.set_if_not_exists(key, Buffer.from_bytes(value))

    async def delete(self, key: str) -> None:
        """Delete ``key`` (nothing happens if it does not exist)."""
        await self._outer.delete(key)

    async def delete_dir(self, prefix: str) -> None:
        """Delete every key below ``prefix``."""
        await self._outer.delete_dir(prefix)

    async def clear(self) -> None:
        """Delete every key of the session."""
        await self._outer.clear()

    async def is_empty(self, prefix: str) -> bool:
        """Whether no key lies below ``prefix``."""
        return await self._outer.is_empty(prefix)

    def list(self) -> AsyncIterator[str]:
        """Every key."""
        return self._outer.list()

    def list_prefix(self, prefix: str) -> AsyncIterator[str]:
        """Every key below ``prefix``."""
        return self._outer.list_prefix(prefix)

    def list_dir(self, prefix: str) -> AsyncIterator[str]:
        """The immediate children of ``prefix``."""
        return self._outer.list_dir(prefix)

    @property
    def supports_writes(self) -> bool:
        return self._outer.supports_writes

    @property
    def supports_deletes(self) -> bool:
        return self._outer.supports_deletes

    @property
    def supports_listing(self) -> bool:
        return self._outer.supports_listing

    @property
    def supports_partial_writes(self) -> bool:
        return False

"""Range reads of one object that arrive together, served with few requests.

Zarr reads the chunks of a selection concurrently; when they are virtual chunks of one file
(a NetCDF variable, say), each would be a separate GET. :class:`RangeCoalescer` holds the reads
that arrive in the same event-loop turn, merges those of one object whose ranges are close,
fetches each merged range once (the merged ranges concurrently) and hands every caller its
slice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

#: Ranges closer than this are read as one (reading the gap costs less than a request).
DEFAULT_MAX_GAP = 256 * 1024
#: A merged range never grows past this many bytes.
DEFAULT_MAX_SPAN = 32 * 1024 * 1024

Fetch = Callable[[int, int], Awaitable[tuple[bytes, Any]]]


@dataclass
class _Read:
    start: int
    stop: int
    future: asyncio.Future[tuple[bytes, Any]]


@dataclass
class _Pending:
    fetch: Fetch
    reads: list[_Read] = field(default_factory=list)


class RangeCoalescer:
    """Merge concurrent range reads of the same object.

    Parameters
    ----------
    max_gap
        Reads whose ranges are at most this many bytes apart share a request.
    max_span
        The largest merged request, in bytes.
    """

    def __init__(self, max_gap: int = DEFAULT_MAX_GAP, max_span: int = DEFAULT_MAX_SPAN):
        self.max_gap = max_gap
        self.max_span = max_span
        self._pending: dict[tuple[asyncio.AbstractEventLoop, Hashable], _Pending] = {}

    async def read(self, key: Hashable, start: int, stop: int, fetch: Fetch) -> tuple[bytes, Any]:
        """Bytes ``[start, stop)`` of the object ``key`` (and the fetch's metadata).

        ``fetch(start, stop)`` reads a range of the object; reads of one ``key`` arriving
        before the loop's next turn are merged. ``key`` must name the object and everything
        else that makes two fetches interchangeable (such as their checksum conditions).
        """
        loop = asyncio.get_running_loop()
        slot = (loop, key)
        pending = self._pending.get(slot)
        if pending is None:
            pending = self._pending[slot] = _Pending(fetch)
            loop.call_soon(self._flush, slot)
        read = _Read(start, stop, loop.create_future())
        pending.reads.append(read)
        return await read.future

    def _flush(self, slot: tuple[asyncio.AbstractEventLoop, Hashable]) -> None:
        pending = self._pending.pop(slot)
        for group in self._groups(pending.reads):
            slot[0].create_task(_serve(group, pending.fetch))

    def _groups(self, reads: list[_Read]) -> list[list[_Read]]:
        ordered = sorted(reads, key=lambda r: r.start)
        groups: list[list[_Read]] = []
        begin = end = 0
        for read in ordered:
            if groups and read.start - end <= self.max_gap and read.stop - begin <= self.max_span:
                groups[-1].append(read)
                end = max(end, read.stop)
            else:
                groups.append([read])
                begin, end = read.start, read.stop
        return groups


async def _serve(group: list[_Read], fetch: Fetch) -> None:
    start = min(r.start for r in group)
    stop = max(r.stop for r in group)
    try:
        data, meta = await fetch(start, stop)
    except BaseException as error:  # every waiting reader gets the failure
        for read in group:
            if not read.future.done():
                read.future.set_exception(error)
        if not isinstance(error, Exception):
            raise
        return
    for read in group:
        if not read.future.done():
            read.future.set_result((data[read.start - start : read.stop - start], meta))

"""``IcechunkStore``: the Zarr v3 store of a session."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
from zarr.abc.store import (
    ByteRequest,
    OffsetByteRequest,
    RangeByteRequest,
    Store,
    SuffixByteRequest,
)
from zarr.core.buffer import Buffer, BufferPrototype
from zarr.core.sync import SyncMixin

from ._config import VirtualChunkSpec
from ._core.store import StoreCore
from ._exceptions import ReadOnlySessionError, error_context
from ._store_handle import StoreHandle
from ._sync import blocking, sync, sync_iter

if TYPE_CHECKING:
    from .session import Session

__all__ = ["IcechunkStore"]

_READ_ONLY_MESSAGE = (
    "cannot write to read-only store (store was opened in read-only mode and does not support "
    "writing): this session is read-only (a read-only session, or a session that already "
    "committed); create a writable session with repo.writable_session(branch)"
)


def _check_buffer(method: str, value: object) -> None:
    """zarr's check (and message) that a value given to a store is a ``Buffer``."""
    if not isinstance(value, Buffer):
        raise TypeError(
            f"IcechunkStore.{method}(): `value` must be a Buffer instance. Got an instance of "
            f"{type(value)} instead. Wrap bytes with zarr.core.buffer.cpu.Buffer.from_bytes."
        )


class IcechunkStore(Store, SyncMixin):
    """A Zarr v3 store reading and writing through an Icechunk session.

    Obtain it from ``session.store``; do not construct it directly. Writes go to the session's
    change set and become visible to others only when the session commits.
    """

    _core: StoreCore
    _session: Session

    def __init__(self, session: Session, read_only: bool | None = None, **kwargs: Any):
        core_session = session._core
        super().__init__(read_only=core_session.read_only if read_only is None else read_only)
        self._session = session
        self._core = StoreCore(core_session)
        self._is_open = True  # a session's store is ready to use

    @classmethod
    async def open(cls, *args: Any, **kwargs: Any) -> IcechunkStore:
        """zarr's way to make and open a store: ``await IcechunkStore.open(session)``."""
        store = cls(*args, **kwargs)
        store._is_open = False
        await store._open()
        return store

    # --- identity, pickling ------------------------------------------------------------------

    def __eq__(self, value: object) -> bool:
        return isinstance(value, IcechunkStore) and value._core.session is self._core.session

    def __hash__(self) -> int:
        return id(self._core.session)

    def __repr__(self) -> str:
        s = self._core.session
        where = f"branch={s.branch!r}, " if s.branch else ""
        return f"<IcechunkStore {where}snapshot={s.snapshot_name} read_only={self.read_only}>"

    def __getstate__(self) -> dict[str, Any]:
        return {"session": self._session, "read_only": self._read_only}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["session"], read_only=state["read_only"])  # type: ignore[misc]

    @property
    def _store(self) -> StoreHandle:
        """A bytes-level handle on this store (``get``/``set`` take and return ``bytes``)."""
        return StoreHandle(self)

    @property
    def session(self) -> Session:
        """The session this store reads and writes through.

        As upstream, each access gives a new ``Session`` object over the same session state:
        changes, commits and merges are shared, but the "forked and not merged" warning of
        :meth:`Session.commit` belongs to the object ``fork()`` was called on.
        """
        return type(self._session)(self._session._repository, self._core.session)

    @property
    def read_only(self) -> bool:
        """True if the store refuses writes (a read-only session, or opened read-only)."""
        return self._read_only or self._core.session.read_only

    def with_read_only(self, read_only: bool = False) -> IcechunkStore:
        """A store over the same session, read-only if asked (a read-only session stays so).

        The new store is not open yet (zarr opens it on first use), as upstream's.
        """
        store = IcechunkStore(self._session, read_only=read_only or self._core.session.read_only)
        store._is_open = False
        return store

    def _check_writable(self) -> None:
        if self.read_only:
            raise ReadOnlySessionError(_READ_ONLY_MESSAGE)

    # --- capabilities ------------------------------------------------------------------------

    @property
    def supports_writes(self) -> bool:
        """Always True: a store on a writable session or fork accepts writes."""
        return True

    @property
    def supports_deletes(self) -> bool:
        """Always True: keys can be deleted (within a writable session)."""
        return True

    @property
    def supports_partial_writes(self) -> bool:  # type: ignore[override]
        """Always False: chunks are written whole."""
        return False

    @property
    def supports_listing(self) -> bool:
        """Always True: keys can be listed."""
        return True

    @property
    def supports_consolidated_metadata(self) -> bool:
        """Always False: the snapshot holds all metadata; open with ``consolidated=False``."""
        return False

    # --- reads -------------------------------------------------------------------------------

    async def get(
        self,
        key: str,
        prototype: BufferPrototype,
        byte_range: ByteRequest | None = None,
    ) -> Buffer | None:
        """Bytes stored under ``key`` (or a range of them); None when nothing is there."""
        if byte_range is not None and not isinstance(
            byte_range, RangeByteRequest | OffsetByteRequest | SuffixByteRequest
        ):
            raise TypeError(f"Unexpected byte_range, got {byte_range!r}")
        with error_context("get", key=key):
            data = await self._core.get(key, byte_range)
        return None if data is None else prototype.buffer.from_bytes(data)

    async def get_partial_values(
        self,
        prototype: BufferPrototype,
        key_ranges: Iterable[tuple[str, ByteRequest | None]],
    ) -> list[Buffer | None]:
        """Many ``get`` calls, concurrently."""
        import asyncio

        return list(
            await asyncio.gather(*(self.get(k, prototype, r) for k, r in key_ranges))
        )

    async def exists(self, key: str) -> bool:
        """Whether ``key`` (metadata or chunk) exists in the session's view of the repository."""
        return await self._core.exists(key)

    async def getsize(self, key: str) -> int:
        """The size in bytes of the value at ``key``; ``FileNotFoundError`` if it does not exist."""
        size = await self._core.getsize(key)
        if size is None:
            raise FileNotFoundError(key)
        return size

    async def is_empty(self, prefix: str) -> bool:
        """Whether no key starts with ``prefix``."""
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        return await self._core.is_empty(prefix)

    # --- writes ------------------------------------------------------------------------------

    async def set(self, key: str, value: Buffer) -> None:
        """Store ``value`` under ``key``: array or group metadata, or a chunk."""
        _check_buffer("set", value)
        self._check_writable()
        await self._core.set(key, value.to_bytes())

    async def set_if_not_exists(self, key: str, value: Buffer) -> None:
        """Store ``value`` at ``key`` unless the key exists already."""
        _check_buffer("set_if_not_exists", value)
        self._check_writable()
        if not await self._core.exists(key):
            await self._core.set(key, value.to_bytes())

    async def set_partial_values(
        self, key_start_values: Iterable[tuple[str, int, bytes | bytearray | memoryview]]
    ) -> None:
        """Not supported: Icechunk writes whole chunks (``supports_partial_writes`` is False)."""
        raise NotImplementedError("IcechunkStore does not support partial writes")

    async def delete(self, key: str) -> None:
        """Delete ``key`` (a chunk, or the metadata of a group or array) in this session."""
        self._check_writable()
        await self._core.delete(key)

    async def delete_dir(self, prefix: str) -> None:
        """Delete every key under ``prefix`` in this session."""
        self._check_writable()
        await self._core.delete_dir(prefix)

    async def clear(self) -> None:
        """Delete every group, array and chunk in the session."""
        self._check_writable()
        await self._core.delete_dir("")

    def sync_clear(self) -> None:
        """Blocking version of :meth:`clear`."""
        sync(self.clear(), method="IcechunkStore.sync_clear")

    # --- virtual references ------------------------------------------------------------------

    async def set_virtual_ref_async(
        self,
        key: str,
        location: str,
        *,
        offset: int,
        length: int,
        checksum: str | datetime | None = None,
        validate_container: bool = True,
    ) -> None:
        """Async version of :meth:`set_virtual_ref`."""
        self._check_writable()
        await self._core.set_virtual_ref(
            key, location, offset, length, checksum, validate_container
        )

    set_virtual_ref = blocking(
        set_virtual_ref_async,
        """Point the chunk ``key`` (e.g. ``"array/c/0/0"``) at bytes of another file.

        Parameters
        ----------
        location
            URL of the file, e.g. ``"s3://bucket/path/file.nc"``.
        offset, length
            Where the chunk's bytes are in that file.
        checksum
            The file's etag (str) or last-modified time (datetime); reads fail if it changed.
        validate_container
            Fail unless a virtual chunk container of the repository covers ``location``.
        """,
    )

    async def set_virtual_refs_async(
        self,
        array_path: str,
        chunks: list[VirtualChunkSpec],
        *,
        validate_containers: bool = True,
    ) -> list[tuple[int, ...]] | None:
        """Async version of :meth:`set_virtual_refs`."""
        self._check_writable()
        return await self._core.set_virtual_refs(array_path, chunks, validate_containers)

    set_virtual_refs = blocking(
        set_virtual_refs_async,
        """Store many virtual references of one array.

        Returns
        -------
        list of tuple of int, or None
            None when every reference was stored; otherwise the chunk indices of those whose
            location no virtual chunk container covers (those are skipped).
        """,
    )

    async def set_virtual_refs_arr_async(
        self,
        array_path: str,
        chunk_grid_shape: tuple[int, ...],
        locations: list[str],
        offsets: np.ndarray,
        lengths: np.ndarray,
        *,
        validate_containers: bool = True,
        arr_offset: tuple[int, ...] | None = None,
        checksum: datetime | str | None = None,
    ) -> list[tuple[int, ...]] | None:
        """Async version of :meth:`set_virtual_refs_arr`."""
        self._check_writable()
        return await self._core.set_virtual_refs_arr(
            array_path,
            chunk_grid_shape,
            locations,
            offsets,
            lengths,
            validate_containers=validate_containers,
            arr_offset=arr_offset,
            checksum=checksum,
        )

    set_virtual_refs_arr = blocking(
        set_virtual_refs_arr_async,
        """Store the virtual references of a block of chunks from flat columns.

        Much faster than :meth:`set_virtual_refs` for many chunks: no per-chunk
        ``VirtualChunkSpec`` objects.

        Parameters
        ----------
        array_path
            The array, e.g. ``"group/temperature"``.
        chunk_grid_shape
            How many chunks along each dimension the columns describe, in C (row-major)
            order; its product is the length of each column.
        locations
            The URL of each chunk's file; an empty string leaves that chunk untouched.
        offsets, lengths
            uint64 arrays: where each chunk's bytes are in its file.
        validate_containers
            Skip (and return) chunks whose location no virtual chunk container covers.
        arr_offset
            The chunk index of the block's first chunk (for appends), default all zeros.
        checksum
            One etag (str) or last-modified time (datetime; naive means local time) for all
            the chunks; reads fail if a file changed after it.

        Returns
        -------
        list of tuple of int, or None
            None when every reference was stored; otherwise the skipped chunk indices.
        """,
    )

    async def array_chunk_iterator(
        self, array_path: str, batch_size: int = 100_000
    ) -> AsyncIterator[
        tuple[np.ndarray, np.ndarray, list[str], np.ndarray, np.ndarray, dict[int, bytes]]
    ]:
        """The chunk references of one array, in batches of columns (``async for``).

        Each batch is ``(coords, kinds, paths, offsets, lengths, inlined)``: chunk indices
        (uint32, ``(n, ndim)``), kinds (uint8: 1 native, 2 virtual, 3 inline, the values of
        :class:`ChunkType`), paths (the URL of a virtual chunk, the chunk id of a native one,
        ``""`` for inline), byte offsets and lengths (uint64), and the bytes of inline rows
        keyed by row. Uninitialized chunks are left out; the session's uncommitted changes
        are included.
        """
        async for batch in self._core.chunk_ref_batches(array_path, batch_size):
            yield batch.as_tuple()

    # --- listing -----------------------------------------------------------------------------

    def list(self) -> Keys:
        """Every key in the store: iterate with ``async for`` (or plain ``for``)."""
        return Keys(self._core.list_prefix(""), "IcechunkStore.list")

    def list_prefix(self, prefix: str) -> Keys:
        """Every key below the path ``prefix`` (``""`` or ``"/"`` for all keys).

        A prefix names whole path segments: ``"foo"`` lists ``foo/zarr.json`` and
        ``foo/c/0``, not ``foo-bar/zarr.json``. Iterate with ``async for`` (or plain ``for``).
        """
        return Keys(self._core.list_prefix(prefix), "IcechunkStore.list_prefix")

    def list_dir(self, prefix: str) -> Keys:
        """The names directly under ``prefix`` (one level): iterate with ``async for`` or ``for``."""
        return Keys(self._core.list_dir(prefix), "IcechunkStore.list_dir")


class Keys(AsyncIterator[str]):
    """Keys listed by a store: an async iterator that plain ``for`` loops can also walk.

    Upstream's listings iterate both ways; a plain ``for`` fetches the keys in batches on
    zarr's IO loop (so it cannot run inside that loop itself).
    """

    def __init__(self, keys: AsyncIterator[str], method: str):
        self._keys = keys
        self._method = method

    def __aiter__(self) -> Keys:
        return self

    async def __anext__(self) -> str:
        return await self._keys.__anext__()

    def __iter__(self) -> Iterator[str]:
        return sync_iter(self._keys, method=self._method)

"""Typed, cached I/O of repository objects: the only module that knows both storage and format.

Object keys: ``snapshots/<id>``, ``manifests/<id>``, ``transactions/<snapshot id>``,
``chunks/<id>``. Immutable objects are cached by id (snapshots, manifests and transaction logs
by count, chunk bytes not at all: zarr caches decoded data itself). Concurrent requests for the
same uncached object share one fetch.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from ._config import defaults
from ._exceptions import (
    ChecksumMismatchError,
    FormatError,
    IcechunkError,
    ObjectNotFoundError,
    ObjectTruncatedError,
    SnapshotNotFoundError,
    StorageError,
    UnsupportedSpecVersionError,
    error_context,
)
from ._format._codec_manifest import encode_manifest
from ._format._manifest_decode import decode_manifest, open_manifest
from ._format._codec_snapshot import decode_snapshot, decode_snapshot_header, encode_snapshot
from ._format._codec_transaction_log import decode_transaction_log, encode_transaction_log
from ._format._payloads import chunk_checksum
from ._format.header import FileType, decode_file, encode_file, file_has_checksum
from ._format.ids import decode_id, encode_id
from ._format.manifest import Manifest, NativeChunk
from ._format.snapshot import (
    Snapshot,
    SnapshotHeader,
    check_header,
    check_snapshot,
)
from ._format.transaction_log import TransactionLog
from .storage._backend import ByteRange, PutMode, StorageBackend

_log = logging.getLogger(__name__)

K = TypeVar("K")
V = TypeVar("V")

SNAPSHOTS = "snapshots/"
MANIFESTS = "manifests/"
TRANSACTIONS = "transactions/"
CHUNKS = "chunks/"


_DAMAGED = (
    "The object was damaged in storage (or by a faulty copy); restore it from a backup or "
    "replica of the repository, or reset the branch to a snapshot that does not need it."
)


def _decode(
    raw: bytes,
    file_type: FileType,
    decode: Callable[[bytes], V],
    what: str,
    check: Callable[[V], None] | None = None,
) -> V:
    """Check the header, decompress and parse ``raw``: a damaged object is a FormatError.

    Every failure, whatever its origin, is a :class:`FormatError` (or subclass) that names
    the object (``what``). Files this package writes carry a zstd content checksum, which
    catches any damaged payload byte; files without one (written by upstream) are also put
    through ``check``, which cross-checks the decoded value.
    """
    try:
        payload = decode_file(raw, file_type, what=what)
        value = decode(payload)
        if check is not None and not file_has_checksum(raw):
            check(value)
    except UnsupportedSpecVersionError:
        raise  # not damage: a newer format (the message names the object and the version)
    except FormatError as e:
        text = str(e) if str(e).startswith(what) else f"{what}: {e}"
        raise type(e)(f"{text}. {_DAMAGED}") from e
    except Exception as e:  # any decoding failure of damaged bytes
        raise FormatError(f"{what} is corrupt: {type(e).__name__}: {e}. {_DAMAGED}") from e
    return value


def _one(_: object) -> int:
    return 1


class _LruCache(Generic[K, V]):
    """An LRU cache bounded by total weight; concurrent misses of one key share one fetch.

    The most recently used item is always kept, even when it alone outweighs the capacity,
    so that a large manifest is not fetched again for every chunk read from it.
    """

    def __init__(
        self,
        capacity: int,
        weigh: Callable[[V], int] = _one,
        too_large: Callable[[int, int], str] | None = None,
    ):
        self.capacity = max(0, capacity)
        self._weigh = weigh
        self._too_large = too_large  # warning text for an item outweighing the capacity
        self._weight = 0
        self._items: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._in_flight: dict[K, asyncio.Future[V]] = {}

    async def get_or_fetch(self, key: K, fetch: Callable[[], Awaitable[V]]) -> V:
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key][0]
        pending = self._in_flight.get(key)
        if pending is not None and pending.get_loop() is asyncio.get_running_loop():
            return await asyncio.shield(pending)
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._in_flight[key] = future
        try:
            value = await fetch()
        except BaseException as e:
            future.set_exception(e)
            future.exception()  # mark retrieved: waiters re-raise it themselves
            raise
        finally:
            self._in_flight.pop(key, None)
        future.set_result(value)
        self.put(key, value)
        return value

    def peek(self, key: K) -> V | None:
        """The cached value, if any, without fetching."""
        entry = self._items.get(key)
        return None if entry is None else entry[0]

    def discard(self, key: K) -> None:
        entry = self._items.pop(key, None)
        if entry is not None:
            self._weight -= entry[1]

    def put(self, key: K, value: V) -> None:
        weight = self._weigh(value)
        if weight > self.capacity and self._too_large is not None:
            _log.warning(self._too_large(weight, self.capacity))
            self._too_large = None  # once per cache
        if self.capacity == 0:
            return
        self.discard(key)
        weight = max(1, weight)
        self._items[key] = (value, weight)
        self._weight += weight
        while self._weight > self.capacity and len(self._items) > 1:
            _, (_, evicted) = self._items.popitem(last=False)
            self._weight -= evicted


def _changes_in(log: TransactionLog) -> int:
    """How many changes a transaction log records (its weight in the cache)."""
    ids = (
        log.new_groups,
        log.new_arrays,
        log.deleted_groups,
        log.deleted_arrays,
        log.updated_arrays,
        log.updated_groups,
    )
    return sum(map(len, ids)) + sum(map(len, log.updated_chunks.values()))


def _range_key(byte_range: ByteRange | None) -> tuple[int, int | None, bool]:
    if byte_range is None:
        return (0, None, False)
    return (byte_range.start, byte_range.end, byte_range.is_suffix)


def _snapshot_too_large(nodes: int, capacity: int) -> str:
    return (
        f"A snapshot with {nodes} nodes does not fit in the snapshot cache, configured to keep "
        f"{capacity} nodes: it will be fetched again on every use. Increase "
        "CachingConfig.num_snapshot_nodes in the repository config."
    )


def _manifest_too_large(refs: int, capacity: int) -> str:
    return (
        f"A manifest with {refs} chunk references does not fit in the manifest cache, configured "
        f"to keep {capacity} references: it will be fetched again on every use. Increase "
        "CachingConfig.num_chunk_refs in the repository config."
    )


@dataclass(frozen=True)
class AssetSettings:
    """What the asset manager needs from the repository configuration."""

    compression_level: int = defaults.COMPRESSION_LEVEL
    snapshot_cache_nodes: int = defaults.NUM_SNAPSHOT_NODES
    manifest_cache_refs: int = defaults.NUM_CHUNK_REFS
    transaction_cache_changes: int = defaults.NUM_TRANSACTION_CHANGES  # 0: none cached
    chunk_cache_bytes: int = defaults.NUM_BYTES_CHUNKS  # 0: chunk bytes are not cached
    #: Record the CRC-32 of each new native chunk in its manifest reference (beyond spec v1;
    #: upstream ignores it). Costs a CRC pass over written chunks and about 4-6 bytes per
    #: reference in the compressed manifest; reads verify it whenever it is present.
    chunk_checksums: bool = True


class AssetManager:
    """Reads and writes typed repository objects through a storage backend."""

    def __init__(self, backend: StorageBackend, settings: AssetSettings | None = None):
        self.backend = backend
        self.settings = settings or AssetSettings()
        # ids of the latest manifests read from storage (cache misses), oldest first
        self.manifests_read: deque[bytes] = deque(maxlen=1000)
        self._snapshots: _LruCache[bytes, Snapshot] = _LruCache(
            self.settings.snapshot_cache_nodes, lambda s: len(s.nodes), _snapshot_too_large
        )
        self._headers: _LruCache[bytes, SnapshotHeader] = _LruCache(10_000)
        self._manifests: _LruCache[bytes, Manifest] = _LruCache(
            self.settings.manifest_cache_refs, lambda m: m.num_chunk_refs, _manifest_too_large
        )
        self._tx_logs: _LruCache[bytes, TransactionLog] = _LruCache(
            self.settings.transaction_cache_changes, _changes_in
        )
        self._chunks: _LruCache[tuple[bytes, int, int | None, bool], bytes] = _LruCache(
            self.settings.chunk_cache_bytes, len
        )

    # --- snapshots ---------------------------------------------------------------------------

    async def fetch_snapshot(self, snapshot_id: bytes) -> Snapshot:
        """The snapshot ``snapshot_id``; SnapshotNotFoundError if it is not in the repository."""

        async def load() -> Snapshot:
            name = encode_id(snapshot_id)
            raw = await self._get_snapshot_bytes(snapshot_id)
            return _decode(
                raw, FileType.SNAPSHOT, decode_snapshot, f"snapshot {name}", check_snapshot
            )

        with error_context("fetch_snapshot", snapshot_id=encode_id(snapshot_id)):
            return await self._snapshots.get_or_fetch(snapshot_id, load)

    async def fetch_snapshot_header(self, snapshot_id: bytes) -> SnapshotHeader:
        """A snapshot's id, parent, time, message, metadata and manifests (not its nodes)."""
        full = self._snapshots.peek(snapshot_id)
        if full is not None:
            return SnapshotHeader.of(full)

        async def load() -> SnapshotHeader:
            name = encode_id(snapshot_id)
            raw = await self._get_snapshot_bytes(snapshot_id)
            return _decode(
                raw, FileType.SNAPSHOT, decode_snapshot_header, f"snapshot {name}", check_header
            )

        with error_context("fetch_snapshot", snapshot_id=encode_id(snapshot_id)):
            return await self._headers.get_or_fetch(snapshot_id, load)

    async def _get_snapshot_bytes(self, snapshot_id: bytes) -> bytes:
        name = encode_id(snapshot_id)
        try:
            return await self.backend.get(SNAPSHOTS + name)
        except ObjectNotFoundError:
            raise SnapshotNotFoundError(f"snapshot {name} does not exist in this repository") from None

    async def write_snapshot(self, snapshot: Snapshot) -> None:
        data = encode_file(
            FileType.SNAPSHOT,
            encode_snapshot(snapshot),
            compression_level=self.settings.compression_level,
        )
        await self.backend.put(SNAPSHOTS + encode_id(snapshot.snapshot_id), data)
        self._snapshots.put(snapshot.snapshot_id, snapshot)

    async def rewrite_snapshot(self, snapshot: Snapshot) -> None:
        """Overwrite an existing snapshot in place (expiry re-parents snapshots)."""
        self._headers.discard(snapshot.snapshot_id)
        await self.write_snapshot(snapshot)

    def forget(self, keys: list[str]) -> None:
        """Drop cached objects whose storage keys were deleted."""
        for key in keys:
            prefix, _, name = key.partition("/")
            try:
                object_id = decode_id(name)
            except IcechunkError:
                continue
            caches: dict[str, _LruCache[bytes, Any]] = {
                "snapshots": self._snapshots,
                "manifests": self._manifests,
                "transactions": self._tx_logs,
            }
            if prefix in caches:
                caches[prefix].discard(object_id)
            if prefix == "snapshots":
                self._headers.discard(object_id)

    async def snapshot_exists(self, snapshot_id: bytes) -> bool:
        return await self.backend.exists(SNAPSHOTS + encode_id(snapshot_id))

    # --- manifests ---------------------------------------------------------------------------

    async def fetch_manifest(self, manifest_id: bytes) -> Manifest:
        async def load() -> Manifest:
            name = encode_id(manifest_id)
            try:
                raw = await self.backend.get(MANIFESTS + name)
                self.manifests_read.append(manifest_id)
            except ObjectNotFoundError:
                raise StorageError(
                    f"manifest {name} is missing from the repository; it may have been garbage "
                    "collected or the repository is damaged"
                ) from None
            what = f"manifest {name}"
            # a checksummed file is known intact: its tables can be decoded when first used
            if file_has_checksum(raw):
                return _decode(raw, FileType.MANIFEST, lambda b: open_manifest(b, what), what)
            return _decode(raw, FileType.MANIFEST, decode_manifest, what)

        with error_context("fetch_manifest", manifest_id=encode_id(manifest_id)):
            return await self._manifests.get_or_fetch(manifest_id, load)

    async def write_manifest(self, manifest: Manifest) -> int:
        """Write the manifest and return its size in bytes."""
        data = encode_file(
            FileType.MANIFEST,
            encode_manifest(manifest),
            compression_level=self.settings.compression_level,
        )
        await self.backend.put(MANIFESTS + encode_id(manifest.manifest_id), data)
        self._manifests.put(manifest.manifest_id, manifest)
        return len(data)

    # --- transaction logs --------------------------------------------------------------------

    async def fetch_transaction_log(self, snapshot_id: bytes) -> TransactionLog:
        if not self._tx_logs.capacity:  # nothing is cached (upstream's default)
            return await self._load_transaction_log(snapshot_id)
        return await self._tx_logs.get_or_fetch(
            snapshot_id, lambda: self._load_transaction_log(snapshot_id)
        )

    async def _load_transaction_log(self, snapshot_id: bytes) -> TransactionLog:
        name = encode_id(snapshot_id)
        try:
            raw = await self.backend.get(TRANSACTIONS + name)
        except ObjectNotFoundError:
            raise StorageError(
                f"transaction log of snapshot {name} is missing from the repository"
            ) from None
        return _decode(
            raw, FileType.TRANSACTION_LOG, decode_transaction_log, f"transaction log {name}"
        )

    async def write_transaction_log(self, log: TransactionLog) -> None:
        data = encode_file(
            FileType.TRANSACTION_LOG,
            encode_transaction_log(log),
            compression_level=self.settings.compression_level,
        )
        await self.backend.put(TRANSACTIONS + encode_id(log.snapshot_id), data)
        self._tx_logs.put(log.snapshot_id, log)

    # --- chunks ------------------------------------------------------------------------------

    async def fetch_chunk(self, chunk_id: bytes, byte_range: ByteRange | None = None) -> bytes:
        """The bytes of chunk object ``chunk_id`` (or of ``byte_range`` of it).

        A bounded range comes from a manifest's offset and length; a read that returns fewer
        bytes means the object was truncated, which is an error rather than short data.

        Raises
        ------
        StorageError
            The chunk object is missing.
        ObjectTruncatedError
            The chunk object ends before the range does.
        """
        if self._chunks.capacity:
            cache_key = (chunk_id, *_range_key(byte_range))
            return await self._chunks.get_or_fetch(
                cache_key, lambda: self._read_chunk(chunk_id, byte_range)
            )
        return await self._read_chunk(chunk_id, byte_range)

    async def _read_chunk(self, chunk_id: bytes, byte_range: ByteRange | None) -> bytes:
        name = encode_id(chunk_id)
        key = CHUNKS + name
        try:
            data = await self.backend.get(key, byte_range)
        except ObjectNotFoundError:
            raise StorageError(
                f"chunk {name} is missing from the repository; it may have been garbage "
                "collected or the repository is damaged"
            ) from None
        if byte_range is not None and byte_range.end is not None and not byte_range.is_suffix:
            expected = byte_range.end - byte_range.start
            if len(data) < expected:
                raise ObjectTruncatedError(
                    f"chunk object {key} in {self.backend.describe()} is truncated: the "
                    f"manifest says bytes {byte_range.start}-{byte_range.end} but only "
                    f"{len(data)} of those {expected} bytes exist. {_DAMAGED}"
                )
        return data

    async def fetch_native_chunk(
        self, ref: NativeChunk, byte_range: ByteRange | None = None
    ) -> bytes:
        """The bytes a native chunk reference points to, or ``byte_range`` of the object.

        A read of the whole reference is checked against the reference's checksum, when it
        has one (see :mod:`icechunk._format.manifest`); a partial read cannot be.

        Parameters
        ----------
        ref
            The reference (chunk id, offset, length, optional checksum).
        byte_range
            A range of the chunk object inside the reference; ``None`` for all of it.

        Raises
        ------
        ObjectTruncatedError
            The chunk object ends before the reference does.
        ChecksumMismatchError
            The bytes differ from those the checksum was computed from.
        """
        whole = ByteRange(ref.offset, ref.offset + ref.length)
        data = await self.fetch_chunk(ref.chunk_id, byte_range or whole)
        if ref.checksum is not None and (byte_range is None or byte_range == whole):
            found = chunk_checksum(data)
            if found != ref.checksum:
                raise ChecksumMismatchError(
                    f"chunk object {CHUNKS}{encode_id(ref.chunk_id)} in "
                    f"{self.backend.describe()} is damaged: bytes {whole.start}-{whole.end} have "
                    f"checksum {found:08x}, the manifest recorded {ref.checksum:08x}. {_DAMAGED}"
                )
        return data

    async def write_chunk(self, chunk_id: bytes, data: bytes) -> int | None:
        """Write chunk object ``chunk_id``; return its :func:`chunk_checksum` (``None`` when
        :attr:`AssetSettings.chunk_checksums` is off)."""
        await self.backend.put(CHUNKS + encode_id(chunk_id), data, mode=PutMode.OVERWRITE)
        return chunk_checksum(data) if self.settings.chunk_checksums else None

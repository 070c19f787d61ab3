"""A storage backend on the local filesystem with atomic, conditional writes.

Layout: an object with key ``a/b/c`` is the file ``<root>/a/b/c``. Bookkeeping files use names
starting with ``.icechunk-`` (reserved: keys may not contain such segments, listing skips them):

- ``.icechunk-tmp-<random>``: a write in progress, in the directory of its final key. Every write
  goes to such a file first and is then renamed into place, so a crashed writer never leaves a
  partial object under its final name (only a hidden temporary file, which
  :meth:`LocalFilesystemBackend.remove_stale_temporary_files` cleans up).

Durability is bought where it matters: plain overwrites (chunks, manifests, snapshots,
transaction logs — immutable objects) are not flushed one by one; a conditional write (a branch
or tag update, the commit point) first flushes the whole filesystem once (``syncfs``) if
anything was written since the last flush, then writes and ``fsync``s the ref and its
directory. After a power loss a ref therefore never points at objects that did not reach the
disk, for the price of two or three flushes per commit instead of one per object.
- ``.icechunk-lock-<name>``: a lock file, taken with ``fcntl.flock``, that makes the
  compare-and-swap of the key ``<name>`` in the same directory atomic across threads and
  processes on one machine (for a branch: ``refs/branch.<b>/.icechunk-lock-ref.json``). Locks of
  top-level keys (``config.yaml``) live in ``refs/branch.main/``, the folder of the one ref every
  repository keeps, so the top level of a repository holds only spec entries; and deleting a
  key deletes its lock file, so a deleted branch leaves no folder that upstream Icechunk (which
  lists the folders under ``refs/``) would take for a branch. A lock holder checks, once it has
  the lock, that the file it locked is still the one at the lock path (and starts over if not),
  which makes deleting lock files safe.

Create-if-absent is a hard link of the finished temporary file to the final name, which the
kernel refuses atomically when the name exists. Version tokens are ``<mtime_ns>-<inode>-<size>``
of the file. Each write stamps the file with a nanosecond modification time (and a
compare-and-swap makes it strictly larger than the replaced file's), so tokens change on every
write even when inode numbers are reused.

Overwrites and deletes of a key that has been compare-and-swapped before take its lock too, so
they serialise with concurrent compare-and-swaps of that key.
"""

from __future__ import annotations

import asyncio
import builtins
import errno
import os
import secrets
import stat
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from .._exceptions import ObjectNotFoundError, PreconditionFailedError, StorageError
from ._backend import (
    RESERVED_SEGMENT_PREFIX,
    ByteRange,
    Data,
    ObjectInfo,
    PutMode,
    StorageBackend,
    VersionedObject,
    validate_key,
    validate_prefix,
)
from ._files import acquire_lock, read_and_close, sync_filesystem, unlink_quietly, write_all

_T = TypeVar("_T")

_TMP_PREFIX = RESERVED_SEGMENT_PREFIX + "tmp-"
_LOCK_PREFIX = RESERVED_SEGMENT_PREFIX + "lock-"
#: Where top-level keys keep their lock files: a folder every repository has (``main``).
_TOP_LEVEL_LOCK_DIR = ("refs", "branch.main")
#: The lock folder of earlier versions (not written any more; skipped when cleaning up).
_OLD_LOCK_DIR = RESERVED_SEGMENT_PREFIX + "locks"
#: Reads of at most this many bytes run on the event loop thread: a thread hop costs more.
_INLINE_IO_LIMIT = 256 * 1024
#: How many listed objects one worker-thread round trip produces.
_LIST_BATCH = 1000
_MISSING_ERRNOS = (errno.ENOENT, errno.ENOTDIR, errno.EISDIR)
_NO_LINK_ERRNOS = (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV, errno.EMLINK)


class LocalFilesystemBackend(StorageBackend):
    """Objects stored as files under a root directory.

    Parameters
    ----------
    root
        The directory holding the objects; created on the first write.
    fsync
        Flush every object to disk before it becomes visible (default). Turning it off trades
        durability after power loss for speed; atomicity against crashes is kept either way.
    """

    def __init__(self, root: str | os.PathLike[str], *, fsync: bool = True) -> None:
        self._root = os.path.abspath(os.path.expanduser(os.fspath(root)))
        self._fsync = fsync
        self._unflushed = False

    @property
    def root(self) -> Path:
        """The root directory."""
        return Path(self._root)

    def describe(self) -> str:
        """A one-line human description."""
        return f"local filesystem storage at {self._root}"

    # --- paths and helpers -------------------------------------------------------------

    def _path(self, key: str) -> str:
        return os.path.join(self._root, *validate_key(key).split("/"))

    def _lock_path(self, key: str) -> str:
        directory, _, name = key.rpartition("/")
        parts = directory.split("/") if directory else _TOP_LEVEL_LOCK_DIR
        return os.path.join(self._root, *parts, _LOCK_PREFIX + name)

    def _wrap(self, action: str, key: str, error: OSError) -> StorageError:
        return StorageError(f"cannot {action} {key!r} in {self.describe()}: {error}")

    # --- reads ---------------------------------------------------------------------------

    def _open_for_read(self, key: str) -> tuple[int, os.stat_result]:
        path = self._path(key)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as error:
            if error.errno in _MISSING_ERRNOS:
                raise ObjectNotFoundError(
                    f"object not found: {key!r} in {self.describe()}"
                ) from None
            raise self._wrap("read", key, error) from error
        try:
            info = os.fstat(fd)
        except OSError as error:
            os.close(fd)
            raise self._wrap("read", key, error) from error
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            raise ObjectNotFoundError(f"object not found: {key!r} in {self.describe()}")
        return fd, info

    async def _read(self, key: str, byte_range: ByteRange | None) -> tuple[bytes, os.stat_result]:
        fd, info = self._open_for_read(key)
        start, stop = (0, info.st_size) if byte_range is None else byte_range.resolve(info.st_size)
        if stop - start <= _INLINE_IO_LIMIT:
            return read_and_close(fd, start, stop, key), info
        # The worker thread owns (and closes) the descriptor, even if this task is cancelled.
        return await asyncio.to_thread(read_and_close, fd, start, stop, key), info

    async def get(self, key: str, byte_range: ByteRange | None = None) -> bytes:
        """Return the object's bytes (or the requested range of them)."""
        data, _ = await self._read(key, byte_range)
        return data

    async def get_versioned(self, key: str) -> VersionedObject:
        """Return the whole object and its current version token."""
        data, info = await self._read(key, None)
        return VersionedObject(data, _version(info))

    async def exists(self, key: str) -> bool:
        """Whether an object exists under ``key``."""
        try:
            return stat.S_ISREG(os.stat(self._path(key)).st_mode)
        except OSError as error:
            if error.errno in _MISSING_ERRNOS:
                return False
            raise self._wrap("stat", key, error) from error

    # --- writes --------------------------------------------------------------------------

    async def _put(self, key: str, data: Data, mode: PutMode, if_match: str | None) -> str:
        path = self._path(key)
        if if_match is not None:
            return await self._in_thread(self._put_if_match, key, path, data, if_match)
        if mode is PutMode.CREATE:
            return await self._in_thread(self._put_create, key, path, data)
        if len(data) <= _INLINE_IO_LIMIT:
            return self._put_overwrite(key, path, data)
        return await self._in_thread(self._put_overwrite, key, path, data)

    async def _in_thread(self, function: Callable[..., _T], *args: object) -> _T:
        return await asyncio.to_thread(function, *args)

    def _flush_pending(self) -> None:
        """Make every earlier unflushed write durable before a commit point."""
        if self._fsync and self._unflushed:
            self._unflushed = False
            sync_filesystem(self._root)

    def _write_temporary(self, key: str, path: str, data: Data, *, durable: bool = True) -> str:
        """Write ``data`` to a new hidden file next to ``path``; return its name."""
        directory = os.path.dirname(path)
        temporary = os.path.join(directory, _TMP_PREFIX + secrets.token_hex(8))
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
        try:
            try:
                fd = os.open(temporary, flags, 0o666)
            except FileNotFoundError:
                os.makedirs(directory, exist_ok=True)
                fd = os.open(temporary, flags, 0o666)
        except OSError as error:
            raise self._wrap("write", key, error) from error
        try:
            try:
                write_all(fd, data)
                now = time.time_ns()
                os.utime(fd, ns=(now, now))
                if self._fsync and durable:
                    os.fsync(fd)
            finally:
                os.close(fd)
        except BaseException as error:
            unlink_quietly(temporary)
            if isinstance(error, OSError):
                raise self._wrap("write", key, error) from error
            raise
        return temporary

    def _put_overwrite(self, key: str, path: str, data: Data) -> str:
        temporary = self._write_temporary(key, path, data, durable=False)
        self._unflushed = True
        try:
            with self._lock(key, create=False) as locked:
                if locked:
                    _bump_mtime(temporary, path)
                version = _version(os.stat(temporary))
                os.replace(temporary, path)
        except BaseException as error:
            unlink_quietly(temporary)
            if isinstance(error, OSError):
                raise self._wrap("write", key, error) from error
            raise
        return version

    def _put_create(self, key: str, path: str, data: Data) -> str:
        self._flush_pending()
        temporary = self._write_temporary(key, path, data)
        try:
            version = _version(os.stat(temporary))
            try:
                os.link(temporary, path)
            except FileExistsError:
                raise PreconditionFailedError(f"object exists already: {key!r}") from None
            except OSError as error:
                if error.errno not in _NO_LINK_ERRNOS:
                    raise
                self._create_without_links(key, temporary, path)
            self._sync_directory(path)
            return version
        except OSError as error:
            raise self._wrap("create", key, error) from error
        finally:
            unlink_quietly(temporary)

    def _create_without_links(self, key: str, temporary: str, path: str) -> None:
        """Create-if-absent on filesystems without hard links: check and rename under the lock."""
        with self._lock(key, create=True, remove=True):
            if os.path.lexists(path):
                raise PreconditionFailedError(f"object exists already: {key!r}")
            os.replace(temporary, path)

    def _put_if_match(self, key: str, path: str, data: Data, if_match: str) -> str:
        self._flush_pending()
        temporary = self._write_temporary(key, path, data)
        try:
            with self._lock(key, create=True):
                try:
                    current = os.stat(path)
                except OSError as error:
                    if error.errno not in _MISSING_ERRNOS:
                        raise
                    unlink_quietly(self._lock_path(key))  # no key, no lock file (see above)
                    raise PreconditionFailedError(
                        f"object {key!r} changed: expected version {if_match!r}, "
                        "but it does not exist"
                    ) from None
                if not stat.S_ISREG(current.st_mode) or _version(current) != if_match:
                    raise PreconditionFailedError(
                        f"object {key!r} changed: expected version {if_match!r}, "
                        f"found {_version(current)!r}"
                    )
                _bump_mtime(temporary, path, current)
                version = _version(os.stat(temporary))
                os.replace(temporary, path)
            self._sync_directory(path)
            return version
        except OSError as error:
            raise self._wrap("write", key, error) from error
        finally:
            unlink_quietly(temporary)

    def _sync_directory(self, path: str) -> None:
        if not self._fsync:
            return
        fd = os.open(os.path.dirname(path), os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    @contextmanager
    def _lock(self, key: str, *, create: bool, remove: bool = False) -> Iterator[bool]:
        """Hold the key's lock; without ``create`` only if its lock file exists already.

        Yields whether the lock is held. With ``remove`` the lock file is deleted before the
        lock is released (holders that were waiting on it notice and start over).
        """
        lock_path = self._lock_path(key)
        fd = acquire_lock(lock_path, create)
        if fd is None:
            yield False
            return
        try:
            yield True
        finally:
            if remove:
                unlink_quietly(lock_path)
            os.close(fd)  # releases the flock

    # --- delete and list -----------------------------------------------------------------

    async def delete(self, keys: builtins.list[str]) -> None:
        """Delete the objects; missing keys are ignored."""
        paths = [(key, self._path(key)) for key in keys]
        if paths:
            await self._in_thread(self._delete_all, paths)

    def _delete_all(self, paths: builtins.list[tuple[str, str]]) -> None:
        for key, path in paths:
            try:
                with self._lock(key, create=False, remove=True):
                    os.unlink(path)
            except OSError as error:
                if error.errno not in _MISSING_ERRNOS:
                    raise self._wrap("delete", key, error) from error

    async def list(self, prefix: str = "") -> AsyncIterator[ObjectInfo]:
        """Yield every object whose key starts with ``prefix``.

        The directory walk runs in a worker thread, a batch of objects at a time.
        """
        validate_prefix(prefix)
        walker = self._walk(prefix)
        while True:
            batch = await asyncio.to_thread(_next_batch, walker, _LIST_BATCH)
            for info in batch:
                yield info
            if len(batch) < _LIST_BATCH:
                return

    def _walk(self, prefix: str) -> Iterator[ObjectInfo]:
        directory_key, _, name_prefix = prefix.rpartition("/")
        directory = os.path.join(self._root, *directory_key.split("/")) if directory_key else ""
        key_prefix = directory_key + "/" if directory_key else ""
        yield from self._walk_directory(directory or self._root, key_prefix, name_prefix)

    def _walk_directory(
        self, directory: str, key_prefix: str, name_prefix: str = ""
    ) -> Iterator[ObjectInfo]:
        try:
            entries = builtins.list(os.scandir(directory))
        except OSError as error:
            if error.errno in _MISSING_ERRNOS:
                return
            raise self._wrap("list", key_prefix or "/", error) from error
        for entry in entries:
            name = entry.name
            if name.startswith(RESERVED_SEGMENT_PREFIX) or not name.startswith(name_prefix):
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    yield from self._walk_directory(entry.path, key_prefix + name + "/")
                    continue
                info = entry.stat()
            except FileNotFoundError:
                continue  # deleted while we listed
            if stat.S_ISREG(info.st_mode):
                yield ObjectInfo(key_prefix + name, info.st_size, _mtime(info))

    # --- maintenance ---------------------------------------------------------------------

    async def remove_stale_temporary_files(self, older_than: timedelta = timedelta(hours=1)) -> int:
        """Delete temporary files that crashed writers left behind.

        Parameters
        ----------
        older_than
            Only files last modified longer ago than this are removed (a younger one may
            belong to a write in progress).

        Returns
        -------
        int
            How many files were removed.
        """
        return await asyncio.to_thread(self._remove_stale, time.time() - older_than.total_seconds())

    def _remove_stale(self, cutoff: float) -> int:
        removed = 0
        for directory, subdirectories, files in os.walk(self._root):
            subdirectories[:] = [d for d in subdirectories if d != _OLD_LOCK_DIR]
            for name in files:
                path = os.path.join(directory, name)
                try:
                    if name.startswith(_TMP_PREFIX) and os.stat(path).st_mtime < cutoff:
                        os.unlink(path)
                        removed += 1
                except FileNotFoundError:
                    continue
        return removed


# --- module helpers --------------------------------------------------------------------------


def _version(info: os.stat_result) -> str:
    return f"{info.st_mtime_ns}-{info.st_ino}-{info.st_size}"


def _mtime(info: os.stat_result) -> datetime:
    return datetime.fromtimestamp(info.st_mtime_ns / 1e9, tz=UTC)


def _bump_mtime(temporary: str, path: str, current: os.stat_result | None = None) -> None:
    """Make the new file's mtime strictly larger than the one it replaces (if any)."""
    if current is None:
        try:
            current = os.stat(path)
        except OSError:
            return
    mine = os.stat(temporary).st_mtime_ns
    if mine <= current.st_mtime_ns:
        stamp = current.st_mtime_ns + 1
        os.utime(temporary, ns=(stamp, stamp))


def _next_batch(iterator: Iterator[_T], size: int) -> builtins.list[_T]:
    batch: builtins.list[_T] = []
    for item in iterator:
        batch.append(item)
        if len(batch) >= size:
            break
    return batch

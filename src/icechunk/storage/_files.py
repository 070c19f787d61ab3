"""Operating-system file primitives of the local filesystem backend: exclusive locks,
whole writes and reads, filesystem sync."""

from __future__ import annotations

import builtins
import ctypes
import os
import sys

from .._exceptions import StorageError
from ._backend import Data

if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _lock_exclusive(fd: int) -> None:
        while True:
            try:
                msvcrt.locking(fd, msvcrt.LK_LOCK, 1)  # gives up after ~10 s
                return
            except OSError:
                continue

else:
    import fcntl

    def _lock_exclusive(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX)


def sync_filesystem(root: str) -> None:
    """Flush all dirty data of the filesystem holding ``root`` (``syncfs``, else ``sync``)."""
    try:
        fd = os.open(root, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        os.sync()
        return
    try:
        if _LIBC is None or _LIBC.syncfs(fd) != 0:
            os.sync()
    finally:
        os.close(fd)


def _load_libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc if hasattr(libc, "syncfs") else None
    except OSError:
        return None


_LIBC = _load_libc()


def write_all(fd: int, data: Data) -> None:
    view = memoryview(data).cast("B")
    while view:
        written = os.write(fd, view)
        view = view[written:]


def read_and_close(fd: int, start: int, stop: int, key: str) -> bytes:
    try:
        chunks: builtins.list[bytes] = []
        offset = start
        while offset < stop:
            chunk = os.pread(fd, stop - offset, offset)
            if not chunk:
                break  # truncated underneath us; cannot happen with atomic replaces
            chunks.append(chunk)
            offset += len(chunk)
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)
    except OSError as error:
        raise StorageError(f"cannot read {key!r}: {error}") from error
    finally:
        os.close(fd)


def acquire_lock(lock_path: str, create: bool) -> int | None:
    """Open and lock the lock file at ``lock_path``; None if it is missing and not ``create``.

    Once locked, the file must still be the one at ``lock_path``: a holder may have deleted it
    (or replaced it) meanwhile, and locking a deleted file excludes nobody, so start over.
    """
    flags = os.O_RDWR | os.O_CLOEXEC | (os.O_CREAT if create else 0)
    while True:
        try:
            fd = os.open(lock_path, flags, 0o666)
        except FileNotFoundError:
            if not create:
                return None
            os.makedirs(os.path.dirname(lock_path), exist_ok=True)
            continue
        try:
            _lock_exclusive(fd)
            if _same_file(fd, lock_path):
                return fd
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)


def _same_file(fd: int, path: str) -> bool:
    try:
        on_disk = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (on_disk.st_ino, on_disk.st_dev) == (held.st_ino, held.st_dev)


def unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass

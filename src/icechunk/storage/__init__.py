"""Where a repository's objects live: the :class:`Storage` object and its factory functions."""

from __future__ import annotations

from ._storage import Storage

__all__ = ["Storage", "in_memory_storage", "local_filesystem_storage"]


def in_memory_storage() -> Storage:
    """Create a Storage instance that saves data in memory.

    This Storage implementation is used for tests. Data will be lost after the process finishes,
    and can only be accesses through the Storage instance returned. Different instances don't
    share data.

    Pickling the Storage (or a repository using it) within one process gives a copy that shares
    the data while the original is alive; unpickled in another process it is an empty store of
    its own.
    """
    return Storage.new_in_memory()


def local_filesystem_storage(path: str) -> Storage:
    """Create a Storage instance that saves data in the local file system.

    This Storage instance is not recommended for production data

    Parameters
    ----------
    path
        The repository's root directory (created on the first write). A relative path is made
        absolute at once, so a pickled Storage names the same directory in every process.
    """
    return Storage.new_local_filesystem(path)

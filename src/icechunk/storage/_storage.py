"""The public :class:`Storage` object: a picklable description of where a repository lives.

Upstream's ``Storage`` is an opaque configuration object made by factory functions
(``in_memory_storage()``, ``local_filesystem_storage(path)``, ``s3_storage(...)``...). Ours holds
a small, picklable *spec* of the location and builds the byte-level
:class:`~icechunk.storage._backend.StorageBackend` from it on first use.

Pickling
--------
- Local filesystem storage pickles as its (absolute) path: an unpickled copy in any process on
  the same machine sees the same objects.
- In-memory storage pickles as a reference (a random id) into a process-wide registry. Within
  one process an unpickled copy shares the objects of the original, as long as the original (or
  another copy) is still alive. In another process, or once every copy is gone, the id names a
  new, empty store of its own (shared by the copies unpickled there).
"""

from __future__ import annotations

import abc
import threading
import uuid
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._backend import StorageBackend
from ._local import LocalFilesystemBackend
from ._memory import MemoryBackend

if TYPE_CHECKING:
    from collections.abc import Callable


class _StorageSpec(abc.ABC):
    """A picklable description of a storage location that can build its backend."""

    @abc.abstractmethod
    def make_backend(self) -> StorageBackend:
        """Build the backend this spec describes."""

    @abc.abstractmethod
    def describe(self) -> str:
        """The text shown inside ``repr(Storage)``."""

    @property
    def build_eagerly(self) -> bool:
        """Whether a Storage should build its backend at once (to keep shared state alive)."""
        return False


_memory_registry: weakref.WeakValueDictionary[str, MemoryBackend] = weakref.WeakValueDictionary()
_memory_registry_lock = threading.Lock()


@dataclass(frozen=True)
class _InMemorySpec(_StorageSpec):
    token: str

    def make_backend(self) -> StorageBackend:
        with _memory_registry_lock:
            backend = _memory_registry.get(self.token)
            if backend is None:
                backend = MemoryBackend(self.token)
                _memory_registry[self.token] = backend
            return backend

    def describe(self) -> str:
        return f"InMemory(id={self.token})"

    @property
    def build_eagerly(self) -> bool:
        return True


@dataclass(frozen=True)
class _LocalFilesystemSpec(_StorageSpec):
    path: str

    def make_backend(self) -> StorageBackend:
        return LocalFilesystemBackend(self.path)

    def describe(self) -> str:
        return f"LocalFileSystem(path={self.path!r})"


@dataclass(frozen=True)
class _BackendSpec(_StorageSpec):
    """Wraps an already built backend (tests, custom backends); pickles the backend itself."""

    backend: StorageBackend

    def make_backend(self) -> StorageBackend:
        return self.backend

    def describe(self) -> str:
        return self.backend.describe()


class Storage:
    """Storage configuration for an IcechunkStore

    Currently supports memory, filesystem S3, azure blob, and google cloud storage backends.
    Use the following methods to create a Storage object with the desired backend.

    Ex:
    ```
    storage = icechunk.in_memory_storage()
    storage = icechunk.local_filesystem_storage("/path/to/root")
    storage = icechunk.s3_storage("bucket", "prefix", ...)
    storage = icechunk.gcs_storage("bucket", "prefix", ...)
    storage = icechunk.azure_storage("container", "prefix", ...)
    ```
    """

    __slots__ = ("__weakref__", "_backend_instance", "_backend_lock", "_spec")

    def __init__(self, spec: _StorageSpec, backend: StorageBackend | None = None) -> None:
        if not isinstance(spec, _StorageSpec):
            raise TypeError(
                "Storage objects are created by the factory functions, for example "
                "icechunk.in_memory_storage() or icechunk.local_filesystem_storage(path)"
            )
        self._spec = spec
        if backend is None and spec.build_eagerly:
            # In-memory storage: holding the backend keeps it alive in the weak registry.
            backend = spec.make_backend()
        self._backend_instance = backend
        self._backend_lock = threading.Lock()

    # --- factories (upstream's classmethods) ---------------------------------------------

    @classmethod
    def new_in_memory(cls) -> Storage:
        """Create a Storage that keeps its objects in this process's memory."""
        return cls(_InMemorySpec(uuid.uuid4().hex))

    @classmethod
    def new_local_filesystem(cls, path: str) -> Storage:
        """Create a Storage that keeps its objects as files under ``path``."""
        return cls(_LocalFilesystemSpec(str(LocalFilesystemBackend(path).root)))

    @classmethod
    def _from_backend(cls, backend: StorageBackend) -> Storage:
        """Wrap an existing backend (it must itself be picklable for the Storage to pickle)."""
        return cls(_BackendSpec(backend), backend)

    # --- behaviour -----------------------------------------------------------------------

    def _backend(self) -> StorageBackend:
        """Return the byte-level backend, building it on first use (cached)."""
        backend = self._backend_instance
        if backend is None:
            with self._backend_lock:
                backend = self._backend_instance
                if backend is None:
                    backend = self._spec.make_backend()
                    self._backend_instance = backend
        return backend

    def default_settings(self) -> Any:
        """Return the default ``StorageSettings`` for this storage backend."""
        from .._config import StorageSettings  # type: ignore[import-not-found,unused-ignore]

        settings: Any = StorageSettings()
        return settings

    def __repr__(self) -> str:
        return f"Storage({self._spec.describe()})"

    def __reduce__(self) -> tuple[Callable[..., Storage], tuple[Any, ...]]:
        return (_restore, (self._spec,))


def _restore(spec: _StorageSpec) -> Storage:
    return Storage(spec)

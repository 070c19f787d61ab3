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

import dataclasses
import threading
import uuid
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from .._config import (
    ObjectStoreConfig,
    S3Options,
    StorageConcurrencySettings,
    StorageRetriesSettings,
    StorageSettings,
    defaults,
)
from ._backend import StorageBackend
from ._local import LocalFilesystemBackend
from ._memory import MemoryBackend
from ._specs import (
    AzureSpec,
    GcsSpec,
    HttpSpec,
    S3Spec,
    effective_retries,
    spec_for,
    with_retries,
)

if TYPE_CHECKING:
    from collections.abc import Callable


@runtime_checkable
class _StorageSpec(Protocol):
    """A picklable description of a storage location that can build its backend.

    A spec may also have a true ``build_eagerly`` attribute: the Storage then builds the
    backend at once (in-memory storage, whose data lives only as long as its backend).
    """

    def make_backend(self) -> StorageBackend:
        """Build the backend this spec describes."""
        ...

    def describe(self) -> str:
        """The text shown inside ``repr(Storage)``."""
        ...


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

    def default_settings(self) -> StorageSettings:
        return _no_retry_settings(ideal_request_size=1)

    def upstream_repr(self) -> str:
        return "ObjectStorage(backend=InMemoryObjectStoreBackend)"

    build_eagerly = True


@dataclass(frozen=True)
class _LocalFilesystemSpec(_StorageSpec):
    path: str

    def make_backend(self) -> StorageBackend:
        return LocalFilesystemBackend(self.path)

    def describe(self) -> str:
        return f"LocalFileSystem(path={self.path!r})"

    def default_settings(self) -> StorageSettings:
        return _no_retry_settings(ideal_request_size=4 * 1024)

    def upstream_repr(self) -> str:
        return f"ObjectStorage(backend=LocalFileSystemObjectStoreBackend(path={self.path}))"


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

    __slots__ = (
        "__weakref__",
        "_backend_instance",
        "_backend_lock",
        "_backends_by_retries",
        "_spec",
    )

    def __init__(self, spec: _StorageSpec, backend: StorageBackend | None = None) -> None:
        if not isinstance(spec, _StorageSpec):
            raise TypeError(
                "Storage objects are created by the factory functions, for example "
                "icechunk.in_memory_storage() or icechunk.local_filesystem_storage(path)"
            )
        self._spec = spec
        if backend is None and getattr(spec, "build_eagerly", False):
            # In-memory storage: holding the backend keeps it alive in the weak registry.
            backend = spec.make_backend()
        self._backend_instance = backend
        self._backend_lock = threading.Lock()
        self._backends_by_retries: dict[tuple[Any, ...], StorageBackend] = {}

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
    def new_s3(
        cls,
        config: S3Options,
        bucket: str,
        prefix: str | None,
        credentials: Any = None,
    ) -> Storage:
        """Create a Storage on S3."""
        return cls(spec_for(ObjectStoreConfig.S3(config), bucket, prefix, credentials))

    #: Create a Storage on S3 through the generic object store client (same as ``new_s3``).
    new_s3_object_store = new_s3

    @classmethod
    def new_tigris(
        cls,
        config: S3Options,
        bucket: str,
        prefix: str | None,
        use_weak_consistency: bool,
        credentials: Any = None,
    ) -> Storage:
        """Create a Storage on Tigris; weak consistency makes it read-only."""
        store = ObjectStoreConfig.Tigris(config)
        read_only = bool(use_weak_consistency)
        return cls(spec_for(store, bucket, prefix, credentials, read_only=read_only))

    @classmethod
    def new_gcs(
        cls,
        bucket: str,
        prefix: str | None,
        credentials: Any = None,
        *,
        config: dict[str, str] | None = None,
    ) -> Storage:
        """Create a Storage on Google Cloud Storage."""
        return cls(spec_for(ObjectStoreConfig.Gcs(config), bucket, prefix, credentials))

    @classmethod
    def new_r2(
        cls,
        bucket: str | None,
        prefix: str | None,
        account_id: str | None,
        credentials: Any = None,
        *,
        config: S3Options,
    ) -> Storage:
        """Create a Storage on Cloudflare R2 (``account_id`` or an endpoint url is needed)."""
        if not bucket:
            raise ValueError("r2_storage needs a bucket")
        options = config._copy()
        if not options.endpoint_url:
            if not account_id:
                raise ValueError("r2_storage needs either account_id or endpoint_url")
            options.endpoint_url = f"https://{account_id}.r2.cloudflarestorage.com"
        options.region = options.region or "auto"
        spec = spec_for(ObjectStoreConfig.S3Compatible(options), bucket, prefix, credentials)
        assert isinstance(spec, S3Spec)
        return cls(dataclasses.replace(spec, flavor="r2"))

    @classmethod
    def new_azure_blob(
        cls,
        account: str,
        container: str,
        prefix: str,
        credentials: Any = None,
        *,
        config: dict[str, str] | None = None,
    ) -> Storage:
        """Create a Storage on Azure Blob Storage."""
        store = ObjectStoreConfig.Azure({"account": account, **(config or {})})
        return cls(spec_for(store, container, prefix, credentials))

    @classmethod
    def _new_http(cls, url: str, config: dict[str, str] | None = None) -> Storage:
        """Create a read-only Storage over HTTP(S) (not in upstream 1.1; for virtual chunks)."""
        return cls(spec_for(ObjectStoreConfig.Http(config), url, None))

    @classmethod
    def _from_backend(cls, backend: StorageBackend) -> Storage:
        """Wrap an existing backend (it must itself be picklable for the Storage to pickle)."""
        return cls(_BackendSpec(backend), backend)

    # --- behaviour -----------------------------------------------------------------------

    def _backend(self, retries: StorageRetriesSettings | None = None) -> StorageBackend:
        """Return the byte-level backend, building it on first use (cached).

        ``retries`` (a repository's ``config.storage.retries``) gives object store backends
        their retry behaviour: a backend is built (and cached) per distinct setting. Backends
        without retries (memory, local filesystem, wrapped backends) ignore it.
        """
        spec = self._spec
        if retries is not None and isinstance(spec, S3Spec | GcsSpec | AzureSpec | HttpSpec):
            effective = effective_retries(retries)
            key = effective._key()
            if key != spec.retries._key():
                with self._backend_lock:
                    backend = self._backends_by_retries.get(key)
                    if backend is None:
                        backend = with_retries(spec, effective).make_backend()
                        self._backends_by_retries[key] = backend
                return backend
        backend = self._backend_instance
        if backend is None:
            with self._backend_lock:
                backend = self._backend_instance
                if backend is None:
                    backend = self._spec.make_backend()
                    self._backend_instance = backend
        return backend

    def default_settings(self) -> StorageSettings:
        """The settings this storage uses where the repository config sets none.

        Returns
        -------
        StorageSettings
            A new object: concurrency and retries filled in (in-memory and local storage
            never retry), the rest unset (the engine's defaults apply).
        """
        make = getattr(self._spec, "default_settings", None)
        if make is not None:
            return make()  # type: ignore[no-any-return]
        return StorageSettings(
            concurrency=StorageConcurrencySettings(
                max_concurrent_requests_for_object=defaults.MAX_CONCURRENT_REQUESTS_FOR_OBJECT,
                ideal_concurrent_request_size=defaults.IDEAL_CONCURRENT_REQUEST_SIZE,
            ),
            retries=effective_retries(None),
        )

    def __repr__(self) -> str:
        upstream_repr = getattr(self._spec, "upstream_repr", None)  # as upstream prints it
        return upstream_repr() if upstream_repr is not None else f"Storage({self._spec.describe()})"

    def __reduce__(self) -> tuple[Callable[..., Storage], tuple[Any, ...]]:
        return (_restore, (self._spec,))


def _no_retry_settings(ideal_request_size: int) -> StorageSettings:
    """Default settings of storage that is never worth retrying (memory, local disk)."""
    return StorageSettings(
        concurrency=StorageConcurrencySettings(
            max_concurrent_requests_for_object=5,
            ideal_concurrent_request_size=ideal_request_size,
        ),
        retries=StorageRetriesSettings(max_tries=1, initial_backoff_ms=0, max_backoff_ms=0),
    )


def _restore(spec: _StorageSpec) -> Storage:
    return Storage(spec)

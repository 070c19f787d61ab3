"""A storage backend on cloud object stores (S3 and compatibles, GCS, Azure, HTTP) via obstore.

Conditional writes map to the stores' own preconditions: create-if-absent is
``If-None-Match: *`` (obstore ``mode="create"``), compare-and-swap is ``If-Match: <etag>``
(obstore ``mode={"e_tag": ..., "version": ...}``). Version tokens are the object's ETag, plus
its version id where the store has versioning (``"<etag>\\n<version>"``).

Conditional puts are stamped with a write id, read back after a failure and retried when
they did not land: see :mod:`._readback`.
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Callable
from typing import Any

import obstore
from obstore import exceptions as obstore_errors

from .._config import StorageRetriesSettings
from .._exceptions import (
    ObjectNotFoundError,
    ReadOnlyStorageError,
    StorageAuthError,
    StorageError,
)
from ._backend import (
    ByteRange,
    Data,
    ObjectInfo,
    PutMode,
    VersionedObject,
    validate_key,
    validate_prefix,
)
from ._readback import (
    WRITE_ID_ATTRIBUTE,
    AmbiguousWriteError,
    StampedBackend,
    precondition_failed,
)

_LIST_CHUNK = 1000
_RANGE_NOT_SATISFIABLE = ("416", "Range Not Satisfiable", "InvalidRange")


def encode_version(e_tag: str | None, version: str | None) -> str:
    """Combine an ETag and an optional version id into one version token."""
    if e_tag is None:
        raise StorageError("the object store returned no ETag; conditional writes need one")
    return e_tag if version is None else f"{e_tag}\n{version}"


def decode_version(token: str) -> dict[str, str]:
    """Turn a version token back into obstore's ``UpdateVersion`` (no ``None`` values)."""
    e_tag, _, version = token.partition("\n")
    update = {"e_tag": e_tag}
    if version:
        update["version"] = version
    return update


class ObjectStoreBackend(StampedBackend):
    """Objects in a cloud object store, reached through an obstore store.

    Parameters
    ----------
    store
        The obstore store (its prefix is the repository root).
    description
        The text :meth:`describe` returns.
    read_only
        Refuse puts and deletes (for example HTTP stores).
    supports_suffix_ranges
        Whether the store serves "last n bytes" ranges; if not, suffix ranges cost one extra
        metadata request.
    retries
        The effective retry setting: how often a conditional put that did not land is sent
        again (obstore retries the other requests itself, configured from the same setting).
    """

    def __init__(
        self,
        store: Any,
        description: str,
        *,
        read_only: bool = False,
        supports_suffix_ranges: bool = True,
        retries: StorageRetriesSettings,
    ) -> None:
        self._store = store
        self._retries = retries
        self._description = description
        self._read_only = read_only
        self._supports_suffix_ranges = supports_suffix_ranges

    @property
    def can_write(self) -> bool:
        """Whether puts and deletes are possible."""
        return not self._read_only

    @property
    def store(self) -> Any:
        """The underlying obstore store."""
        return self._store

    def describe(self) -> str:
        """A one-line human description."""
        return self._description

    # --- errors --------------------------------------------------------------------------

    def _error(self, action: str, key: str, error: Exception) -> StorageError:
        text = f"cannot {action} {key!r} in {self._description}: {error}"
        if isinstance(
            error, obstore_errors.PermissionDeniedError | obstore_errors.UnauthenticatedError
        ):
            return StorageAuthError(text)
        return StorageError(text)

    def _not_found(self, key: str) -> ObjectNotFoundError:
        return ObjectNotFoundError(f"object not found: {key!r} in {self._description}")

    def _check_writable(self, key: str) -> None:
        if self._read_only:
            raise ReadOnlyStorageError(f"cannot delete {key!r}: {self._description} is read-only")

    # --- reads ---------------------------------------------------------------------------

    async def get(self, key: str, byte_range: ByteRange | None = None) -> bytes:
        """Return the object's bytes (or the requested range of them)."""
        validate_key(key)
        if byte_range is None:
            return (await self._get_whole(key))[0]
        if byte_range.end is not None and byte_range.end <= byte_range.start:
            await self._head(key)
            return b""
        if byte_range.is_suffix and not self._supports_suffix_ranges:
            size = (await self._head(key))["size"]
            start, stop = byte_range.resolve(size)
            if start == stop:
                return b""
            byte_range = ByteRange(start, stop)
        try:
            result = await obstore.get_async(
                self._store, key, options={"range": _range_option(byte_range)}
            )
            return bytes(await result.bytes_async())
        except FileNotFoundError:
            raise self._not_found(key) from None
        except Exception as error:
            if any(marker in str(error) for marker in _RANGE_NOT_SATISFIABLE):
                await self._head(key)  # missing -> ObjectNotFoundError
                return b""  # the range starts at or after the end of the object
            raise self._error("read", key, error) from error

    async def _get_whole(self, key: str) -> tuple[bytes, dict[str, Any], dict[str, Any]]:
        try:
            result = await obstore.get_async(self._store, key)
            data = bytes(await result.bytes_async())
        except FileNotFoundError:
            raise self._not_found(key) from None
        except Exception as error:
            raise self._error("read", key, error) from error
        return data, dict(result.meta), dict(result.attributes)

    async def _head(self, key: str) -> dict[str, Any]:
        try:
            return dict(await obstore.head_async(self._store, key))
        except FileNotFoundError:
            raise self._not_found(key) from None
        except Exception as error:
            raise self._error("read", key, error) from error

    async def get_versioned(self, key: str) -> VersionedObject:
        """Return the whole object and its current version token."""
        validate_key(key)
        data, meta, _ = await self._get_whole(key)
        return VersionedObject(data, encode_version(meta.get("e_tag"), meta.get("version")))

    async def exists(self, key: str) -> bool:
        """Whether an object exists under ``key``."""
        validate_key(key)
        try:
            await self._head(key)
        except ObjectNotFoundError:
            return False
        return True

    # --- writes --------------------------------------------------------------------------

    async def _put_once(
        self, key: str, data: Data, mode: PutMode, if_match: str | None, write_id: str | None
    ) -> str:
        if write_id is None:
            try:
                result = await obstore.put_async(self._store, key, data)
            except Exception as error:
                raise self._error("write", key, error) from error
            return encode_version(result["e_tag"], result.get("version"))
        put_mode: Any = "create" if if_match is None else decode_version(if_match)
        try:
            result = await obstore.put_async(
                self._store,
                key,
                data,
                mode=put_mode,
                attributes={WRITE_ID_ATTRIBUTE: write_id},
                use_multipart=False,
            )
        except (
            obstore_errors.AlreadyExistsError,
            obstore_errors.PreconditionError,
            FileNotFoundError,
        ):
            raise precondition_failed(key, self._description, if_match) from None
        except Exception as error:
            failure = self._error("write", key, error)
            if isinstance(failure, StorageAuthError):
                raise failure from error
            raise AmbiguousWriteError(str(failure)) from error
        return encode_version(result["e_tag"], result.get("version"))

    async def _written_by(self, key: str, stamp: str) -> str | None:
        """The object's version if its current content is the write stamped ``stamp``."""
        try:
            _, meta, attributes = await self._get_whole(key)
        except StorageError:
            return None
        if attributes.get(WRITE_ID_ATTRIBUTE) != stamp:
            return None
        return encode_version(meta.get("e_tag"), meta.get("version"))

    # --- delete and list -----------------------------------------------------------------

    async def delete(self, keys: builtins.list[str]) -> None:
        """Delete the objects; missing keys are ignored."""
        for key in keys:
            validate_key(key)
        if not keys:
            return
        self._check_writable(keys[0])
        try:
            await obstore.delete_async(self._store, keys)
        except FileNotFoundError:
            # some stores refuse to delete missing objects: go one by one
            for key in keys:
                await self._delete_one(key)
        except Exception as error:
            raise self._error("delete", keys[0], error) from error

    async def _delete_one(self, key: str) -> None:
        try:
            await obstore.delete_async(self._store, key)
        except FileNotFoundError:
            pass
        except Exception as error:
            raise self._error("delete", key, error) from error

    async def list(self, prefix: str = "") -> AsyncIterator[ObjectInfo]:
        """Yield every object whose key starts with ``prefix``.

        Object store listings are by directory; a prefix ending inside a name lists its
        directory and filters.
        """
        validate_prefix(prefix)
        directory = prefix.rpartition("/")[0]
        stream = obstore.list(self._store, directory or None, chunk_size=_LIST_CHUNK)
        try:
            async for batch in stream:
                for meta in batch:
                    path = meta["path"]
                    if path.startswith(prefix):
                        yield ObjectInfo(path, meta["size"], meta["last_modified"])
        except Exception as error:
            raise self._error("list", prefix or "/", error) from error


def _range_option(byte_range: ByteRange) -> Any:
    if byte_range.is_suffix:
        return {"suffix": -byte_range.start}
    if byte_range.end is None:
        return {"offset": byte_range.start}
    return (byte_range.start, byte_range.end)


def build_store(factory: Callable[..., Any], /, **kwargs: Any) -> Any:
    """Call an obstore store constructor, turning configuration errors into ``StorageError``."""
    try:
        return factory(**kwargs)
    except Exception as error:
        raise StorageError(f"invalid object store configuration: {error}") from error

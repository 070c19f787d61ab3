"""An in-memory storage backend: a dict guarded by a lock (for tests and scratch repositories)."""

from __future__ import annotations

import builtins
import itertools
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

from .._exceptions import ObjectNotFoundError, PreconditionFailedError
from ._backend import (
    ByteRange,
    Data,
    ObjectInfo,
    PutMode,
    StorageBackend,
    VersionedObject,
    validate_key,
    validate_prefix,
)


@dataclass(frozen=True)
class _Entry:
    data: bytes
    version: str
    last_modified: datetime


class MemoryBackend(StorageBackend):
    """Objects kept in a process-local dict.

    Every operation runs under one ``threading.Lock`` and never awaits while holding it, so
    the backend is safe to use from several event loops and threads at once. Version tokens
    are the decimal value of a per-backend counter, so every write gets a new one.

    Parameters
    ----------
    name
        A label shown by :meth:`describe`.
    """

    def __init__(self, name: str = "") -> None:
        self._name = name
        self._objects: dict[str, _Entry] = {}
        self._lock = threading.Lock()
        self._counter = itertools.count(1)

    def describe(self) -> str:
        """A one-line human description."""
        suffix = f" {self._name}" if self._name else ""
        return f"in-memory storage{suffix}"

    def _entry(self, key: str) -> _Entry:
        validate_key(key)
        with self._lock:
            entry = self._objects.get(key)
        if entry is None:
            raise ObjectNotFoundError(f"object not found: {key!r} in {self.describe()}")
        return entry

    async def get(self, key: str, byte_range: ByteRange | None = None) -> bytes:
        """Return the object's bytes (or the requested range of them)."""
        data = self._entry(key).data
        if byte_range is None:
            return data
        start, stop = byte_range.resolve(len(data))
        return data[start:stop]

    async def get_versioned(self, key: str) -> VersionedObject:
        """Return the whole object and its current version token."""
        entry = self._entry(key)
        return VersionedObject(entry.data, entry.version)

    async def _put(self, key: str, data: Data, mode: PutMode, if_match: str | None) -> str:
        payload = bytes(data)
        with self._lock:
            current = self._objects.get(key)
            if mode is PutMode.CREATE and current is not None:
                raise PreconditionFailedError(f"object exists already: {key!r}")
            if if_match is not None and (current is None or current.version != if_match):
                raise PreconditionFailedError(
                    f"object {key!r} changed: expected version {if_match!r}, "
                    f"found {None if current is None else current.version!r}"
                )
            version = str(next(self._counter))
            self._objects[key] = _Entry(payload, version, datetime.now(UTC))
        return version

    async def list(self, prefix: str = "") -> AsyncIterator[ObjectInfo]:
        """Yield every object whose key starts with ``prefix``."""
        validate_prefix(prefix)
        with self._lock:
            items = [(k, e) for k, e in self._objects.items() if k.startswith(prefix)]
        for key, entry in items:
            yield ObjectInfo(key, len(entry.data), entry.last_modified)

    async def delete(self, keys: builtins.list[str]) -> None:
        """Delete the objects; missing keys are ignored."""
        for key in keys:
            validate_key(key)
        with self._lock:
            for key in keys:
                self._objects.pop(key, None)

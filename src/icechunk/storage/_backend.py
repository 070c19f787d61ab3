"""The byte-level storage interface every backend implements.

A backend knows nothing of the Icechunk format: it stores opaque objects under ``/``-separated
keys relative to the repository root. Conditional writes are what make commits safe:
``put(..., mode=PutMode.CREATE)`` succeeds only if the key is absent and
``put(..., if_match=version)`` only if the object still has that version.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class ByteRange:
    """A byte range: ``[start, end)`` when ``end`` is set, else from ``start`` to the end.

    A negative ``start`` with no ``end`` means the last ``-start`` bytes (a suffix).
    """

    start: int
    end: int | None = None


class PutMode(enum.Enum):
    """How a put treats an existing object."""

    OVERWRITE = "overwrite"
    CREATE = "create"  # fail with PreconditionFailedError if the key exists


@dataclass(frozen=True)
class VersionedObject:
    """Bytes of an object together with the version token a later ``if_match`` put names."""

    data: bytes
    version: str


@dataclass(frozen=True)
class ObjectInfo:
    """One listed object."""

    key: str
    size: int
    last_modified: datetime  # timezone-aware, UTC


class StorageBackend(abc.ABC):
    """Abstract byte store. All methods are coroutines; keys never start with ``/``.

    Errors: a missing key raises ``ObjectNotFoundError``; a failed condition raises
    ``PreconditionFailedError``; any other failure ``StorageError`` (or a subclass).
    """

    @property
    def can_write(self) -> bool:
        """Whether puts and deletes are possible."""
        return True

    @abc.abstractmethod
    async def get(self, key: str, byte_range: ByteRange | None = None) -> bytes:
        """Return the object's bytes (or the requested range of them)."""

    @abc.abstractmethod
    async def get_versioned(self, key: str) -> VersionedObject:
        """Return the whole object and its current version token."""

    @abc.abstractmethod
    async def put(
        self,
        key: str,
        data: bytes,
        *,
        mode: PutMode = PutMode.OVERWRITE,
        if_match: str | None = None,
    ) -> str:
        """Write the object atomically and return its new version token.

        With ``if_match`` the write happens only if the current version equals it.
        """

    @abc.abstractmethod
    def list(self, prefix: str = "") -> AsyncIterator[ObjectInfo]:
        """Yield every object whose key starts with ``prefix`` (in no particular order)."""

    @abc.abstractmethod
    async def delete(self, keys: list[str]) -> None:
        """Delete the objects; missing keys are ignored."""

    async def exists(self, key: str) -> bool:
        """Whether an object exists under ``key``."""
        from .._exceptions import ObjectNotFoundError

        try:
            await self.get(key, ByteRange(0, 0))
        except ObjectNotFoundError:
            return False
        return True

    @abc.abstractmethod
    def describe(self) -> str:
        """A one-line human description (used in ``repr`` and error messages)."""

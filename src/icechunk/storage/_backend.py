"""The byte-level storage interface every backend implements.

A backend knows nothing of the Icechunk format: it stores opaque objects under ``/``-separated
keys relative to the repository root. Conditional writes are what make commits safe:
``put(..., mode=PutMode.CREATE)`` succeeds only if the key is absent and
``put(..., if_match=version)`` only if the object still has that version.

Keys are validated the same way by every backend (:func:`validate_key`): a key is a relative
``/``-separated path of non-empty segments, without ``.``/``..`` segments, backslashes or NUL
characters, and no segment may start with the reserved prefix ``.icechunk-`` (the local
filesystem backend keeps its temporary and lock files under such names).
"""

from __future__ import annotations

import abc
import builtins
import enum
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import TypeAlias

from .._exceptions import InvalidKeyError, ObjectNotFoundError, ReadOnlyStorageError

#: Bytes-like payloads accepted by :meth:`StorageBackend.put` (no copy is made where avoidable).
Data: TypeAlias = bytes | bytearray | memoryview

#: Key segments starting with this prefix are reserved for backend bookkeeping files.
RESERVED_SEGMENT_PREFIX = ".icechunk-"


@dataclass(frozen=True)
class ByteRange:
    """A byte range: ``[start, end)`` when ``end`` is set, else from ``start`` to the end.

    A negative ``start`` with no ``end`` means the last ``-start`` bytes (a suffix).
    Ranges are clamped to the object like Python slices: a range reaching past the end
    returns the bytes that exist, a range starting past the end returns ``b""``.

    Raises
    ------
    ValueError
        If ``end`` is set together with a negative ``start``, or ``end < start``.
    """

    start: int
    end: int | None = None

    def __post_init__(self) -> None:
        if self.end is not None:
            if self.start < 0:
                raise ValueError(f"a suffix range cannot have an end: {self}")
            if self.end < self.start:
                raise ValueError(f"byte range ends before it starts: {self}")

    @property
    def is_suffix(self) -> bool:
        """Whether this range means the last ``-start`` bytes."""
        return self.start < 0

    def resolve(self, size: int) -> tuple[int, int]:
        """Return the concrete ``(start, stop)`` offsets within an object of ``size`` bytes.

        Parameters
        ----------
        size
            The object's length in bytes.

        Returns
        -------
        tuple[int, int]
            Offsets with ``0 <= start <= stop <= size``.
        """
        if self.start < 0:
            return max(size + self.start, 0), size
        start = min(self.start, size)
        stop = size if self.end is None else min(self.end, size)
        return start, max(start, stop)


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


def validate_key(key: str) -> str:
    """Check that ``key`` is a valid object key and return it.

    Parameters
    ----------
    key
        A ``/``-separated key relative to the storage root.

    Returns
    -------
    str
        The same key.

    Raises
    ------
    InvalidKeyError
        If the key is empty, absolute, has empty, ``.`` or ``..`` segments, contains a
        backslash or NUL, or uses the reserved ``.icechunk-`` segment prefix.
    """
    if not isinstance(key, str) or not key:
        raise InvalidKeyError(f"invalid storage key {key!r}: keys must be non-empty strings")
    _check_segments(key, key.split("/"), what="key")
    return key


def validate_prefix(prefix: str) -> str:
    """Check a listing prefix and return it.

    A prefix is either empty, or a key, or a key followed by ``/``, or the first characters
    of a key (``"refs/branch."``); it obeys the same rules as :func:`validate_key`.

    Raises
    ------
    InvalidKeyError
        If the prefix could never be the beginning of a valid key.
    """
    if not isinstance(prefix, str):
        raise InvalidKeyError(f"invalid storage prefix {prefix!r}: prefixes must be strings")
    if not prefix:
        return prefix
    segments = prefix.split("/")
    if segments[-1] == "":
        segments = segments[:-1]
    _check_segments(prefix, segments, what="prefix", last_may_be_partial=True)
    return prefix


def _check_segments(
    text: str, segments: list[str], *, what: str, last_may_be_partial: bool = False
) -> None:
    if text.startswith("/"):
        raise InvalidKeyError(f"invalid storage {what} {text!r}: must be relative (no leading /)")
    if "\\" in text or "\x00" in text:
        raise InvalidKeyError(f"invalid storage {what} {text!r}: contains a backslash or NUL")
    for index, segment in enumerate(segments):
        partial = last_may_be_partial and index == len(segments) - 1
        if segment == "":
            raise InvalidKeyError(f"invalid storage {what} {text!r}: empty path segment")
        if segment in (".", "..") and not partial:
            raise InvalidKeyError(f"invalid storage {what} {text!r}: '.' or '..' segment")
        if segment == ".." and partial:
            raise InvalidKeyError(f"invalid storage {what} {text!r}: '..' segment")
        if segment.startswith(RESERVED_SEGMENT_PREFIX):
            raise InvalidKeyError(
                f"invalid storage {what} {text!r}: segments starting with "
                f"{RESERVED_SEGMENT_PREFIX!r} are reserved"
            )


class StorageBackend(abc.ABC):
    """Abstract byte store. All methods are coroutines; keys never start with ``/``.

    Errors: a missing key raises ``ObjectNotFoundError``; a failed condition raises
    ``PreconditionFailedError``; an invalid key ``InvalidKeyError``; a write to a read-only
    backend ``ReadOnlyStorageError``; any other failure ``StorageError`` (or a subclass).
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

    async def put(
        self,
        key: str,
        data: Data,
        *,
        mode: PutMode = PutMode.OVERWRITE,
        if_match: str | None = None,
    ) -> str:
        """Write the object atomically and return its new version token.

        With ``mode=PutMode.CREATE`` the write happens only if the key is absent; with
        ``if_match`` only if the object exists and its current version equals it. Either
        failed condition raises ``PreconditionFailedError``. Combining both is an error
        (``ValueError``). Backends implement :meth:`_put`; this method validates first.
        """
        validate_key(key)
        if mode is PutMode.CREATE and if_match is not None:
            raise ValueError("a put cannot combine mode=PutMode.CREATE with if_match")
        if not self.can_write:
            raise ReadOnlyStorageError(f"cannot write {key!r}: {self.describe()} is read-only")
        return await self._put(key, data, mode, if_match)

    @abc.abstractmethod
    async def _put(self, key: str, data: Data, mode: PutMode, if_match: str | None) -> str:
        """Write a validated object (the arguments mean what they mean in :meth:`put`)."""

    @abc.abstractmethod
    def list(self, prefix: str = "") -> AsyncIterator[ObjectInfo]:
        """Yield every object whose key starts with ``prefix`` (in no particular order)."""

    @abc.abstractmethod
    async def delete(self, keys: builtins.list[str]) -> None:
        """Delete the objects; missing keys are ignored."""

    async def exists(self, key: str) -> bool:
        """Whether an object exists under ``key``."""
        try:
            await self.get(key, ByteRange(0, 0))
        except ObjectNotFoundError:
            return False
        return True

    @abc.abstractmethod
    def describe(self) -> str:
        """A one-line human description (used in ``repr`` and error messages)."""

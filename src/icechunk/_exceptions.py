"""The exception tree: every error icechunk raises derives from :class:`IcechunkError`.

Names follow upstream Icechunk where it has them (``IcechunkError``, ``ConflictError``,
``RebaseFailedError``); the finer classes below let callers catch one failure precisely.
Not-found errors are also :class:`KeyError`, invalid input is also :class:`ValueError`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class IcechunkError(Exception):
    """Base class for all Icechunk errors.

    Its text is the message, then (like upstream's span trace) the operations the error
    passed through, innermost first, under ``context:``.
    """

    @property
    def message(self) -> str:
        """The error message."""
        return str(self.args[0]) if self.args else ""

    def __str__(self) -> str:
        trail = self.__dict__.get("_context", [])
        lines = "".join(f"\n  {i}: {op}" for i, op in enumerate(trail))
        return self.message + (f"\n\ncontext:{lines}" if lines else "")

    def _add_context(self, operation: str) -> None:
        trail = self.__dict__.setdefault("_context", [])
        if not trail or trail[-1] != operation:
            trail.append(operation)


@contextmanager
def error_context(operation: str, **fields: object) -> Iterator[None]:
    """Record ``operation`` (and its ``fields``) in any :class:`IcechunkError` raised inside."""
    try:
        yield
    except IcechunkError as e:
        shown = ", ".join(f"{k}={v}" for k, v in fields.items() if v is not None)
        e._add_context(f"{operation} with {shown}" if shown else operation)
        raise


# --- storage -------------------------------------------------------------------------------


class StorageError(IcechunkError):
    """The storage backend failed to read, write, list or delete an object."""


class ObjectNotFoundError(StorageError, KeyError):
    """An object the repository needs is not in storage."""


class PreconditionFailedError(StorageError):
    """A conditional write lost: the object exists already, or changed since it was read."""


class ReadOnlyStorageError(StorageError):
    """The storage backend cannot be written to (for example HTTP storage)."""


class StorageAuthError(StorageError):
    """The storage backend refused the credentials."""


class CredentialsFetchError(IcechunkError):
    """A refreshable credential's ``get_credentials`` function failed or returned the wrong type."""


# --- format --------------------------------------------------------------------------------


class FormatError(IcechunkError):
    """A repository object is corrupt, truncated, or not an Icechunk object of the expected kind."""


class InvalidHeaderError(FormatError):
    """A metadata file does not start with a valid Icechunk header."""


class UnsupportedSpecVersionError(FormatError):
    """A metadata file was written with a spec version this implementation cannot read."""


class ObjectTruncatedError(FormatError):
    """An object is shorter than the repository's metadata says: a truncated or emptied file."""


class ChecksumMismatchError(FormatError):
    """An object's bytes do not match the checksum recorded for them: the object is damaged."""


class InvalidObjectIdError(FormatError, ValueError):
    """A string is not a valid Crockford base32 object id of the expected length."""


# --- repository and refs -------------------------------------------------------------------


class RepositoryNotFoundError(IcechunkError):
    """There is no Icechunk repository at the storage location."""


class RepositoryAlreadyExistsError(IcechunkError):
    """``Repository.create`` was called on a location that already holds a repository."""


class LocationNotEmptyError(IcechunkError):
    """A repository was to be created in a location that already holds other objects."""


class RefNotFoundError(IcechunkError, KeyError):
    """A branch or tag does not exist."""


class BranchNotFoundError(RefNotFoundError):
    """The named branch does not exist."""


class TagNotFoundError(RefNotFoundError):
    """The named tag does not exist."""


class SnapshotNotFoundError(IcechunkError, KeyError):
    """No snapshot with this id is in the repository."""


class BadSnapshotChainError(IcechunkError, ValueError):
    """Two snapshots are not in the ancestor/descendant relation an operation needs."""


class RefAlreadyExistsError(IcechunkError):
    """A branch or tag with this name exists already."""


class TagAlreadyExistsError(RefAlreadyExistsError):
    """A tag with this name exists, or existed and was deleted (tags are never re-created)."""


class BranchAlreadyExistsError(RefAlreadyExistsError):
    """A branch with this name exists already."""


class InvalidRefNameError(IcechunkError, ValueError):
    """A branch or tag name is empty or contains characters refs may not hold."""


class ProtectedBranchError(IcechunkError):
    """The operation is not allowed on this branch (for example deleting ``main``)."""


class BranchMovedError(IcechunkError):
    """``reset_branch`` safety check failed: the branch no longer points where the caller said."""


class ConfigError(IcechunkError, ValueError):
    """A repository configuration value is invalid or could not be parsed."""


# --- sessions and store --------------------------------------------------------------------


class SessionError(IcechunkError):
    """A session was used in a way its state does not allow."""


class ReadOnlySessionError(SessionError, ValueError):
    """A write was attempted through a read-only session or store."""


class NoChangesToCommitError(SessionError):
    """``commit`` was called on a session without changes."""


class InvalidCommitMetadataError(SessionError, TypeError):
    """Commit metadata holds a value that is not JSON (str, number, bool, None, list, dict)."""


class InvalidKeyError(IcechunkError, ValueError):
    """A Zarr key or node path is not valid for an Icechunk store."""


class NodeNotFoundError(IcechunkError, KeyError):
    """No group or array exists at the path."""


class NodeAlreadyExistsError(IcechunkError):
    """A group or array exists already at the path, or the path is inside an array."""


class ConflictError(IcechunkError):
    """The branch tip moved since the session started: another commit won.

    Parameters
    ----------
    expected_parent
        The snapshot id the session was based on.
    actual_parent
        The snapshot id the branch points to now.
    """

    def __init__(
        self, expected_parent: str, actual_parent: str | None, message: str | None = None
    ):
        text = message or (
            f"branch tip moved: session was based on {expected_parent} but the branch now "
            f"points to {actual_parent}. Rebase the session (session.rebase(...) or "
            "commit(..., rebase_with=...)) or start a new session and retry."
        )
        super().__init__(text)
        self._expected_parent = expected_parent
        self._actual_parent = actual_parent

    @property
    def expected_parent(self) -> str:
        """The snapshot id the session was based on when ``commit`` was called."""
        return self._expected_parent

    @property
    def actual_parent(self) -> str | None:
        """The snapshot id the branch tip points to now (None if the branch was deleted)."""
        return self._actual_parent

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self._expected_parent, self._actual_parent, self.message))


class RebaseFailedError(IcechunkError):
    """A rebase met conflicts its solver could not resolve.

    Parameters
    ----------
    snapshot
        The snapshot id the session was being rebased onto.
    conflicts
        The conflicts found (``Conflict`` objects).
    """

    def __init__(self, snapshot: str, conflicts: list[Any], message: str | None = None):
        text = message or (
            f"rebase onto {snapshot} failed with {len(conflicts)} conflict(s): "
            + "; ".join(str(c) for c in conflicts[:10])
        )
        super().__init__(text)
        self._snapshot = snapshot
        self._conflicts = list(conflicts)

    @property
    def snapshot(self) -> str:
        """The snapshot id the session was rebased onto."""
        return self._snapshot

    @property
    def conflicts(self) -> list[Any]:
        """The conflicts that stopped the rebase."""
        return list(self._conflicts)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self._snapshot, self._conflicts, self.message))


class ForkSessionError(SessionError, ValueError):
    """A fork or merge was attempted in a way that is not allowed."""


class ForkCommitError(ForkSessionError, TypeError):
    """A ``ForkSession`` was committed or flushed; merge it into its parent session instead."""


class ChunkWriteConflictError(ForkSessionError):
    """Two merged sessions wrote different bytes to one chunk; one write would be lost."""


class RegionNotAlignedError(IcechunkError, ValueError):
    """A region write from a fork covers part of a chunk; merging would lose other writes."""


class SessionNotPicklableError(SessionError, ValueError):
    """A writable session (or its store) cannot be pickled; use ``fork()``.

    A pickled copy would take writes that never reach the session that commits: a dask or
    distributed worker writing into its own copy loses its data silently.
    """

    def __init__(self, message: str | None = None) -> None:
        super().__init__(
            message
            or "a writable session or its store cannot be pickled: writes into a copy never "
            "reach the session that commits. Send workers session.fork() (a picklable "
            "ForkSession) and session.merge(*forks) before committing, or write xarray data "
            "with icechunk.xarray.to_icechunk, which does this for you. Read-only sessions "
            "(repo.readonly_session(...)) pickle."
        )


class VirtualChunkError(IcechunkError):
    """A virtual chunk could not be read: unauthorized location, missing source, or changed source."""


class AsyncContextError(IcechunkError, RuntimeError):
    """A blocking method was called where it would deadlock; use the ``_async`` method instead."""

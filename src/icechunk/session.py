"""``Session``: a read-only view of one snapshot, or a writable transaction on a branch."""

from __future__ import annotations

import enum
import warnings
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from ._change_set_bytes import change_set_from_bytes, change_set_to_bytes
from ._core import commit as _commit
from ._core.rebase import rebase_session
from ._core.session import SessionCore
from ._exceptions import ForkCommitError, SessionNotPicklableError
from ._snapshots import Diff, check_commit_metadata
from ._sync import blocking, sync
from .store import IcechunkStore

if TYPE_CHECKING:
    from .repository import Repository

__all__ = ["ChunkType", "ForkSession", "Session"]


class ChunkType(enum.Enum):
    """How a chunk is stored."""

    UNINITIALIZED = 0
    NATIVE = 1
    VIRTUAL = 2
    INLINE = 3


class Session:
    """A session on a repository: reads one snapshot, and when writable stages changes.

    Obtain sessions from ``Repository.readonly_session`` or ``Repository.writable_session``.
    A writable session becomes read-only once it commits.
    """

    def __init__(self, repository: Repository, core: SessionCore):
        self._repository = repository
        self._core = core
        self._store: IcechunkStore | None = None
        self._forked = False

    # --- pickling ----------------------------------------------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        if not self._core.read_only:
            raise SessionNotPicklableError()
        return {
            "repository": self._repository,
            "snapshot_id": self._core.snapshot_id,
            "branch": self._core.branch,
            "read_only": self._core.read_only,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        repository = state["repository"]
        core = repository._core.session(state["snapshot_id"], state["branch"], state["read_only"])
        self.__init__(repository, core)  # type: ignore[misc]

    def allow_pickling(self) -> NoReturn:
        """Removed upstream as well: use :meth:`fork` to send writable sessions to workers."""
        raise RuntimeError(
            "The allow_pickling context manager has been removed. Use Session.fork() to get a "
            "picklable ForkSession for workers, or icechunk.xarray.to_icechunk."
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Session) and other._core is self._core

    def __hash__(self) -> int:
        return id(self._core)

    def __repr__(self) -> str:
        kind = "read-only" if self.read_only else "writable"
        branch = f" branch={self.branch!r}" if self.branch else ""
        dirty = " uncommitted changes" if self.has_uncommitted_changes else ""
        return f"<icechunk.Session {kind}{branch} snapshot={self.snapshot_id}{dirty}>"

    def _repr_html_(self) -> str:
        from ._display import session_html

        return session_html(self)

    # --- properties --------------------------------------------------------------------------

    @property
    def read_only(self) -> bool:
        """Whether the session refuses writes."""
        return self._core.read_only

    @property
    def mode(self) -> str:
        """``"readonly"`` or ``"writable"``."""
        return "readonly" if self._core.read_only else "writable"

    @property
    def snapshot_id(self) -> str:
        """The id of the snapshot the session reads (its base, for a writable session)."""
        return self._core.snapshot_name

    @property
    def branch(self) -> str | None:
        """The branch of the session, if it was opened on one."""
        return self._core.branch

    @property
    def has_uncommitted_changes(self) -> bool:
        """Whether the session has staged changes not yet committed."""
        return self._core.has_uncommitted_changes

    @property
    def store(self) -> IcechunkStore:
        """The Zarr store reading and writing through this session."""
        if self._store is None:
            self._store = IcechunkStore(self)
        return self._store

    @property
    def config(self) -> Any:
        """The configuration of the repository this session belongs to."""
        return self._repository.config

    # --- changes -----------------------------------------------------------------------------

    async def status_async(self) -> Diff:
        """Async version of :meth:`status`."""
        return (await self._core.status()).to_public()

    status = blocking(
        status_async,
        """The uncommitted changes of the session.

        Returns
        -------
        Diff
            Paths of new, updated and deleted groups and arrays, and updated chunks.
        """,
    )

    def discard_changes(self) -> None:
        """Drop every uncommitted change of the session."""
        self._core.discard_changes()

    async def commit_async(
        self,
        message: str,
        metadata: dict[str, Any] | None = None,
        rebase_with: Any = None,
        rebase_tries: int = 1_000,
    ) -> str:
        """Async version of :meth:`commit`."""
        self._warn_if_forked()
        check_commit_metadata(metadata)
        return await _commit.commit(self._core, message, metadata, rebase_with, rebase_tries)

    commit = blocking(
        commit_async,
        """Commit the changes to the session's branch; the session then becomes read-only.

        Parameters
        ----------
        message
            The commit message.
        metadata
            JSON-serialisable metadata stored with the commit.
        rebase_with
            A conflict solver: when another commit landed first, rebase onto it and retry.
        rebase_tries
            How many times to rebase and retry at most.

        Returns
        -------
        str
            The id of the new snapshot.

        Raises
        ------
        ConflictError
            When the branch moved since the session started (and no solver resolved it).
        """,
    )

    async def flush_async(self, message: str, metadata: dict[str, Any] | None = None) -> str:
        """Async version of :meth:`flush`."""
        self._warn_if_forked()
        check_commit_metadata(metadata)
        return await _commit.flush(self._core, message, metadata)

    flush = blocking(
        flush_async,
        """Write the changes as a new snapshot without moving any branch.

        Returns
        -------
        str
            The id of the new snapshot; the session becomes read-only on it.
        """,
    )

    def _warn_if_forked(self) -> None:
        if self._forked:
            warnings.warn(
                "committing a session that was forked, without merging the forks: their "
                "writes are not included; merge them with session.merge(*forks) first",
                UserWarning,
                stacklevel=3,
            )

    async def rebase_async(self, solver: Any) -> None:
        """Async version of :meth:`rebase`."""
        await rebase_session(self._core, solver)

    rebase = blocking(
        rebase_async,
        "Replay the session's changes on top of the branch tip, resolving conflicts with "
        "``solver``.",
    )

    # --- distributed writes ------------------------------------------------------------------

    def fork(self) -> ForkSession:
        """A picklable child session for workers; merge it back with :meth:`merge`.

        Raises
        ------
        ForkSessionError
            When the session has uncommitted changes or is read-only.
        """
        core = self._repository._core.fork(self._core)
        self._forked = True
        return ForkSession(self._repository, core)

    async def merge_async(self, *others: ForkSession) -> None:
        """Async version of :meth:`merge`."""
        for other in others:
            if not isinstance(other, ForkSession):
                raise TypeError(
                    "sessions can only be merged with a ForkSession created by Session.fork(); "
                    f"got {type(other).__name__}"
                )
        for other in others:
            await self._core.merge(other._core.change_set, other._core.snapshot_id)
        self._forked = False

    merge = blocking(
        merge_async,
        """Fold the changes of fork sessions into this session.

        Forks are merged one after the other. A chunk written with different bytes by two
        merged sessions (the forks, or this session and a fork) is a
        ``ChunkWriteConflictError`` (a ``ForkSessionError``), raised before anything of that
        fork is merged: parallel writers must write whole chunks, since a partial write of a
        chunk rewrites all of it. Forks that changed the same node's metadata differently
        cannot be merged either.
        """,
    )

    # --- chunk inspection --------------------------------------------------------------------

    async def chunk_coordinates(
        self, array_path: str, batch_size: int = 1000
    ) -> AsyncIterator[tuple[int, ...]]:
        """Coordinates of every initialized chunk of the array at ``array_path``."""
        table = await self._core.chunk_table(await self._core.array_node(array_path))
        for coords in table.iter_coords():
            yield coords

    async def chunk_type_async(
        self, array_path: str, chunk_coordinates: Sequence[int]
    ) -> ChunkType:
        """Async version of :meth:`chunk_type`."""
        coords = tuple(int(c) for c in chunk_coordinates)
        return ChunkType(await self._core.chunk_kind(array_path, coords))

    chunk_type = blocking(
        chunk_type_async, "How the chunk at ``chunk_coordinates`` of ``array_path`` is stored."
    )

    async def all_virtual_chunk_locations_async(self) -> list[str]:
        """Async version of :meth:`all_virtual_chunk_locations`."""
        return await self._core.virtual_locations()

    all_virtual_chunk_locations = blocking(
        all_virtual_chunk_locations_async,
        "The location of every virtual chunk reference in the session (one per reference).",
    )


class ForkSession(Session):
    """A writable session for one worker of a distributed write.

    It pickles together with its changes; send it back and merge it into the session it was
    forked from (or into another fork) before committing.
    """

    def __getstate__(self) -> dict[str, Any]:
        return {
            "repository": self._repository,
            "snapshot_id": self._core.snapshot_id,
            "branch": self._core.branch,
            "changes": change_set_to_bytes(self._core.change_set),
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        repository = state["repository"]
        core = repository._core.session(state["snapshot_id"], state["branch"], False)
        core.change_set = change_set_from_bytes(state["changes"])
        Session.__init__(self, repository, core)

    def __repr__(self) -> str:
        return f"<icechunk.ForkSession snapshot={self.snapshot_id}>"

    def merge(self, *others: ForkSession) -> None:
        """Fold the changes of other forks into this fork (for tree reductions)."""
        sync(self.merge_async(*others), method="ForkSession.merge")

    def commit(self, *args: Any, **kwargs: Any) -> NoReturn:
        """Forks cannot commit: merge them into the session they came from."""
        raise ForkCommitError(
            "Cannot commit a fork (ForkSession): send it back and merge it into the session "
            "it was forked from with session.merge(fork), then commit that session"
        )

    async def commit_async(self, *args: Any, **kwargs: Any) -> NoReturn:
        """Async version of :meth:`commit`."""
        self.commit()

    def flush(self, *args: Any, **kwargs: Any) -> NoReturn:
        """Forks cannot flush: merge them into the session they came from."""
        raise ForkCommitError(
            "cannot flush a ForkSession: merge it into the session it was forked from"
        )

    async def flush_async(self, *args: Any, **kwargs: Any) -> NoReturn:
        """Async version of :meth:`flush`."""
        self.flush()

"""``Session``: a read-only view of one snapshot, or a writable transaction on a branch."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._core.session import DiffData, SessionCore
from ._exceptions import SessionNotPicklableError
from ._format.ids import encode_id
from ._snapshots import Diff
from ._sync import sync
from .store import IcechunkStore

if TYPE_CHECKING:
    from .repository import Repository

__all__ = ["Session"]


def _to_diff(data: DiffData) -> Diff:
    return Diff(
        new_groups=set(data.new_groups),
        new_arrays=set(data.new_arrays),
        deleted_groups=set(data.deleted_groups),
        deleted_arrays=set(data.deleted_arrays),
        updated_groups=set(data.updated_groups),
        updated_arrays=set(data.updated_arrays),
        updated_chunks={p: sorted(list(c) for c in cs) for p, cs in data.updated_chunks.items()},
    )


class Session:
    """A session on a repository: reads one snapshot, and when writable stages changes.

    Obtain sessions from ``Repository.readonly_session`` or ``Repository.writable_session``.
    A writable session becomes read-only once it commits.
    """

    def __init__(self, repository: Repository, core: SessionCore):
        self._repository = repository
        self._core = core
        self._store: IcechunkStore | None = None

    # --- pickling ----------------------------------------------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        if not self._core.read_only and self._core.has_uncommitted_changes:
            raise SessionNotPicklableError(
                "a writable session with uncommitted changes cannot be pickled: use "
                "session.fork() to get a ForkSession for workers, then session.merge(...) the "
                "forks back before committing"
            )
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

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Session) and other._core is self._core

    def __hash__(self) -> int:
        return id(self._core)

    def __repr__(self) -> str:
        kind = "read-only" if self.read_only else "writable"
        branch = f" branch={self.branch!r}" if self.branch else ""
        return f"<icechunk.Session {kind}{branch} snapshot={self.snapshot_id}>"

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
        return encode_id(self._core.snapshot_id)

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

    def status(self) -> Diff:
        """The uncommitted changes of the session.

        Returns
        -------
        Diff
            Paths of new, updated and deleted groups and arrays, and updated chunks.
        """
        return sync(self.status_async(), method="Session.status")

    async def status_async(self) -> Diff:
        """Async version of :meth:`status`."""
        return _to_diff(await self._core.status())

    def discard_changes(self) -> None:
        """Drop every uncommitted change of the session."""
        self._core.discard_changes()

    def commit(
        self,
        message: str,
        metadata: dict[str, Any] | None = None,
        rebase_with: Any = None,
        rebase_tries: int = 1_000,
    ) -> str:
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
        """
        return sync(
            self.commit_async(message, metadata, rebase_with, rebase_tries), method="Session.commit"
        )

    async def commit_async(
        self,
        message: str,
        metadata: dict[str, Any] | None = None,
        rebase_with: Any = None,
        rebase_tries: int = 1_000,
    ) -> str:
        """Async version of :meth:`commit`."""
        from ._exceptions import ConflictError

        attempt = 0
        while True:
            try:
                return encode_id(await self._core.commit(message, metadata))
            except ConflictError:
                attempt += 1
                if rebase_with is None or attempt > rebase_tries:
                    raise
                await self.rebase_async(rebase_with)

    def flush(self, message: str, metadata: dict[str, Any] | None = None) -> str:
        """Write the changes as a new snapshot without moving any branch.

        Returns
        -------
        str
            The id of the new snapshot; the session becomes read-only on it.
        """
        return sync(self.flush_async(message, metadata), method="Session.flush")

    async def flush_async(self, message: str, metadata: dict[str, Any] | None = None) -> str:
        """Async version of :meth:`flush`."""
        return encode_id(await self._core.flush(message, metadata))

    def rebase(self, solver: Any) -> None:
        """Replay the session's changes on top of the branch tip, resolving conflicts with ``solver``."""
        sync(self.rebase_async(solver), method="Session.rebase")

    async def rebase_async(self, solver: Any) -> None:
        """Async version of :meth:`rebase`."""
        from ._core.rebase import rebase_session

        await rebase_session(self._core, solver)

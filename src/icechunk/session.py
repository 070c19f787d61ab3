"""``Session``: a read-only view of one snapshot, or a writable transaction on a branch."""

from __future__ import annotations

import enum
import warnings
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from ._change_set import change_set_from_bytes, change_set_to_bytes
from ._core.session import DiffData, SessionCore
from ._exceptions import ForkCommitError, ForkSessionError, SessionNotPicklableError
from ._format.ids import encode_id
from ._format.manifest import InlineChunk, NativeChunk
from ._snapshots import Diff, check_commit_metadata
from ._sync import sync
from .store import IcechunkStore

if TYPE_CHECKING:
    from .repository import Repository

__all__ = ["ChunkType", "ForkSession", "Session"]


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

        self._warn_if_forked()
        check_commit_metadata(metadata)

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
        self._warn_if_forked()
        check_commit_metadata(metadata)
        return encode_id(await self._core.flush(message, metadata))

    def _warn_if_forked(self) -> None:
        if self._forked:
            warnings.warn(
                "committing a session that was forked, without merging the forks: their "
                "writes are not included; merge them with session.merge(*forks) first",
                UserWarning,
                stacklevel=3,
            )

    def rebase(self, solver: Any) -> None:
        """Replay the session's changes on top of the branch tip, resolving conflicts with ``solver``."""
        sync(self.rebase_async(solver), method="Session.rebase")

    async def rebase_async(self, solver: Any) -> None:
        """Async version of :meth:`rebase`."""
        from ._core.rebase import rebase_session

        await rebase_session(self._core, solver)

    # --- distributed writes ------------------------------------------------------------------

    def fork(self) -> ForkSession:
        """A picklable child session for workers; merge it back with :meth:`merge`.

        Raises
        ------
        ForkSessionError
            When the session has uncommitted changes or is read-only.
        """
        if self._core.read_only:
            raise ForkSessionError(
                "a read-only session does not need forking: it can be pickled and sent to "
                "workers as it is"
            )
        if self._core.has_uncommitted_changes:
            raise ForkSessionError(
                "Cannot fork a session with uncommitted changes. Please commit first, then "
                "open a new writable session and fork that"
            )
        self._forked = True
        core = self._repository._core.session(self._core.snapshot_id, self._core.branch, False)
        return ForkSession(self._repository, core)

    def merge(self, *others: ForkSession) -> None:
        """Fold the changes of fork sessions into this session.

        Forks are merged one after the other. A chunk written with different bytes by two
        merged sessions (the forks, or this session and a fork) is a
        ``ChunkWriteConflictError`` (a ``ForkSessionError``), raised before anything of that
        fork is merged: parallel writers must write whole chunks, since a partial write of a
        chunk rewrites all of it. Forks that changed the same node's metadata differently
        cannot be merged either.
        """
        sync(self.merge_async(*others), method="Session.merge")

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

    # --- chunk inspection --------------------------------------------------------------------

    async def chunk_coordinates(
        self, array_path: str, batch_size: int = 1000
    ) -> AsyncIterator[tuple[int, ...]]:
        """Coordinates of every initialized chunk of the array at ``array_path``."""
        node = await self._array_node(array_path)
        table = await self._core.chunk_table(node)
        for coords in table.iter_coords():
            yield coords

    def chunk_type(self, array_path: str, chunk_coordinates: Sequence[int]) -> ChunkType:
        """How the chunk at ``chunk_coordinates`` of ``array_path`` is stored."""
        return sync(
            self.chunk_type_async(array_path, chunk_coordinates), method="Session.chunk_type"
        )

    async def chunk_type_async(
        self, array_path: str, chunk_coordinates: Sequence[int]
    ) -> ChunkType:
        """Async version of :meth:`chunk_type`."""
        node = await self._array_node(array_path)
        payload = await self._core.get_chunk_ref(node, tuple(int(c) for c in chunk_coordinates))
        if payload is None:
            return ChunkType.UNINITIALIZED
        if isinstance(payload, InlineChunk):
            return ChunkType.INLINE
        if isinstance(payload, NativeChunk):
            return ChunkType.NATIVE
        return ChunkType.VIRTUAL

    def all_virtual_chunk_locations(self) -> list[str]:
        """The location of every virtual chunk reference in the session (one per reference)."""
        return sync(
            self.all_virtual_chunk_locations_async(),
            method="Session.all_virtual_chunk_locations",
        )

    async def all_virtual_chunk_locations_async(self) -> list[str]:
        """Async version of :meth:`all_virtual_chunk_locations`."""
        locations: list[str] = []
        for node in (await self._core.nodes()).values():
            if node.array is not None:
                table = await self._core.chunk_table(node)
                locations.extend(loc for loc in table.location.tolist() if loc is not None)
        return locations

    async def _array_node(self, array_path: str) -> Any:
        from ._exceptions import NodeNotFoundError

        path = "/" + array_path.strip("/")
        node = await self._core.get_node(path)
        if node is None or node.array is None:
            raise NodeNotFoundError(f"no array at {path!r}")
        return node


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

    def merge(self, *others: ForkSession) -> None:  # type: ignore[override]
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

"""``Repository``: create or open a repository, manage branches, tags and history."""

from __future__ import annotations

import contextlib
import datetime as _dt
import itertools
from collections.abc import AsyncIterator, Iterator
from typing import Any, Self

from ._config import RepositoryConfig, config_from_yaml, config_to_yaml
from ._core.repository import EngineSettings, RepositoryCore
from ._exceptions import IcechunkError
from ._repository_maintenance import RepositoryMaintenance
from ._snapshots import Diff, SnapshotInfo
from ._sync import blocking, sync, sync_iter
from ._virtual import AuthorizedPrefixes
from .session import Session
from .storage import Storage
from .store import IcechunkStore

__all__ = ["Repository"]


def _merge_configs(
    persisted: RepositoryConfig | None, given: RepositoryConfig | None
) -> RepositoryConfig:
    if persisted is None:
        return given if given is not None else RepositoryConfig.default()
    if given is None:
        return persisted
    merge = getattr(persisted, "merge", None)
    return merge(given) if merge is not None else given


class Repository(RepositoryMaintenance):
    """An Icechunk repository: versioned Zarr data in one storage location.

    Create with :meth:`create`, open with :meth:`open` or :meth:`open_or_create`. A repository
    object is cheap, holds no open transaction, and can be pickled.
    """

    def __init__(
        self,
        storage: Storage,
        config: RepositoryConfig,
        authorize_virtual_chunk_access: dict[str, Any] | None = None,
    ):
        self._storage = storage
        self._config = config
        self._virtual_credentials = dict(authorize_virtual_chunk_access or {})
        retries = config.storage.retries if config.storage is not None else None
        self._core = RepositoryCore.for_config(
            storage._backend(retries), config, self._virtual_credentials
        )

    def __getstate__(self) -> dict[str, Any]:
        return {
            "storage": self._storage,
            "config": self._config,
            "credentials": self._virtual_credentials,
            "default_metadata": self._core.default_commit_metadata,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["storage"], state["config"], state["credentials"])  # type: ignore[misc]
        self._core.default_commit_metadata = dict(state["default_metadata"])

    def __repr__(self) -> str:
        return f"<icechunk.Repository storage={self._storage!r}>"

    def _repr_html_(self) -> str:
        from ._display import repository_html

        return repository_html(self)

    # --- lifecycle ---------------------------------------------------------------------------
    # create, open and open_or_create are written out: a ParamSpec decorator cannot carry
    # their ``Self`` return type through a class-body assignment.

    @classmethod
    def create(
        cls,
        storage: Storage,
        config: RepositoryConfig | None = None,
        authorize_virtual_chunk_access: dict[str, Any] | None = None,
        spec_version: int | None = None,
    ) -> Self:
        """Create a new repository at ``storage``.

        Parameters
        ----------
        storage
            Where the repository lives.
        config
            Repository configuration; when given it is saved to ``config.yaml``.
        authorize_virtual_chunk_access
            Credentials (or None) per virtual chunk container url prefix allowed to be read.
        spec_version
            On-disk format version; only 1 is supported.

        Raises
        ------
        RepositoryAlreadyExistsError
            When ``storage`` already holds a repository.
        """
        coro = cls.create_async(storage, config, authorize_virtual_chunk_access, spec_version)
        return sync(coro, method="Repository.create")

    @classmethod
    async def create_async(
        cls,
        storage: Storage,
        config: RepositoryConfig | None = None,
        authorize_virtual_chunk_access: dict[str, Any] | None = None,
        spec_version: int | None = None,
    ) -> Self:
        """Async version of :meth:`create`."""
        if spec_version not in (None, 1):
            raise IcechunkError(
                f"spec_version={spec_version} is not supported: this implementation writes "
                "spec version 1"
            )
        for container in ((config and config.virtual_chunk_containers) or {}).values():
            container._validate()
        repo = cls(storage, config or RepositoryConfig.default(), authorize_virtual_chunk_access)
        await repo._core.initialize(None if config is None else config_to_yaml(config))
        return repo

    @classmethod
    def open(
        cls,
        storage: Storage,
        config: RepositoryConfig | None = None,
        authorize_virtual_chunk_access: dict[str, Any] | None = None,
    ) -> Self:
        """Open the existing repository at ``storage``.

        ``config`` overrides the persisted configuration field by field.

        Raises
        ------
        RepositoryNotFoundError
            When there is no repository at ``storage``.
        """
        coro = cls.open_async(storage, config, authorize_virtual_chunk_access)
        return sync(coro, method="Repository.open")

    @classmethod
    async def open_async(
        cls,
        storage: Storage,
        config: RepositoryConfig | None = None,
        authorize_virtual_chunk_access: dict[str, Any] | None = None,
    ) -> Self:
        """Async version of :meth:`open`."""
        raw = await RepositoryCore(storage._backend()).open_config_yaml()
        persisted = None if raw is None else config_from_yaml(raw)
        return cls(storage, _merge_configs(persisted, config), authorize_virtual_chunk_access)

    @classmethod
    def open_or_create(
        cls,
        storage: Storage,
        config: RepositoryConfig | None = None,
        authorize_virtual_chunk_access: dict[str, Any] | None = None,
    ) -> Self:
        """Open the repository at ``storage``, creating it first if there is none."""
        coro = cls.open_or_create_async(storage, config, authorize_virtual_chunk_access)
        return sync(coro, method="Repository.open_or_create")

    @classmethod
    async def open_or_create_async(
        cls,
        storage: Storage,
        config: RepositoryConfig | None = None,
        authorize_virtual_chunk_access: dict[str, Any] | None = None,
    ) -> Self:
        """Async version of :meth:`open_or_create`."""
        if await cls.exists_async(storage):
            return await cls.open_async(storage, config, authorize_virtual_chunk_access)
        return await cls.create_async(storage, config, authorize_virtual_chunk_access)

    @staticmethod
    async def exists_async(storage: Storage) -> bool:
        """Async version of :meth:`exists`."""
        return await RepositoryCore.exists(storage._backend())

    exists = staticmethod(blocking(exists_async, "Whether ``storage`` holds a repository."))

    @staticmethod
    async def fetch_config_async(storage: Storage) -> RepositoryConfig | None:
        """Async version of :meth:`fetch_config`."""
        raw = await RepositoryCore(storage._backend()).fetch_config_yaml()
        return None if raw is None else config_from_yaml(raw)

    fetch_config = staticmethod(
        blocking(
            fetch_config_async,
            "The configuration persisted in the repository at ``storage``, or None.",
        )
    )

    async def save_config_async(self, config: RepositoryConfig | None = None) -> None:
        """Async version of :meth:`save_config`."""
        if config is not None:
            self._config = config
            self._core.settings = EngineSettings.from_config(config)
        await self._core.save_config_yaml(config_to_yaml(self._config))

    save_config = blocking(
        save_config_async,
        """Persist the repository configuration to ``config.yaml``.

        Parameters
        ----------
        config
            The configuration to save; by default the one the repository was opened with.
        """,
    )

    @property
    def config(self) -> RepositoryConfig:
        """The configuration in use (persisted values merged with those given at open)."""
        return self._config

    @property
    def storage(self) -> Storage:
        """The storage the repository lives in."""
        return self._storage

    def reopen(
        self,
        config: RepositoryConfig | None = None,
        authorize_virtual_chunk_access: dict[str, Any] | None = None,
    ) -> Self:
        """The same repository with another configuration or virtual chunk credentials."""
        return type(self)(
            self._storage,
            _merge_configs(self._config, config),
            self._virtual_credentials
            if authorize_virtual_chunk_access is None
            else authorize_virtual_chunk_access,
        )

    async def reopen_async(
        self,
        config: RepositoryConfig | None = None,
        authorize_virtual_chunk_access: dict[str, Any] | None = None,
    ) -> Self:
        """Async version of :meth:`reopen`."""
        return self.reopen(config, authorize_virtual_chunk_access)

    @property
    def authorized_virtual_container_prefixes(self) -> set[str]:
        """The url prefixes of virtual chunk containers this repository may read (a set)."""
        return AuthorizedPrefixes(self._virtual_credentials)

    def set_default_commit_metadata(self, metadata: dict[str, Any]) -> None:
        """Metadata added to every commit made through this repository object."""
        self._core.default_commit_metadata = dict(metadata)

    def default_commit_metadata(self) -> dict[str, Any]:
        """The metadata added to every commit (see :meth:`set_default_commit_metadata`)."""
        return dict(self._core.default_commit_metadata)

    # --- history -----------------------------------------------------------------------------

    def ancestry(
        self,
        *,
        branch: str | None = None,
        tag: str | None = None,
        snapshot_id: str | None = None,
    ) -> Iterator[SnapshotInfo]:
        """The history of a version, newest first, down to the repository's first snapshot.

        Give exactly one of ``branch``, ``tag`` or ``snapshot_id``. As upstream, the version is
        looked up and its snapshot read at the call: a missing ref or snapshot fails here, not
        when the history is first iterated.
        """
        history = sync_iter(self._core.history(branch, tag, snapshot_id), method="Repository.ancestry")
        return itertools.chain([next(history)], history)

    async def async_ancestry(
        self,
        *,
        branch: str | None = None,
        tag: str | None = None,
        snapshot_id: str | None = None,
    ) -> AsyncIterator[SnapshotInfo]:
        """Async version of :meth:`ancestry`."""
        async for info in self._core.history(branch, tag, snapshot_id):
            yield info

    ancestry_async = async_ancestry

    async def lookup_snapshot_async(self, snapshot_id: str) -> SnapshotInfo:
        """Async version of :meth:`lookup_snapshot`."""
        return await self._core.lookup_snapshot(snapshot_id)

    lookup_snapshot = blocking(lookup_snapshot_async, "The :class:`SnapshotInfo` of one snapshot.")

    async def diff_async(
        self,
        *,
        from_branch: str | None = None,
        from_tag: str | None = None,
        from_snapshot_id: str | None = None,
        to_branch: str | None = None,
        to_tag: str | None = None,
        to_snapshot_id: str | None = None,
    ) -> Diff:
        """Async version of :meth:`diff`."""
        return await self._core.diff(
            (from_branch, from_tag, from_snapshot_id), (to_branch, to_tag, to_snapshot_id)
        )

    diff = blocking(
        diff_async,
        "What changed from one version to a later one (``from`` must be an ancestor of ``to``).",
    )

    # --- branches ----------------------------------------------------------------------------

    async def create_branch_async(self, branch: str, snapshot_id: str) -> None:
        """Async version of :meth:`create_branch`."""
        await self._core.create_branch(branch, snapshot_id)

    create_branch = blocking(
        create_branch_async, "Create ``branch`` pointing at ``snapshot_id``; fails if it exists."
    )

    async def list_branches_async(self) -> set[str]:
        """Async version of :meth:`list_branches`."""
        return await self._core.list_branches()

    list_branches = blocking(list_branches_async, "The names of all branches.")

    async def lookup_branch_async(self, branch: str) -> str:
        """Async version of :meth:`lookup_branch`."""
        return await self._core.lookup_branch(branch)

    lookup_branch = blocking(lookup_branch_async, "The snapshot id at the tip of ``branch``.")

    async def reset_branch_async(
        self, branch: str, snapshot_id: str, *, from_snapshot_id: str | None = None
    ) -> None:
        """Async version of :meth:`reset_branch`."""
        await self._core.reset_branch(branch, snapshot_id, from_snapshot_id)

    reset_branch = blocking(
        reset_branch_async,
        """Point ``branch`` at ``snapshot_id``, rewriting its history.

        Parameters
        ----------
        from_snapshot_id
            Safety check: reset only if the branch still points here.
        """,
    )

    async def delete_branch_async(self, branch: str) -> None:
        """Async version of :meth:`delete_branch`."""
        await self._core.delete_branch(branch)

    delete_branch = blocking(delete_branch_async, "Delete ``branch`` (never ``main``).")

    # --- tags --------------------------------------------------------------------------------

    async def create_tag_async(self, tag: str, snapshot_id: str) -> None:
        """Async version of :meth:`create_tag`."""
        await self._core.create_tag(tag, snapshot_id)

    create_tag = blocking(
        create_tag_async,
        "Create the immutable ``tag`` at ``snapshot_id``; fails if it exists or ever existed.",
    )

    async def list_tags_async(self) -> set[str]:
        """Async version of :meth:`list_tags`."""
        return await self._core.list_tags()

    list_tags = blocking(list_tags_async, "The names of all live tags.")

    async def lookup_tag_async(self, tag: str) -> str:
        """Async version of :meth:`lookup_tag`."""
        return await self._core.lookup_tag(tag)

    lookup_tag = blocking(lookup_tag_async, "The snapshot id ``tag`` points to.")

    async def delete_tag_async(self, tag: str) -> None:
        """Async version of :meth:`delete_tag`."""
        await self._core.delete_tag(tag)

    delete_tag = blocking(delete_tag_async, "Delete ``tag``; the name can never be used again.")

    # --- sessions ----------------------------------------------------------------------------

    async def readonly_session_async(
        self,
        branch: str | None = None,
        *,
        tag: str | None = None,
        snapshot_id: str | None = None,
        as_of: _dt.datetime | None = None,
    ) -> Session:
        """Async version of :meth:`readonly_session`."""
        return Session(self, await self._core.readonly_session(branch, tag, snapshot_id, as_of))

    readonly_session = blocking(
        readonly_session_async,
        """A read-only session at a branch tip, a tag or a snapshot.

        Parameters
        ----------
        as_of
            With ``branch``: the last commit of the branch made at or before this time; a
            naive datetime is taken as local time.
        """,
    )

    async def writable_session_async(self, branch: str) -> Session:
        """Async version of :meth:`writable_session`."""
        return Session(self, await self._core.writable_session(branch))

    writable_session = blocking(
        writable_session_async, "A writable session on the tip of ``branch``."
    )

    @contextlib.contextmanager
    def transaction(
        self,
        branch: str,
        *,
        message: str,
        metadata: dict[str, Any] | None = None,
        rebase_with: Any = None,
        rebase_tries: int = 1_000,
    ) -> Iterator[IcechunkStore]:
        """A writable store on ``branch`` that commits when the block ends without error.

        On an exception nothing is committed and the changes are discarded.
        """
        session = self.writable_session(branch)
        yield session.store
        session.commit(message, metadata, rebase_with=rebase_with, rebase_tries=rebase_tries)

    async def inspect_snapshot_async(self, snapshot_id: str, *, pretty: bool = True) -> str:
        """Async version of :meth:`inspect_snapshot`."""
        return await self._core.inspect_snapshot(snapshot_id, pretty)

    inspect_snapshot = blocking(
        inspect_snapshot_async,
        "A JSON description of one snapshot: id, parent, time, message, manifests, nodes.",
    )

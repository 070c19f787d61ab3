"""``Repository``: create or open a repository, manage branches, tags and history."""

from __future__ import annotations

import contextlib
import datetime as _dt
import itertools
import warnings
from collections.abc import AsyncIterator, Iterator
from typing import Any, Self

from ._asset_manager import AssetSettings
from ._config import RepositoryConfig, config_from_yaml, config_to_yaml
from ._core.repository import EngineSettings, RepositoryCore
from ._core.session import DEFAULT_INLINE_THRESHOLD
from ._exceptions import error_context
from ._format.ids import decode_id, encode_id
from ._ops.summary import ChunkStorageStats, GCSummary
from ._progress import progress_bar
from ._snapshots import Diff, SnapshotInfo
from ._sync import sync, sync_iter
from ._time import to_micros
from ._virtual import AuthorizedPrefixes, VirtualChunkResolver
from .session import Session, _to_diff
from .storage import Storage
from .store import IcechunkStore

__all__ = ["Repository"]


def _engine_settings(config: RepositoryConfig) -> EngineSettings:
    threshold = config.inline_chunk_threshold_bytes
    compression = config.compression
    level = compression.level if compression is not None else None
    caching = config.caching
    nodes = caching.num_snapshot_nodes if caching is not None else None
    refs = caching.num_chunk_refs if caching is not None else None
    defaults = AssetSettings()
    manifest = config.manifest
    return EngineSettings(
        splitting=manifest.splitting if manifest is not None else None,
        inline_threshold=DEFAULT_INLINE_THRESHOLD if threshold is None else int(threshold),
        assets=AssetSettings(
            compression_level=defaults.compression_level if level is None else int(level),
            snapshot_cache_nodes=defaults.snapshot_cache_nodes if nodes is None else int(nodes),
            manifest_cache_refs=defaults.manifest_cache_refs if refs is None else int(refs),
        ),
    )


def _merge_configs(
    persisted: RepositoryConfig | None, given: RepositoryConfig | None
) -> RepositoryConfig:
    if persisted is None:
        return given if given is not None else RepositoryConfig.default()
    if given is None:
        return persisted
    merge = getattr(persisted, "merge", None)
    return merge(given) if merge is not None else given


class Repository:
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
        self._core = RepositoryCore(
            storage._backend(config.storage.retries if config.storage is not None else None),
            _engine_settings(config),
            VirtualChunkResolver(config.virtual_chunk_containers or {}, self._virtual_credentials),
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
        return sync(
            cls.create_async(storage, config, authorize_virtual_chunk_access, spec_version),
            method="Repository.create",
        )

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
            from ._exceptions import IcechunkError

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
        return sync(
            cls.open_async(storage, config, authorize_virtual_chunk_access),
            method="Repository.open",
        )

    @classmethod
    async def open_async(
        cls,
        storage: Storage,
        config: RepositoryConfig | None = None,
        authorize_virtual_chunk_access: dict[str, Any] | None = None,
    ) -> Self:
        """Async version of :meth:`open`."""
        probe = RepositoryCore(storage._backend(), EngineSettings())
        await probe.ensure_exists()
        raw = await probe.fetch_config_yaml()
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
        return sync(
            cls.open_or_create_async(storage, config, authorize_virtual_chunk_access),
            method="Repository.open_or_create",
        )

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
    def exists(storage: Storage) -> bool:
        """Whether ``storage`` holds a repository."""
        return sync(Repository.exists_async(storage), method="Repository.exists")

    @staticmethod
    async def exists_async(storage: Storage) -> bool:
        """Async version of :meth:`exists`."""
        return await RepositoryCore.exists(storage._backend())

    @staticmethod
    def fetch_config(storage: Storage) -> RepositoryConfig | None:
        """The configuration persisted in the repository at ``storage``, or None."""
        return sync(Repository.fetch_config_async(storage), method="Repository.fetch_config")

    @staticmethod
    async def fetch_config_async(storage: Storage) -> RepositoryConfig | None:
        """Async version of :meth:`fetch_config`."""
        raw = await RepositoryCore(storage._backend(), EngineSettings()).fetch_config_yaml()
        return None if raw is None else config_from_yaml(raw)

    def save_config(self, config: RepositoryConfig | None = None) -> None:
        """Persist the repository configuration to ``config.yaml``.

        Parameters
        ----------
        config
            The configuration to save; by default the one the repository was opened with.
        """
        sync(self.save_config_async(config), method="Repository.save_config")

    async def save_config_async(self, config: RepositoryConfig | None = None) -> None:
        """Async version of :meth:`save_config`."""
        if config is not None:
            self._config = config
            self._core.settings = _engine_settings(config)
        await self._core.save_config_yaml(config_to_yaml(self._config))

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
        history = sync_iter(
            self.async_ancestry(branch=branch, tag=tag, snapshot_id=snapshot_id),
            method="Repository.ancestry",
        )
        return itertools.chain([next(history)], history)

    async def async_ancestry(
        self,
        *,
        branch: str | None = None,
        tag: str | None = None,
        snapshot_id: str | None = None,
    ) -> AsyncIterator[SnapshotInfo]:
        """Async version of :meth:`ancestry`."""
        with error_context("ancestry", branch=branch, tag=tag, snapshot_id=snapshot_id):
            start = await self._core.resolve_version(branch, tag, _decode(snapshot_id))
            async for snapshot in self._core.ancestry(start):
                yield SnapshotInfo._from_snapshot(snapshot)

    ancestry_async = async_ancestry

    def lookup_snapshot(self, snapshot_id: str) -> SnapshotInfo:
        """The :class:`SnapshotInfo` of one snapshot."""
        return sync(self.lookup_snapshot_async(snapshot_id), method="Repository.lookup_snapshot")

    async def lookup_snapshot_async(self, snapshot_id: str) -> SnapshotInfo:
        """Async version of :meth:`lookup_snapshot`."""
        snapshot = await self._core.assets.fetch_snapshot(decode_id(snapshot_id))
        return SnapshotInfo._from_snapshot(snapshot)

    def diff(
        self,
        *,
        from_branch: str | None = None,
        from_tag: str | None = None,
        from_snapshot_id: str | None = None,
        to_branch: str | None = None,
        to_tag: str | None = None,
        to_snapshot_id: str | None = None,
    ) -> Diff:
        """What changed from one version to a later one (``from`` must be an ancestor of ``to``)."""
        return sync(
            self.diff_async(
                from_branch=from_branch,
                from_tag=from_tag,
                from_snapshot_id=from_snapshot_id,
                to_branch=to_branch,
                to_tag=to_tag,
                to_snapshot_id=to_snapshot_id,
            ),
            method="Repository.diff",
        )

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
        start = await self._core.resolve_version(from_branch, from_tag, _decode(from_snapshot_id))
        end = await self._core.resolve_version(to_branch, to_tag, _decode(to_snapshot_id))
        return _to_diff(await self._core.diff(start, end))

    # --- branches ----------------------------------------------------------------------------

    def create_branch(self, branch: str, snapshot_id: str) -> None:
        """Create ``branch`` pointing at ``snapshot_id``; fails if it exists."""
        sync(self.create_branch_async(branch, snapshot_id), method="Repository.create_branch")

    async def create_branch_async(self, branch: str, snapshot_id: str) -> None:
        """Async version of :meth:`create_branch`."""
        await self._core.create_branch(branch, decode_id(snapshot_id))

    def list_branches(self) -> set[str]:
        """The names of all branches."""
        return sync(self.list_branches_async(), method="Repository.list_branches")

    async def list_branches_async(self) -> set[str]:
        """Async version of :meth:`list_branches`."""
        return await self._core.list_branches()

    def lookup_branch(self, branch: str) -> str:
        """The snapshot id at the tip of ``branch``."""
        return sync(self.lookup_branch_async(branch), method="Repository.lookup_branch")

    async def lookup_branch_async(self, branch: str) -> str:
        """Async version of :meth:`lookup_branch`."""
        return encode_id(await self._core.lookup_branch(branch))

    def reset_branch(
        self, branch: str, snapshot_id: str, *, from_snapshot_id: str | None = None
    ) -> None:
        """Point ``branch`` at ``snapshot_id``, rewriting its history.

        Parameters
        ----------
        from_snapshot_id
            Safety check: reset only if the branch still points here.
        """
        sync(
            self.reset_branch_async(branch, snapshot_id, from_snapshot_id=from_snapshot_id),
            method="Repository.reset_branch",
        )

    async def reset_branch_async(
        self, branch: str, snapshot_id: str, *, from_snapshot_id: str | None = None
    ) -> None:
        """Async version of :meth:`reset_branch`."""
        await self._core.reset_branch(branch, decode_id(snapshot_id), _decode(from_snapshot_id))

    def delete_branch(self, branch: str) -> None:
        """Delete ``branch`` (never ``main``)."""
        sync(self.delete_branch_async(branch), method="Repository.delete_branch")

    async def delete_branch_async(self, branch: str) -> None:
        """Async version of :meth:`delete_branch`."""
        await self._core.delete_branch(branch)

    # --- tags --------------------------------------------------------------------------------

    def create_tag(self, tag: str, snapshot_id: str) -> None:
        """Create the immutable ``tag`` at ``snapshot_id``; fails if it exists or ever existed."""
        sync(self.create_tag_async(tag, snapshot_id), method="Repository.create_tag")

    async def create_tag_async(self, tag: str, snapshot_id: str) -> None:
        """Async version of :meth:`create_tag`."""
        await self._core.create_tag(tag, decode_id(snapshot_id))

    def list_tags(self) -> set[str]:
        """The names of all live tags."""
        return sync(self.list_tags_async(), method="Repository.list_tags")

    async def list_tags_async(self) -> set[str]:
        """Async version of :meth:`list_tags`."""
        return await self._core.list_tags()

    def lookup_tag(self, tag: str) -> str:
        """The snapshot id ``tag`` points to."""
        return sync(self.lookup_tag_async(tag), method="Repository.lookup_tag")

    async def lookup_tag_async(self, tag: str) -> str:
        """Async version of :meth:`lookup_tag`."""
        return encode_id(await self._core.lookup_tag(tag))

    def delete_tag(self, tag: str) -> None:
        """Delete ``tag``; the name can never be used again."""
        sync(self.delete_tag_async(tag), method="Repository.delete_tag")

    async def delete_tag_async(self, tag: str) -> None:
        """Async version of :meth:`delete_tag`."""
        await self._core.delete_tag(tag)

    # --- sessions ----------------------------------------------------------------------------

    def readonly_session(
        self,
        branch: str | None = None,
        *,
        tag: str | None = None,
        snapshot_id: str | None = None,
        as_of: _dt.datetime | None = None,
    ) -> Session:
        """A read-only session at a branch tip, a tag or a snapshot.

        Parameters
        ----------
        as_of
            With ``branch``: the last commit of the branch made at or before this time; a
            naive datetime is taken as local time.
        """
        return sync(
            self.readonly_session_async(branch, tag=tag, snapshot_id=snapshot_id, as_of=as_of),
            method="Repository.readonly_session",
        )

    async def readonly_session_async(
        self,
        branch: str | None = None,
        *,
        tag: str | None = None,
        snapshot_id: str | None = None,
        as_of: _dt.datetime | None = None,
    ) -> Session:
        """Async version of :meth:`readonly_session`."""
        target = await self._core.resolve_version(branch, tag, _decode(snapshot_id))
        if as_of is not None:
            target = await self._as_of(target, as_of)
        ref = f"branch {branch!r}" if branch is not None else f"tag {tag!r}" if tag else None
        return Session(self, await self._core.open_session(target, branch, True, ref=ref))

    async def _as_of(self, tip: bytes, as_of: _dt.datetime) -> bytes:
        from ._exceptions import SnapshotNotFoundError

        limit = to_micros(as_of)
        async for snapshot in self._core.ancestry(tip):
            if snapshot.flushed_at <= limit:
                return snapshot.snapshot_id
        raise SnapshotNotFoundError(f"no snapshot on this branch was written at or before {as_of}")

    def writable_session(self, branch: str) -> Session:
        """A writable session on the tip of ``branch``."""
        return sync(self.writable_session_async(branch), method="Repository.writable_session")

    async def writable_session_async(self, branch: str) -> Session:
        """Async version of :meth:`writable_session`."""
        tip = await self._core.branch_tip(branch)
        core = await self._core.open_session(
            tip.snapshot_id, branch, False, tip.version, ref=f"branch {branch!r}"
        )
        return Session(self, core)

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

    def inspect_snapshot(self, snapshot_id: str, *, pretty: bool = True) -> str:
        """A JSON description of one snapshot: id, parent, time, message, manifests, nodes."""
        return sync(
            self.inspect_snapshot_async(snapshot_id, pretty=pretty),
            method="Repository.inspect_snapshot",
        )

    async def inspect_snapshot_async(self, snapshot_id: str, *, pretty: bool = True) -> str:
        """Async version of :meth:`inspect_snapshot`."""
        import json

        snapshot = await self._core.assets.fetch_snapshot(decode_id(snapshot_id))
        return json.dumps(_describe_snapshot(snapshot), indent=2 if pretty else None)

    def rewrite_manifests(
        self,
        message: str,
        *,
        branch: str,
        metadata: dict[str, Any] | None = None,
        progress: bool = False,
    ) -> str:
        """Commit to ``branch`` a snapshot whose arrays each get one freshly written manifest.

        ``progress=True`` shows a progress bar (tqdm) of the arrays rewritten.

        Returns
        -------
        str
            The id of the new snapshot.
        """
        return sync(
            self.rewrite_manifests_async(
                message, branch=branch, metadata=metadata, progress=progress
            ),
            method="Repository.rewrite_manifests",
        )

    async def rewrite_manifests_async(
        self,
        message: str,
        *,
        branch: str,
        metadata: dict[str, Any] | None = None,
        progress: bool = False,
    ) -> str:
        """Async version of :meth:`rewrite_manifests`."""
        session = await self.writable_session_async(branch)
        session._core.rewrite_manifests = True
        splitting = {"splitting_config": None}
        with progress_bar(progress, unit="array") as bar:
            arrays = [n for n in (await session._core.nodes()).values() if n.array is not None]
            bar.stage("Rewriting manifests", len(arrays))
            session._core.progress = bar
            snapshot = await session._core.commit(message, {**splitting, **(metadata or {})})
        return encode_id(snapshot)

    # --- maintenance -------------------------------------------------------------------------

    def expire_snapshots(
        self,
        older_than: _dt.datetime,
        *,
        delete_expired_branches: bool = False,
        delete_expired_tags: bool = False,
        progress: bool = False,
    ) -> set[str]:
        """Cut snapshots written before ``older_than`` out of every ref's history.

        Refs are processed tags first, then branches, each in name order. In each history the
        oldest snapshot kept is rewritten to have the repository's first snapshot as parent.
        Expired snapshots stay in storage until :meth:`garbage_collect` removes them.

        Parameters
        ----------
        older_than
            The threshold; a naive datetime is taken as local time (as
            :meth:`datetime.datetime.timestamp` reads it).
        delete_expired_branches, delete_expired_tags
            Delete refs whose tip itself is older than the threshold (never ``main``).
        progress
            Show a progress bar (tqdm) of the refs processed.

        Returns
        -------
        set of str
            The ids of the snapshots written before ``older_than`` in some history (as
            upstream: a kept ref's old tip included, so some may still be reachable).
        """
        return sync(
            self.expire_snapshots_async(
                older_than,
                delete_expired_branches=delete_expired_branches,
                delete_expired_tags=delete_expired_tags,
                progress=progress,
            ),
            method="Repository.expire_snapshots",
        )

    async def expire_snapshots_async(
        self,
        older_than: _dt.datetime,
        *,
        delete_expired_branches: bool = False,
        delete_expired_tags: bool = False,
        progress: bool = False,
    ) -> set[str]:
        """Async version of :meth:`expire_snapshots`."""
        from ._ops.expiration import expire_snapshots

        with progress_bar(progress, unit="ref") as bar:
            result = await expire_snapshots(
                self._core.assets,
                to_micros(older_than),
                delete_expired_branches=delete_expired_branches,
                delete_expired_tags=delete_expired_tags,
                progress=bar,
            )
        return {encode_id(s) for s in result.released}

    def garbage_collect(
        self,
        delete_object_older_than: _dt.datetime,
        *,
        dry_run: bool = False,
        max_snapshots_in_memory: int = 50,
        max_compressed_manifest_mem_bytes: int = 512 * 1024 * 1024,
        max_concurrent_manifest_fetches: int = 500,
        progress: bool = False,
    ) -> GCSummary:
        """Delete objects no branch or tag can reach, if older than the cutoff.

        Parameters
        ----------
        delete_object_older_than
            Only objects last modified before this are deleted (protects writes in flight);
            a naive datetime is taken as local time.
        dry_run
            Count what would be deleted without deleting anything.
        progress
            Show progress bars (tqdm) of the history walked and the objects scanned.
        """
        return sync(
            self.garbage_collect_async(
                delete_object_older_than, dry_run=dry_run, progress=progress
            ),
            method="Repository.garbage_collect",
        )

    async def garbage_collect_async(
        self,
        delete_object_older_than: _dt.datetime,
        *,
        dry_run: bool = False,
        max_snapshots_in_memory: int = 50,
        max_compressed_manifest_mem_bytes: int = 512 * 1024 * 1024,
        max_concurrent_manifest_fetches: int = 500,
        progress: bool = False,
    ) -> GCSummary:
        """Async version of :meth:`garbage_collect`."""
        from ._ops.gc import garbage_collect

        with progress_bar(progress, unit="object") as bar:
            result = await garbage_collect(
                self._core.assets,
                to_micros(delete_object_older_than),
                dry_run=dry_run,
                progress=bar,
            )
        return GCSummary(
            bytes_deleted=result.bytes_deleted,
            chunks_deleted=result.chunks_deleted,
            manifests_deleted=result.manifests_deleted,
            snapshots_deleted=result.snapshots_deleted,
            transaction_logs_deleted=result.transaction_logs_deleted,
        )

    def chunk_storage_stats(
        self,
        *,
        max_snapshots_in_memory: int = 50,
        max_compressed_manifest_mem_bytes: int = 512 * 1024 * 1024,
        max_concurrent_manifest_fetches: int = 500,
        progress: bool = False,
    ) -> ChunkStorageStats:
        """Bytes of chunks reachable from any branch or tag, by storage kind.

        ``progress=True`` shows progress bars (tqdm) of the history and manifests read.
        """
        return sync(
            self.chunk_storage_stats_async(progress=progress),
            method="Repository.chunk_storage_stats",
        )

    async def chunk_storage_stats_async(
        self,
        *,
        max_snapshots_in_memory: int = 50,
        max_compressed_manifest_mem_bytes: int = 512 * 1024 * 1024,
        max_concurrent_manifest_fetches: int = 500,
        progress: bool = False,
    ) -> ChunkStorageStats:
        """Async version of :meth:`chunk_storage_stats`."""
        from ._ops.gc import chunk_storage_stats

        with progress_bar(progress, unit="object") as bar:
            native, virtual, inline = await chunk_storage_stats(self._core.assets, bar)
        return ChunkStorageStats(native, virtual, inline)

    def total_chunks_storage(
        self,
        *,
        max_snapshots_in_memory: int = 50,
        max_compressed_manifest_mem_bytes: int = 512 * 1024 * 1024,
        max_concurrent_manifest_fetches: int = 500,
    ) -> int:
        """Bytes of native chunk objects reachable from any branch or tag.

        Deprecated: use ``chunk_storage_stats().native_bytes``, whose result also counts
        inline and virtual chunks.
        """
        _warn_deprecated("total_chunks_storage", "chunk_storage_stats")
        return self.chunk_storage_stats().native_bytes

    async def total_chunks_storage_async(
        self,
        *,
        max_snapshots_in_memory: int = 50,
        max_compressed_manifest_mem_bytes: int = 512 * 1024 * 1024,
        max_concurrent_manifest_fetches: int = 500,
    ) -> int:
        """Async version of :meth:`total_chunks_storage`."""
        _warn_deprecated("total_chunks_storage_async", "chunk_storage_stats_async")
        return (await self.chunk_storage_stats_async()).native_bytes


def _warn_deprecated(method: str, replacement: str) -> None:
    warnings.warn(
        f"Repository.{method} is deprecated and will be removed: use "
        f"Repository.{replacement}().native_bytes for the same number, or the whole result "
        "for the bytes of inline and virtual chunks too",
        DeprecationWarning,
        stacklevel=3,
    )


def _describe_snapshot(snapshot: Any) -> dict[str, Any]:
    flushed = _dt.datetime.fromtimestamp(snapshot.flushed_at / 1e6, tz=_dt.UTC)
    nodes = []
    for node in snapshot.nodes:
        entry: dict[str, Any] = {
            "id": encode_id(node.node_id),
            "path": node.path,
            "node_type": "array" if node.is_array else "group",
        }
        if node.array is not None:
            entry["manifest_refs"] = [
                {"id": encode_id(m.manifest_id), "extents": [list(e) for e in m.extents]}
                for m in node.array.manifests
            ]
        nodes.append(entry)
    return {
        "id": encode_id(snapshot.snapshot_id),
        "parent_id": None if snapshot.parent_id is None else encode_id(snapshot.parent_id),
        "flushed_at": flushed.isoformat().replace("+00:00", "Z"),
        "commit_message": snapshot.message,
        "metadata": dict(snapshot.metadata),
        "manifests": [
            {
                "id": encode_id(m.manifest_id),
                "size_bytes": m.size_bytes,
                "num_chunk_refs": m.num_chunk_refs,
            }
            for m in snapshot.manifest_files
        ],
        "nodes": nodes,
    }


def _decode(snapshot_id: str | None) -> bytes | None:
    return None if snapshot_id is None else decode_id(snapshot_id)

"""The repository engine: creation, opening, refs, history, diffs and sessions.

Methods the public ``Repository`` calls take and return snapshot ids as users see them
(base32 strings); the engine works with their bytes.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import _refs
from .._asset_manager import AssetManager, AssetSettings
from .._config import RepositoryConfig, defaults
from .._exceptions import (
    BadSnapshotChainError,
    BranchMovedError,
    ForkSessionError,
    IcechunkError,
    LocationNotEmptyError,
    ObjectNotFoundError,
    PreconditionFailedError,
    ProtectedBranchError,
    RepositoryAlreadyExistsError,
    RepositoryNotFoundError,
    SnapshotNotFoundError,
    error_context,
)
from .._format.ids import INITIAL_SNAPSHOT_ID, decode_id, encode_id
from .._format.snapshot import Snapshot, SnapshotHeader
from .._progress import progress_bar
from .._snapshots import Diff, SnapshotInfo
from .._time import to_micros
from .._virtual import VirtualChunkResolver
from ..storage._backend import PutMode, StorageBackend
from ._preload import start_preload
from .commit import commit
from .diff import DiffData, combine_logs, describe_snapshot
from .session import SessionCore

CONFIG_KEY = "config.yaml"
MAIN_BRANCH = "main"
_log = logging.getLogger(__name__)
INITIAL_COMMIT_MESSAGE = "Repository initialized"


@dataclass(frozen=True)
class EngineSettings:
    """Values the engine reads from the repository configuration."""

    inline_threshold: int = defaults.INLINE_CHUNK_THRESHOLD_BYTES
    assets: AssetSettings = field(default_factory=AssetSettings)
    splitting: Any = None  # ManifestSplittingConfig, or None: one manifest per array
    preload: Any = None  # ManifestPreloadConfig, or None: upstream's default preload

    @classmethod
    def from_config(cls, config: RepositoryConfig) -> EngineSettings:
        """The settings of ``config``, built-in defaults where it sets nothing."""
        manifest = config.manifest
        nodes, refs, changes, chunk_bytes = config._effective_cache_sizes()
        return cls(
            splitting=manifest.splitting if manifest is not None else None,
            preload=manifest.preload if manifest is not None else None,
            inline_threshold=config._effective_inline_chunk_threshold(),
            assets=AssetSettings(
                compression_level=config._effective_compression_level(),
                snapshot_cache_nodes=nodes,
                manifest_cache_refs=refs,
                transaction_cache_changes=changes,
                chunk_cache_bytes=chunk_bytes,
            ),
        )


class RepositoryCore:
    """Async operations on one repository through one storage backend."""

    def __init__(
        self,
        backend: StorageBackend,
        settings: EngineSettings | None = None,
        virtual: VirtualChunkResolver | None = None,
    ):
        settings = settings or EngineSettings()
        self.backend = backend
        self.settings = settings
        self.assets = AssetManager(backend, settings.assets)
        self.virtual = virtual or VirtualChunkResolver({}, {})
        self.default_commit_metadata: dict[str, Any] = {}

    @classmethod
    def for_config(
        cls,
        backend: StorageBackend,
        config: RepositoryConfig,
        credentials: Mapping[str, Any],
    ) -> RepositoryCore:
        """The engine of a repository opened with ``config`` and virtual chunk ``credentials``."""
        containers = config.virtual_chunk_containers or {}
        virtual = VirtualChunkResolver(containers, credentials, config.storage)
        return cls(backend, EngineSettings.from_config(config), virtual)

    # --- lifecycle ---------------------------------------------------------------------------

    @staticmethod
    async def exists(backend: StorageBackend) -> bool:
        # a GET (of a tiny file), not a HEAD, as upstream: a refused request then carries the
        # server's reason (InvalidAccessKeyId, ...) in its body, and so in our error
        try:
            await backend.get(_refs.branch_key(MAIN_BRANCH))
        except ObjectNotFoundError:
            return False
        return True

    async def initialize(self, config_yaml: bytes | None) -> None:
        """Write the initial snapshot, the config and the ``main`` branch.

        Raises
        ------
        RepositoryAlreadyExistsError
            When the location already holds a repository.
        """
        _log.debug("Creating Repository at %s", self.backend.describe())
        if await self.exists(self.backend):
            raise RepositoryAlreadyExistsError(
                f"a repository already exists at {self.backend.describe()}; use "
                "Repository.open (or open_or_create) instead"
            )
        await self._ensure_empty()
        initial = Snapshot(
            snapshot_id=INITIAL_SNAPSHOT_ID,
            parent_id=None,
            flushed_at=time.time_ns() // 1000,
            message=INITIAL_COMMIT_MESSAGE,
            metadata={"__root": True},
            nodes=(),
            manifest_files=(),
        )
        await self.assets.write_snapshot(initial)
        if config_yaml is not None:
            await self.backend.put(CONFIG_KEY, config_yaml)
        try:
            await self.backend.put(
                _refs.branch_key(MAIN_BRANCH), _refs.encode_ref(INITIAL_SNAPSHOT_ID), mode=PutMode.CREATE
            )
        except PreconditionFailedError:
            raise RepositoryAlreadyExistsError(
                f"a repository was created concurrently at {self.backend.describe()}"
            ) from None

    async def _ensure_empty(self) -> None:
        """Refuse a location that holds anything: a repository owns everything under its root
        (garbage collection deletes what it does not reach)."""
        async for info in self.backend.list(""):
            raise LocationNotEmptyError(
                f"cannot create a repository at {self.backend.describe()}: the location is not "
                f"empty (it holds {info.key!r}, and maybe more). A repository must own its "
                "location: choose an empty folder or prefix (or a new sub-folder), or move the "
                "files away first"
            )

    async def ensure_exists(self) -> None:
        _log.debug("Opening Repository at %s", self.backend.describe())
        if not await self.exists(self.backend):
            raise RepositoryNotFoundError(
                f"no Icechunk repository at {self.backend.describe()}: create one with "
                "Repository.create (or open_or_create)"
            )

    async def open_config_yaml(self) -> bytes | None:
        """The persisted ``config.yaml`` of the repository (None if it has none).

        Raises
        ------
        RepositoryNotFoundError
            When there is no repository.
        """
        await self.ensure_exists()
        return await self.fetch_config_yaml()

    async def fetch_config_yaml(self) -> bytes | None:
        try:
            return await self.backend.get(CONFIG_KEY)
        except ObjectNotFoundError:
            return None

    async def save_config_yaml(self, data: bytes) -> None:
        await self.backend.put(CONFIG_KEY, data)

    # --- refs --------------------------------------------------------------------------------

    async def lookup_branch(self, name: str) -> str:
        return encode_id((await _refs.read_branch(self.backend, name)).snapshot_id)

    async def lookup_tag(self, name: str) -> str:
        return encode_id(await _refs.read_tag(self.backend, name))

    async def list_branches(self) -> set[str]:
        return (await _refs.list_refs(self.backend))[0]

    async def list_tags(self) -> set[str]:
        return (await _refs.list_refs(self.backend))[1]

    async def create_branch(self, name: str, snapshot_id: str) -> None:
        sid = decode_id(snapshot_id)
        await self.assets.fetch_snapshot(sid)
        await _refs.create_branch(self.backend, name, sid)

    async def delete_branch(self, name: str) -> None:
        if name == MAIN_BRANCH:
            raise ProtectedBranchError("the main branch cannot be deleted")
        await _refs.read_branch(self.backend, name)
        await _refs.delete_branch(self.backend, name)

    async def reset_branch(
        self, name: str, snapshot_id: str, from_snapshot_id: str | None = None
    ) -> None:
        """Point branch ``name`` at ``snapshot_id``, optionally only if it is at ``from_snapshot_id``."""
        target = decode_id(snapshot_id)
        expected = None if from_snapshot_id is None else decode_id(from_snapshot_id)
        await self.assets.fetch_snapshot(target)
        current = await _refs.read_branch(self.backend, name)
        if expected is not None and current.snapshot_id != expected:
            raise BranchMovedError(
                f"branch update conflict: branch {name!r} points to "
                f"{encode_id(current.snapshot_id)}, not {encode_id(expected)} as the reset "
                "expected; look it up again and retry"
            )
        try:
            await _refs.update_branch(self.backend, name, target, current.version)
        except PreconditionFailedError:
            raise BranchMovedError(
                f"branch update conflict: branch {name!r} moved while it was being reset; look it "
                "up again and retry"
            ) from None

    async def create_tag(self, name: str, snapshot_id: str) -> None:
        sid = decode_id(snapshot_id)
        await self.assets.fetch_snapshot(sid)
        await _refs.create_tag(self.backend, name, sid)

    async def delete_tag(self, name: str) -> None:
        await _refs.delete_tag(self.backend, name)

    async def resolve_version(
        self,
        branch: str | None = None,
        tag: str | None = None,
        snapshot_id: str | None = None,
    ) -> bytes:
        """The snapshot id named by exactly one of ``branch``, ``tag`` or ``snapshot_id``."""
        given = [x for x in (branch, tag, snapshot_id) if x is not None]
        if len(given) != 1:
            raise IcechunkError(
                "give exactly one of branch=, tag= or snapshot_id= to choose a version"
            )
        if branch is not None:
            return (await _refs.read_branch(self.backend, branch)).snapshot_id
        if tag is not None:
            return await _refs.read_tag(self.backend, tag)
        assert snapshot_id is not None
        sid = decode_id(snapshot_id)
        await self.assets.fetch_snapshot(sid)
        return sid

    # --- history -----------------------------------------------------------------------------

    async def ancestry(self, snapshot_id: bytes) -> AsyncIterator[SnapshotHeader]:
        """The snapshot and its ancestors, newest first (headers: no nodes)."""
        current: bytes | None = snapshot_id
        while current is not None:
            header = await self.assets.fetch_snapshot_header(current)
            yield header
            current = header.parent_id

    async def history(
        self, branch: str | None, tag: str | None, snapshot_id: str | None
    ) -> AsyncIterator[SnapshotInfo]:
        """The history of one version, newest first."""
        with error_context("ancestry", branch=branch, tag=tag, snapshot_id=snapshot_id):
            start = await self.resolve_version(branch, tag, snapshot_id)
            async for snapshot in self.ancestry(start):
                yield SnapshotInfo._from_snapshot(snapshot)

    async def lookup_snapshot(self, snapshot_id: str) -> SnapshotInfo:
        return SnapshotInfo._from_snapshot(await self.assets.fetch_snapshot(decode_id(snapshot_id)))

    async def inspect_snapshot(self, snapshot_id: str, pretty: bool) -> str:
        """A JSON description of one snapshot: id, parent, time, message, manifests, nodes."""
        snapshot = await self.assets.fetch_snapshot(decode_id(snapshot_id))
        return json.dumps(describe_snapshot(snapshot), indent=2 if pretty else None)

    async def diff(
        self,
        from_version: tuple[str | None, str | None, str | None],
        to_version: tuple[str | None, str | None, str | None],
    ) -> Diff:
        """What changed from one ``(branch, tag, snapshot_id)`` version to a later one."""
        start = await self.resolve_version(*from_version)
        end = await self.resolve_version(*to_version)
        return (await self.diff_ids(start, end)).to_public()

    async def diff_ids(self, from_id: bytes, to_id: bytes) -> DiffData:
        """What changed from snapshot ``from_id`` to its descendant ``to_id``."""
        between = []
        async for snapshot in self.ancestry(to_id):
            if snapshot.snapshot_id == from_id:
                break
            between.append(snapshot.snapshot_id)
        else:
            raise BadSnapshotChainError(
                f"the ancestry of snapshot {encode_id(to_id)} doesn't include snapshot "
                f"{encode_id(from_id)}: diff needs `from` to be an ancestor of `to`. If you "
                "meant the other direction, swap the two versions"
            )
        logs = [await self.assets.fetch_transaction_log(s) for s in between]
        from_snap = await self.assets.fetch_snapshot(from_id)
        to_snap = await self.assets.fetch_snapshot(to_id)
        return combine_logs(logs, from_snap, to_snap)

    # --- sessions ----------------------------------------------------------------------------

    def session(
        self,
        snapshot_id: bytes,
        branch: str | None,
        read_only: bool,
        branch_version: str | None = None,
    ) -> SessionCore:
        return SessionCore(
            self.assets,
            snapshot_id,
            branch,
            read_only,
            inline_threshold=self.settings.inline_threshold,
            default_commit_metadata=self.default_commit_metadata,
            branch_version=branch_version,
            virtual=self.virtual,
            splitting=self.settings.splitting,
        )

    def fork(self, session: SessionCore) -> SessionCore:
        """A writable session on the same base as ``session``, for one worker.

        Raises
        ------
        ForkSessionError
            When ``session`` is read-only or has uncommitted changes.
        """
        if session.read_only:
            raise ForkSessionError(
                "a read-only session does not need forking: it can be pickled and sent to "
                "workers as it is"
            )
        if session.has_uncommitted_changes:
            raise ForkSessionError(
                "Cannot fork a session with uncommitted changes. Please commit first, then "
                "open a new writable session and fork that"
            )
        return self.session(session.snapshot_id, session.branch, False)

    async def open_session(
        self,
        snapshot_id: bytes,
        branch: str | None,
        read_only: bool,
        branch_version: str | None = None,
        ref: str | None = None,
    ) -> SessionCore:
        """A session whose snapshot is read now, so that a missing one fails at once.

        ``ref`` names what pointed at the snapshot (``"branch 'main'"``) for the error.
        """
        try:
            await self.assets.fetch_snapshot(snapshot_id)
        except SnapshotNotFoundError:
            name = encode_id(snapshot_id)
            if ref is None:
                raise
            raise SnapshotNotFoundError(
                f"{ref} points to snapshot {name}, which does not exist in this repository (it "
                "was deleted, or the ref was edited by hand). Point the ref at a snapshot that "
                "exists (for a branch: repo.reset_branch(...) with an id from repo.ancestry), "
                "or restore the snapshot file"
            ) from None
        session = self.session(snapshot_id, branch, read_only, branch_version)
        session.preloading = start_preload(self.assets, snapshot_id, self.settings.preload)
        return session

    async def branch_tip(self, name: str) -> _refs.RefValue:
        """The snapshot a branch points to, with the storage version of its ref."""
        return await _refs.read_branch(self.backend, name)

    async def readonly_session(
        self,
        branch: str | None,
        tag: str | None,
        snapshot_id: str | None,
        as_of: _dt.datetime | None,
    ) -> SessionCore:
        """A read-only session at a version (with ``as_of``: its last snapshot by then)."""
        target = await self.resolve_version(branch, tag, snapshot_id)
        if as_of is not None:
            target = await self._as_of(target, as_of)
        ref = f"branch {branch!r}" if branch is not None else f"tag {tag!r}" if tag else None
        return await self.open_session(target, branch, True, ref=ref)

    async def _as_of(self, tip: bytes, as_of: _dt.datetime) -> bytes:
        limit = to_micros(as_of)
        async for snapshot in self.ancestry(tip):
            if snapshot.flushed_at <= limit:
                return snapshot.snapshot_id
        raise SnapshotNotFoundError(f"no snapshot on this branch was written at or before {as_of}")

    async def writable_session(self, branch: str) -> SessionCore:
        """A writable session on the tip of ``branch``."""
        tip = await self.branch_tip(branch)
        return await self.open_session(
            tip.snapshot_id, branch, False, tip.version, ref=f"branch {branch!r}"
        )

    async def rewrite_manifests(
        self, message: str, branch: str, metadata: Mapping[str, Any] | None, progress: bool
    ) -> str:
        """Commit to ``branch`` a snapshot whose arrays each get one freshly written manifest."""
        session = await self.writable_session(branch)
        session.rewrite_manifests = True
        with progress_bar(progress, unit="array") as bar:
            arrays = [n for n in (await session.nodes()).values() if n.array is not None]
            bar.stage("Rewriting manifests", len(arrays))
            session.progress = bar
            return await commit(session, message, {"splitting_config": None, **(metadata or {})})

"""The repository engine: creation, opening, refs, history and diffs."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import _refs
from .._asset_manager import AssetManager, AssetSettings
from .._exceptions import (
    BadSnapshotChainError,
    BranchMovedError,
    IcechunkError,
    LocationNotEmptyError,
    ObjectNotFoundError,
    PreconditionFailedError,
    ProtectedBranchError,
    RepositoryAlreadyExistsError,
    RepositoryNotFoundError,
    SnapshotNotFoundError,
)
from .._format.ids import INITIAL_SNAPSHOT_ID, encode_id
from .._format.snapshot import Snapshot, SnapshotHeader
from .._virtual import VirtualChunkResolver
from ..storage._backend import PutMode, StorageBackend
from ._preload import start_preload
from .session import DEFAULT_INLINE_THRESHOLD, DiffData, SessionCore

CONFIG_KEY = "config.yaml"
MAIN_BRANCH = "main"
_log = logging.getLogger(__name__)
INITIAL_COMMIT_MESSAGE = "Repository initialized"


@dataclass(frozen=True)
class EngineSettings:
    """Values the engine reads from the repository configuration."""

    inline_threshold: int = DEFAULT_INLINE_THRESHOLD
    assets: AssetSettings = field(default_factory=AssetSettings)
    splitting: Any = None  # ManifestSplittingConfig, or None: one manifest per array
    preload: Any = None  # ManifestPreloadConfig, or None: upstream's default preload


class RepositoryCore:
    """Async operations on one repository through one storage backend."""

    def __init__(
        self,
        backend: StorageBackend,
        settings: EngineSettings,
        virtual: VirtualChunkResolver | None = None,
    ):
        self.backend = backend
        self.settings = settings
        self.assets = AssetManager(backend, settings.assets)
        self.virtual = virtual or VirtualChunkResolver({}, {})
        self.default_commit_metadata: dict[str, Any] = {}

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

    async def fetch_config_yaml(self) -> bytes | None:
        try:
            return await self.backend.get(CONFIG_KEY)
        except ObjectNotFoundError:
            return None

    async def save_config_yaml(self, data: bytes) -> None:
        await self.backend.put(CONFIG_KEY, data)

    # --- refs --------------------------------------------------------------------------------

    async def lookup_branch(self, name: str) -> bytes:
        return (await _refs.read_branch(self.backend, name)).snapshot_id

    async def lookup_tag(self, name: str) -> bytes:
        return await _refs.read_tag(self.backend, name)

    async def list_branches(self) -> set[str]:
        return (await _refs.list_refs(self.backend))[0]

    async def list_tags(self) -> set[str]:
        return (await _refs.list_refs(self.backend))[1]

    async def create_branch(self, name: str, snapshot_id: bytes) -> None:
        await self.assets.fetch_snapshot(snapshot_id)
        await _refs.create_branch(self.backend, name, snapshot_id)

    async def delete_branch(self, name: str) -> None:
        if name == MAIN_BRANCH:
            raise ProtectedBranchError("the main branch cannot be deleted")
        await _refs.read_branch(self.backend, name)
        await _refs.delete_branch(self.backend, name)

    async def reset_branch(
        self, name: str, snapshot_id: bytes, from_snapshot_id: bytes | None
    ) -> None:
        """Point branch ``name`` at ``snapshot_id``, optionally only if it is at ``from_snapshot_id``."""
        await self.assets.fetch_snapshot(snapshot_id)
        current = await _refs.read_branch(self.backend, name)
        if from_snapshot_id is not None and current.snapshot_id != from_snapshot_id:
            raise BranchMovedError(
                f"branch update conflict: branch {name!r} points to "
                f"{encode_id(current.snapshot_id)}, not {encode_id(from_snapshot_id)} as the reset "
                "expected; look it up again and retry"
            )
        try:
            await _refs.update_branch(self.backend, name, snapshot_id, current.version)
        except PreconditionFailedError:
            raise BranchMovedError(
                f"branch update conflict: branch {name!r} moved while it was being reset; look it "
                "up again and retry"
            ) from None

    async def create_tag(self, name: str, snapshot_id: bytes) -> None:
        await self.assets.fetch_snapshot(snapshot_id)
        await _refs.create_tag(self.backend, name, snapshot_id)

    async def delete_tag(self, name: str) -> None:
        await _refs.delete_tag(self.backend, name)

    async def resolve_version(
        self,
        branch: str | None = None,
        tag: str | None = None,
        snapshot_id: bytes | None = None,
    ) -> bytes:
        """The snapshot id named by exactly one of ``branch``, ``tag`` or ``snapshot_id``."""
        given = [x for x in (branch, tag, snapshot_id) if x is not None]
        if len(given) != 1:
            raise IcechunkError(
                "give exactly one of branch=, tag= or snapshot_id= to choose a version"
            )
        if branch is not None:
            return await self.lookup_branch(branch)
        if tag is not None:
            return await self.lookup_tag(tag)
        assert snapshot_id is not None
        await self.assets.fetch_snapshot(snapshot_id)
        return snapshot_id

    # --- history -----------------------------------------------------------------------------

    async def ancestry(self, snapshot_id: bytes) -> AsyncIterator[SnapshotHeader]:
        """The snapshot and its ancestors, newest first (headers: no nodes)."""
        current: bytes | None = snapshot_id
        while current is not None:
            header = await self.assets.fetch_snapshot_header(current)
            yield header
            current = header.parent_id

    async def diff(self, from_id: bytes, to_id: bytes) -> DiffData:
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
        return _combine_logs(logs, from_snap, to_snap)

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


def _combine_logs(logs: list[Any], from_snap: Snapshot, to_snap: Snapshot) -> DiffData:
    new_groups: set[bytes] = set()
    new_arrays: set[bytes] = set()
    deleted_groups: set[bytes] = set()
    deleted_arrays: set[bytes] = set()
    updated_groups: set[bytes] = set()
    updated_arrays: set[bytes] = set()
    chunks: dict[bytes, set[tuple[int, ...]]] = {}
    for log in logs:
        new_groups |= log.new_groups
        new_arrays |= log.new_arrays
        deleted_groups |= log.deleted_groups
        deleted_arrays |= log.deleted_arrays
        updated_groups |= log.updated_groups
        updated_arrays |= log.updated_arrays
        for nid, coords in log.updated_chunks.items():
            chunks.setdefault(nid, set()).update(coords)
    new_ids = new_groups | new_arrays
    deleted_ids = deleted_groups | deleted_arrays
    to_paths = {n.node_id: n.path for n in to_snap.nodes}
    from_paths = {n.node_id: n.path for n in from_snap.nodes}

    def paths(ids: set[bytes], where: Mapping[bytes, str]) -> frozenset[str]:
        return frozenset(where[i] for i in ids if i in where)

    return DiffData(
        new_groups=paths(new_groups - deleted_ids, to_paths),
        new_arrays=paths(new_arrays - deleted_ids, to_paths),
        deleted_groups=paths(deleted_groups - new_ids, from_paths),
        deleted_arrays=paths(deleted_arrays - new_ids, from_paths),
        updated_groups=paths(updated_groups - new_ids - deleted_ids, to_paths),
        updated_arrays=paths(updated_arrays - new_ids - deleted_ids, to_paths),
        updated_chunks={
            to_paths[nid]: frozenset(c) for nid, c in chunks.items() if nid in to_paths
        },
    )


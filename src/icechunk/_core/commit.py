"""Commits: a session's changes written as a snapshot, then its branch moved by compare-and-swap.

Nothing a reader can see changes before the one conditional put of the branch ref. When
another commit landed first, :func:`commit` can rebase onto it and retry.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import replace
from itertools import chain
from operator import attrgetter
from typing import Any

from .. import _refs
from .._conflicts import ConflictSolver
from .._exceptions import (
    BranchNotFoundError,
    ConflictError,
    NoChangesToCommitError,
    PreconditionFailedError,
    SessionError,
)
from .._format.ids import encode_id, new_id12
from .._format.manifest import Manifest
from .._format.snapshot import ManifestFileInfo, ManifestRef, NodeSnapshot, Snapshot
from ._splitting import plan_manifests, split_sizes
from .rebase import rebase_session
from .session import SessionCore

_log = logging.getLogger(__name__)


async def commit(
    session: SessionCore,
    message: str,
    metadata: Mapping[str, Any] | None = None,
    rebase_with: ConflictSolver | None = None,
    rebase_tries: int = 1_000,
) -> str:
    """Commit ``session`` to its branch; return the new snapshot's id.

    On a conflict, with a solver, rebase onto the branch tip and retry, at most
    ``rebase_tries`` times.

    Raises
    ------
    ConflictError
        When the branch moved since the session started (and no solver resolved it).
    """
    attempt = 0
    while True:
        try:
            return encode_id(await commit_once(session, message, metadata))
        except ConflictError:
            attempt += 1
            if rebase_with is None or attempt > rebase_tries:
                raise
            await rebase_session(session, rebase_with)


async def commit_once(
    session: SessionCore, message: str, metadata: Mapping[str, Any] | None = None
) -> bytes:
    """Write a snapshot of the changes and move the branch to it; return its id.

    Raises
    ------
    ConflictError
        When the branch no longer points at this session's base snapshot.
    """
    session._require_writable()
    if session.branch is None:
        raise SessionError("this session is not on a branch; use flush() instead")
    if not session.has_uncommitted_changes and not session.rewrite_manifests:
        raise NoChangesToCommitError("cannot commit: no changes were made in this session")
    async with session.lock:
        _log.debug("Committing session to branch %r", session.branch)
        version = session.branch_version
        if version is None:
            version = await _current_branch_version(session)
        snapshot = await _write_snapshot(session, message, metadata)
        await _move_branch(session, snapshot.snapshot_id, version)
        session.finish(snapshot.snapshot_id)
        _log.debug("Commit done: snapshot %s", encode_id(snapshot.snapshot_id))
        return snapshot.snapshot_id


async def flush(
    session: SessionCore, message: str, metadata: Mapping[str, Any] | None = None
) -> str:
    """Write a snapshot of the changes without moving any branch; return its id."""
    session._require_writable()
    if not session.has_uncommitted_changes:
        raise NoChangesToCommitError("cannot flush: no changes were made in this session")
    async with session.lock:
        snapshot = await _write_snapshot(session, message, metadata)
        session.finish(snapshot.snapshot_id)
        return encode_id(snapshot.snapshot_id)


async def _current_branch_version(session: SessionCore) -> str:
    """The branch ref's version, provided it still points at the session's base."""
    assert session.branch is not None
    try:
        tip = await _refs.read_branch(session.assets.backend, session.branch)
    except BranchNotFoundError:
        raise ConflictError(
            encode_id(session.snapshot_id),
            None,
            f"branch {session.branch!r} was deleted since this session started; create it "
            "again or commit to another branch",
        ) from None
    if tip.snapshot_id != session.snapshot_id:
        raise ConflictError(encode_id(session.snapshot_id), encode_id(tip.snapshot_id))
    return tip.version


async def _move_branch(session: SessionCore, new_snapshot: bytes, version: str) -> None:
    """Compare-and-swap the branch ref from ``version`` to ``new_snapshot``."""
    branch = session.branch
    assert branch is not None
    backend = session.assets.backend
    try:
        await _refs.update_branch(backend, branch, new_snapshot, version)
    except PreconditionFailedError:
        # the ref file changed; it is a conflict unless it still names our base
        version = await _current_branch_version(session)
        try:
            await _refs.update_branch(backend, branch, new_snapshot, version)
        except PreconditionFailedError:
            await _current_branch_version(session)  # raises if the branch moved
            raise ConflictError(
                encode_id(session.snapshot_id),
                encode_id(session.snapshot_id),
                f"branch {branch!r} was rewritten concurrently; retry the commit",
            ) from None


async def _write_snapshot(
    session: SessionCore, message: str, metadata: Mapping[str, Any] | None
) -> Snapshot:
    base = await session.base_snapshot()
    snapshot_id = new_id12()
    infos = {mi.manifest_id: mi for mi in base.manifest_files}
    new_manifests: list[Manifest] = []
    nodes: list[NodeSnapshot] = []
    current = await session.nodes()
    changed = _changed_arrays(session)
    for path in sorted(current):
        node = current[path]
        if node.array is not None and (changed is None or node.node_id in changed):
            table = await session.chunk_table(node)
            sizes = split_sizes(
                session.splitting, path, node.array.dimension_names, len(node.array.shape)
            )
            plan = plan_manifests(
                table,
                session.change_set.chunks.get(node.node_id, {}),
                node.array.manifests,
                sizes,
                rewrite_all=session.rewrite_manifests,
            )
            manifests = list(plan.keep)
            for part in plan.write:
                manifest = Manifest(new_id12(), {node.node_id: part})
                new_manifests.append(manifest)
                manifests.append(ManifestRef(manifest.manifest_id, part.extents()))
            session.progress.step()
            manifests.sort(key=lambda ref: ref.extents)
            node = replace(node, array=replace(node.array, manifests=tuple(manifests)))
        nodes.append(node)
    written = await asyncio.gather(*(session.assets.write_manifest(m) for m in new_manifests))
    for manifest, size in zip(new_manifests, written):
        infos[manifest.manifest_id] = ManifestFileInfo(
            manifest.manifest_id, size, manifest.num_chunk_refs
        )
    arrays = filter(None, map(_ARRAY, nodes))
    used = set(map(_MANIFEST_ID, chain.from_iterable(map(_MANIFESTS, arrays))))
    all_metadata = {**session.default_commit_metadata, **(metadata or {})}
    snapshot = Snapshot(
        snapshot_id=snapshot_id,
        parent_id=session.snapshot_id,
        flushed_at=time.time_ns() // 1000,
        message=message,
        metadata=all_metadata,
        nodes=tuple(nodes),
        manifest_files=tuple(sorted((infos[i] for i in used), key=lambda i: i.manifest_id)),
    )
    log = replace(
        session.change_set.to_transaction_log(snapshot_id),
        updated_chunks=await session.chunk_changes(),
    )
    await asyncio.gather(
        session.assets.write_transaction_log(log), session.assets.write_snapshot(snapshot)
    )
    return snapshot


_ARRAY = attrgetter("array")
_MANIFESTS = attrgetter("manifests")
_MANIFEST_ID = attrgetter("manifest_id")


def _changed_arrays(session: SessionCore) -> set[bytes] | None:
    """The ids of the arrays whose manifests the commit writes (None: every array)."""
    if session.rewrite_manifests:
        return None
    cs = session.change_set
    return {node_id for node_id, chunks in cs.chunks.items() if chunks} | set(cs.updated_arrays)

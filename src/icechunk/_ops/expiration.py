"""Snapshot expiry (spec v1): cut history older than a threshold out of every ref's ancestry.

For each ref (tags first, then branches, each in name order) the history is walked from the
ref's tip to the root snapshot. Every snapshot other than the root written before the threshold
counts as expired and is reported, the tip included: a ref whose tip is older than the threshold
is an expired ref, and may be deleted on request (never ``main``). The oldest snapshot that is not
expired (the tip itself when every snapshot is expired) is rewritten in place with the root as
its parent, so the expired snapshots leave that history. A history whose tip already has the
root as parent is left alone and reports nothing. Reported snapshots may still be reachable from
another ref, or be the tip of a ref that was kept: garbage collection decides what is deleted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace

from .. import _refs
from .._asset_manager import AssetManager
from .._format.snapshot import SnapshotHeader
from .._progress import NoProgress, Progress
from ._walk import history, ref_tips

_log = logging.getLogger(__name__)


@dataclass
class ExpireResult:
    released: set[bytes] = field(default_factory=set)
    edited: set[bytes] = field(default_factory=set)
    deleted_refs: set[tuple[str, str]] = field(default_factory=set)


async def expire_snapshots(
    assets: AssetManager,
    older_than_micros: int,
    delete_expired_branches: bool = False,
    delete_expired_tags: bool = False,
    progress: Progress | None = None,
    dry_run: bool = False,
) -> ExpireResult:
    """Expire snapshots written before ``older_than_micros`` (µs since the epoch).

    With ``dry_run`` nothing is written or deleted: the result says what would be.
    """
    _log.debug("Expiring snapshots older than %s µs since the epoch", older_than_micros)
    result = ExpireResult()
    progress = progress or NoProgress()
    tips = await ref_tips(assets)
    progress.stage("Expiring refs", len(tips))
    for kind, name, tip in tips:
        progress.step()
        chain = [s async for s in history(assets, tip)]
        await _expire_history(assets, chain, older_than_micros, result, dry_run)
        if chain[0].flushed_at >= older_than_micros:
            continue
        if kind == "branch" and delete_expired_branches and name != "main":
            if not dry_run:
                await _refs.delete_branch(assets.backend, name)
            result.deleted_refs.add((kind, name))
        elif kind == "tag" and delete_expired_tags:
            if not dry_run:
                await _refs.delete_tag(assets.backend, name)
            result.deleted_refs.add((kind, name))
    _log.debug("Expiry done: %s snapshots released", len(result.released))
    return result


async def _expire_history(
    assets: AssetManager,
    chain: list[SnapshotHeader],
    older_than_micros: int,
    result: ExpireResult,
    dry_run: bool = False,
) -> None:
    """Cut the expired part of one history (``chain``: tip first, root last) out of it."""
    if len(chain) <= 2:
        return
    root = chain[-1]
    expired = [s for s in chain[:-1] if s.flushed_at < older_than_micros]
    if not expired:
        return
    kept = [s for s in chain[:-1] if s.flushed_at >= older_than_micros]
    editable = kept[-1] if kept else chain[0]
    if editable.parent_id == root.snapshot_id:
        return
    if not dry_run:
        full = await assets.fetch_snapshot(editable.snapshot_id)
        await assets.rewrite_snapshot(replace(full, parent_id=root.snapshot_id))
    result.edited.add(editable.snapshot_id)
    result.released.update(s.snapshot_id for s in expired)

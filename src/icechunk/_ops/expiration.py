"""Snapshot expiry (spec v1): cut history older than a threshold out of every ref's ancestry.

For each ref, the oldest snapshot that is not expired is rewritten in place with the root
snapshot as its parent; everything between it and the root leaves that history. A ref's tip
is never expired itself, but when it is older than the threshold the ref counts as expired
and may be deleted on request (never ``main``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from .. import _refs
from .._asset_manager import AssetManager
from ._walk import history, ref_tips


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
) -> ExpireResult:
    """Expire snapshots written before ``older_than_micros`` (µs since the epoch)."""
    result = ExpireResult()
    for kind, name, tip in await ref_tips(assets):
        chain = [s async for s in history(assets, tip)]
        if len(chain) <= 2:
            ref_expired = len(chain) == 2 and chain[0].flushed_at < older_than_micros
        else:
            root = chain[-1]
            keep = 1
            while keep < len(chain) - 1 and chain[keep].flushed_at >= older_than_micros:
                keep += 1
            oldest_kept = chain[keep - 1]
            expired = chain[keep:-1]
            ref_expired = chain[0].flushed_at < older_than_micros
            if expired:
                full = await assets.fetch_snapshot(oldest_kept.snapshot_id)
                await assets.rewrite_snapshot(replace(full, parent_id=root.snapshot_id))
                result.edited.add(oldest_kept.snapshot_id)
                result.released.update(s.snapshot_id for s in expired)
        if ref_expired and name != "main":
            if kind == "branch" and delete_expired_branches:
                await _refs.delete_branch(assets.backend, name)
                result.deleted_refs.add((kind, name))
            elif kind == "tag" and delete_expired_tags:
                await _refs.delete_tag(assets.backend, name)
                result.deleted_refs.add((kind, name))
    return result

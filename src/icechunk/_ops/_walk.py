"""Walking every ref's history."""

from __future__ import annotations

from collections.abc import AsyncIterator

from .. import _refs
from .._asset_manager import AssetManager
from .._format.snapshot import SnapshotHeader


async def ref_tips(assets: AssetManager) -> list[tuple[str, str, bytes]]:
    """``(kind, name, tip)`` for every tag then every branch, each in name order."""
    branches, tags = await _refs.list_refs(assets.backend)
    tips = [("tag", t, await _refs.read_tag(assets.backend, t)) for t in sorted(tags)]
    for b in sorted(branches):
        tips.append(("branch", b, (await _refs.read_branch(assets.backend, b)).snapshot_id))
    return tips


async def history(assets: AssetManager, tip: bytes) -> AsyncIterator[SnapshotHeader]:
    """``tip`` and its ancestors, newest first (headers: no nodes)."""
    current: bytes | None = tip
    while current is not None:
        header = await assets.fetch_snapshot_header(current)
        yield header
        current = header.parent_id

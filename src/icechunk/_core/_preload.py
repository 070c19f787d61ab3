"""Manifest preload: when a session opens, load the manifests its reads will most likely need.

As upstream Icechunk: the nodes of the session's snapshot are walked in path order; each
manifest of an array is loaded if the ``ManifestPreloadConfig`` condition matches the array's
path and the manifest's number of references, and if the references loaded so far plus its own
stay within ``max_total_refs``. Loading runs in the background and only fills the asset
manager's cache; a failure is logged, never raised.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from .._asset_manager import AssetManager
from .._config import ManifestPreloadCondition
from .._config.conditions import default_preload_condition
from .._config.defaults import MANIFEST_PRELOAD_MAX_TOTAL_REFS
from .._format.ids import encode_id
from .._format.snapshot import Snapshot

_log = logging.getLogger(__name__)


def preload_settings(preload: Any) -> tuple[int, Any]:
    """``(max_total_refs, condition)`` of a ``ManifestPreloadConfig`` (None: the defaults)."""
    max_refs = getattr(preload, "max_total_refs", None)
    condition = getattr(preload, "preload_if", None)
    return (
        MANIFEST_PRELOAD_MAX_TOTAL_REFS if max_refs is None else int(max_refs),
        default_preload_condition() if condition is None else condition,
    )


def manifests_to_preload(snapshot: Snapshot, preload: Any) -> list[bytes]:
    """Ids of the manifests of ``snapshot`` that ``preload`` selects, in loading order."""
    max_refs, condition = preload_settings(preload)
    if max_refs == 0:
        return []
    infos = {info.manifest_id: info for info in snapshot.manifest_files}
    chosen: list[bytes] = []
    seen: set[bytes] = set()
    total = 0
    for node in snapshot.nodes:
        if node.array is None:
            continue
        for ref in node.array.manifests:
            info = infos.get(ref.manifest_id)
            if ref.manifest_id in seen or info is None:
                continue
            if total + info.num_chunk_refs <= max_refs and condition._matches(
                node.path, info.num_chunk_refs
            ):
                chosen.append(ref.manifest_id)
                seen.add(ref.manifest_id)
                total += info.num_chunk_refs
    return chosen


async def preload_manifests(assets: AssetManager, snapshot_id: bytes, preload: Any) -> int:
    """Load (into the cache) the manifests ``preload`` selects; return how many."""
    try:
        snapshot = await assets.fetch_snapshot(snapshot_id)
        ids = manifests_to_preload(snapshot, preload)
        results = await asyncio.gather(
            *(assets.fetch_manifest(i) for i in ids), return_exceptions=True
        )
    except Exception as e:  # noqa: BLE001 - preloading is an optimisation only
        _log.warning("Manifest preload for snapshot %s failed: %s", encode_id(snapshot_id), e)
        return 0
    for manifest_id, result in zip(ids, results):
        if isinstance(result, BaseException):
            _log.warning("Failure preloading manifest %s: %s", encode_id(manifest_id), result)
    return len(ids)


def start_preload(
    assets: AssetManager, snapshot_id: bytes, preload: Any
) -> asyncio.Task[int] | None:
    """Start :func:`preload_manifests` in the background (None when nothing can match)."""
    max_refs, condition = preload_settings(preload)
    if max_refs == 0 or isinstance(condition, type(ManifestPreloadCondition.false())):
        return None
    return asyncio.ensure_future(preload_manifests(assets, snapshot_id, preload))

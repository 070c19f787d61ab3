"""Garbage collection (spec v1): delete objects no ref can reach, older than a cutoff.

Everything reachable from a branch or tag is marked: snapshots in their ancestries, those
snapshots' transaction logs and manifests, and the native chunks the manifests point to.
Unmarked objects older than the cutoff are deleted: snapshots first, chunks last, so that an
interrupted run never leaves a reachable snapshot pointing at deleted data. Only keys that are
repository object names (a valid id under its prefix) are ever deleted: anything else found
there is not ours.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from .._asset_manager import CHUNKS, MANIFESTS, SNAPSHOTS, TRANSACTIONS, AssetManager
from .._format.ids import INITIAL_SNAPSHOT_ID, decode_id, encode_id, is_object_id
from .._format.manifest import RefKind
from .._progress import NoProgress, Progress
from ._walk import history, ref_tips
from .summary import GCSummary

_log = logging.getLogger(__name__)


@dataclass
class Reachable:
    snapshots: set[str]
    manifests: set[str]
    chunks: set[str]


async def mark(assets: AssetManager, progress: Progress | None = None) -> Reachable:
    """Names of every object reachable from a ref."""
    progress = progress or NoProgress()
    snapshots: set[bytes] = {INITIAL_SNAPSHOT_ID}
    manifests: set[bytes] = set()
    tips = await ref_tips(assets)
    progress.stage("Walking history", len(tips))
    for _, _, tip in tips:
        async for snapshot in history(assets, tip):
            if snapshot.snapshot_id in snapshots and snapshot.snapshot_id != INITIAL_SNAPSHOT_ID:
                break
            snapshots.add(snapshot.snapshot_id)
            manifests.update(m.manifest_id for m in snapshot.manifest_files)
        progress.step()
    chunks: set[bytes] = set()
    progress.stage("Reading manifests", len(manifests))
    for manifest_id in manifests:
        progress.step()
        manifest = await assets.fetch_manifest(manifest_id)
        for table in manifest.arrays.values():
            native = table.chunk_id[table.kind == RefKind.NATIVE]
            if len(native):
                chunks.update(bytes(row) for row in np.unique(native, axis=0))
    return Reachable(
        {encode_id(s) for s in snapshots},
        {encode_id(m) for m in manifests},
        {encode_id(c) for c in chunks},
    )


async def garbage_collect(
    assets: AssetManager,
    older_than_micros: int,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> GCSummary:
    """Delete unreachable objects last modified before ``older_than_micros``."""
    _log.debug("Garbage collection started (dry run: %s)", dry_run)
    progress = progress or NoProgress()
    keep = await mark(assets, progress)
    counts: dict[str, int] = {}
    total_bytes = 0
    for prefix, live in (
        (SNAPSHOTS, keep.snapshots),
        (TRANSACTIONS, keep.snapshots),
        (MANIFESTS, keep.manifests),
        (CHUNKS, keep.chunks),
    ):
        doomed = []
        progress.stage(f"Scanning {prefix.rstrip('/')}")
        async for info in assets.backend.list(prefix):
            progress.step()
            name = info.key[len(prefix) :]
            modified = int(info.last_modified.timestamp() * 1_000_000)
            if name not in live and is_object_id(name) and modified < older_than_micros:
                doomed.append(info.key)
                total_bytes += info.size
        if doomed and not dry_run:
            await assets.backend.delete(doomed)
            assets.forget(doomed)
        counts[prefix] = len(doomed)
    _log.debug("Garbage collection done: %s objects of %s bytes", sum(counts.values()), total_bytes)
    return GCSummary(
        bytes_deleted=total_bytes,
        chunks_deleted=counts[CHUNKS],
        manifests_deleted=counts[MANIFESTS],
        snapshots_deleted=counts[SNAPSHOTS],
        transaction_logs_deleted=counts[TRANSACTIONS],
    )


async def chunk_storage_stats(
    assets: AssetManager, progress: Progress | None = None
) -> tuple[int, int, int]:
    """Bytes of ``(native, virtual, inline)`` chunks reachable from any ref.

    Native chunk objects are counted once however many references share them.
    """
    progress = progress or NoProgress()
    keep = await mark(assets, progress)
    progress.stage("Counting chunk bytes", len(keep.manifests))
    native = virtual = inline = 0
    seen_virtual: set[tuple[str, int, int]] = set()
    for name in keep.manifests:
        manifest = await assets.fetch_manifest(decode_id(name))
        progress.step()
        for table in manifest.arrays.values():
            inline += int(table.length[table.kind == RefKind.INLINE].sum())
            rows = np.flatnonzero(table.kind == RefKind.VIRTUAL)
            for row in rows.tolist():
                key = (table.location[row], int(table.offset[row]), int(table.length[row]))
                if key not in seen_virtual:
                    seen_virtual.add(key)
                    virtual += key[2]
    progress.stage("Scanning chunks")
    async for info in assets.backend.list(CHUNKS):
        progress.step()
        if info.key[len(CHUNKS) :] in keep.chunks:
            native += info.size
    return native, virtual, inline

"""Expiry, garbage collection and storage statistics of a repository, with progress bars."""

from __future__ import annotations

import datetime as _dt

from .._format.ids import encode_id
from .._ops.expiration import expire_snapshots as _expire
from .._ops.gc import chunk_storage_stats as _chunk_stats
from .._ops.gc import garbage_collect as _gc
from .._ops.summary import ChunkStorageStats, GCSummary
from .._progress import progress_bar
from .._time import to_micros
from .repository import RepositoryCore


async def expire_snapshots(
    repo: RepositoryCore,
    older_than: _dt.datetime,
    delete_expired_branches: bool,
    delete_expired_tags: bool,
    progress: bool,
) -> set[str]:
    """Cut snapshots older than ``older_than`` out of every ref's history; their ids."""
    with progress_bar(progress, unit="ref") as bar:
        result = await _expire(
            repo.assets,
            to_micros(older_than),
            delete_expired_branches=delete_expired_branches,
            delete_expired_tags=delete_expired_tags,
            progress=bar,
        )
    return {encode_id(s) for s in result.released}


async def garbage_collect(
    repo: RepositoryCore, older_than: _dt.datetime, dry_run: bool, progress: bool
) -> GCSummary:
    """Delete unreachable objects last modified before ``older_than`` (or count them)."""
    with progress_bar(progress, unit="object") as bar:
        result = await _gc(repo.assets, to_micros(older_than), dry_run=dry_run, progress=bar)
    return GCSummary(
        bytes_deleted=result.bytes_deleted,
        chunks_deleted=result.chunks_deleted,
        manifests_deleted=result.manifests_deleted,
        snapshots_deleted=result.snapshots_deleted,
        transaction_logs_deleted=result.transaction_logs_deleted,
    )


async def chunk_storage_stats(repo: RepositoryCore, progress: bool) -> ChunkStorageStats:
    """Bytes of chunks reachable from any branch or tag, by storage kind."""
    with progress_bar(progress, unit="object") as bar:
        native, virtual, inline = await _chunk_stats(repo.assets, bar)
    return ChunkStorageStats(native, virtual, inline)

"""Maintenance methods of ``Repository``: manifest rewrites, expiry, garbage collection, stats."""

from __future__ import annotations

import datetime as _dt
import warnings
from typing import Any

from ._core import maintenance
from ._core.repository import RepositoryCore
from ._ops.summary import ChunkStorageStats, GCSummary
from ._sync import blocking

__all__ = ["RepositoryMaintenance"]


class RepositoryMaintenance:
    """The maintenance half of :class:`~icechunk.Repository` (its base class)."""

    _core: RepositoryCore

    async def rewrite_manifests_async(
        self,
        message: str,
        *,
        branch: str,
        metadata: dict[str, Any] | None = None,
        progress: bool = False,
    ) -> str:
        """Async version of :meth:`rewrite_manifests`."""
        return await self._core.rewrite_manifests(message, branch, metadata, progress)

    rewrite_manifests = blocking(
        rewrite_manifests_async,
        """Commit to ``branch`` a snapshot whose arrays each get one freshly written manifest.

        ``progress=True`` shows a progress bar (tqdm) of the arrays rewritten.

        Returns
        -------
        str
            The id of the new snapshot.
        """,
    )

    # --- maintenance -------------------------------------------------------------------------

    async def expire_snapshots_async(
        self,
        older_than: _dt.datetime,
        *,
        delete_expired_branches: bool = False,
        delete_expired_tags: bool = False,
        progress: bool = False,
    ) -> set[str]:
        """Async version of :meth:`expire_snapshots`."""
        return await maintenance.expire_snapshots(
            self._core, older_than, delete_expired_branches, delete_expired_tags, progress
        )

    expire_snapshots = blocking(
        expire_snapshots_async,
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
        """,
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
        return await maintenance.garbage_collect(
            self._core, delete_object_older_than, dry_run, progress
        )

    garbage_collect = blocking(
        garbage_collect_async,
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
        """,
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
        return await maintenance.chunk_storage_stats(self._core, progress)

    chunk_storage_stats = blocking(
        chunk_storage_stats_async,
        """Bytes of chunks reachable from any branch or tag, by storage kind.

        ``progress=True`` shows progress bars (tqdm) of the history and manifests read.
        """,
    )

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


def _warn_deprecated(method: str, replacement: str) -> None:
    warnings.warn(
        f"Repository.{method} is deprecated and will be removed: use "
        f"Repository.{replacement}().native_bytes for the same number, or the whole result "
        "for the bytes of inline and virtual chunks too",
        DeprecationWarning,
        stacklevel=3,
    )

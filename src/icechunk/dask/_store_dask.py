"""Write dask arrays into Icechunk from any dask scheduler.

Workers write chunks through a picklable ``ForkSession``; each write task hands back the fork
it wrote through, and a tree reduction merges those forks into one, which the caller merges
into its session and commits::

    session = repo.writable_session("main")
    fork = session.fork()
    array = zarr.open_array(fork.store, path="array")
    merged = store_dask(sources=[dask_array], targets=[array])
    session.merge(merged)
    session.commit("wrote dask array")

The threaded scheduler, the processes scheduler and ``distributed`` all work; ``distributed``
is never imported here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dask
import dask.array as da
from packaging.version import Version

from ..distributed import extract_session, merge_sessions
from ..session import ForkSession, Session
from ._lazy import progress_context

__all__ = ["store_dask"]

_MIN_DASK = "2024.11.0"
_DEFAULT_SPLIT_EVERY = 8

# ``dask.array.store`` options that store_dask sets itself.
_RESERVED = ("compute", "return_stored", "load_stored", "lock")


def _check_dask_version() -> None:
    if Version(dask.__version__) < Version(_MIN_DASK):
        raise ValueError(
            f"writing to Icechunk with dask requires dask>={_MIN_DASK}; you have "
            f"{dask.__version__}"
        )


def store_dask(
    *,
    sources: Sequence[da.Array],
    targets: Sequence[Any],
    regions: Sequence[tuple[slice, ...] | None] | None = None,
    split_every: int | None = None,
    progress: bool = False,
    **store_kwargs: Any,
) -> ForkSession:
    """``dask.array.store`` for Icechunk: write, then merge the workers' fork sessions.

    The writes run now (this function computes). Every target must be a zarr array opened on
    the store of one ``ForkSession`` (``session.fork().store``); the fork sessions the
    workers wrote through are merged with a tree reduction and returned.

    Parameters
    ----------
    sources
        The dask arrays to write.
    targets
        For each source, the zarr array to write it into.
    regions
        For each source, the region (a tuple of slices) of its target to write, or None for
        the whole target.
    split_every
        How many fork sessions each task of the tree reduction merges (default 8).
    progress
        Show a ``dask.diagnostics.ProgressBar`` while writing (local schedulers; on a
        ``distributed`` cluster use its dashboard or ``distributed.progress``).
    **store_kwargs
        Passed on to ``dask.compute`` (for example ``scheduler=``); ``compute``,
        ``return_stored``, ``load_stored`` and ``lock`` are not accepted.

    Returns
    -------
    ForkSession
        All the workers' changes; merge it with ``session.merge(...)`` and commit.
    """
    _check_dask_version()
    bad = [k for k in _RESERVED if k in store_kwargs]
    if bad:
        raise TypeError(f"store_dask does not accept {', '.join(bad)}")
    sources = list(sources)
    targets = list(targets)
    if len(sources) != len(targets):
        raise ValueError(
            f"store_dask needs one target per source: got {len(sources)} sources and "
            f"{len(targets)} targets"
        )
    if not sources:
        raise ValueError("store_dask needs at least one source")
    for t in targets:
        session = extract_session(t)
        if not isinstance(session, ForkSession):
            raise ValueError(
                "store_dask targets must be opened on a ForkSession's store: fork the session "
                "with session.fork(), open the arrays on fork.store, and merge the result "
                "back into the session"
            )
    merged = _write_and_merge(
        sources,
        targets,
        list(regions) if regions is not None else None,
        split_every,
        store_kwargs,
        progress=progress,
    )
    return merged


def _write_and_merge(
    sources: list[Any],
    targets: list[Any],
    regions: list[Any] | None,
    split_every: int | None,
    compute_kwargs: dict[str, Any],
    *,
    compute: bool = True,
    progress: bool = False,
) -> Any:
    """Build the write graph, reduce the forks of its tasks to one, and compute it.

    Returns the merged ``ForkSession``, or with ``compute=False`` the ``Delayed`` computing it.
    """
    compute_kwargs = dict(compute_kwargs)
    compute_kwargs.pop("flush", None)  # passed by xarray's writers; meaningless here
    stored = da.store(
        sources,
        targets,
        regions=regions,
        lock=False,
        compute=False,
        return_stored=True,
        load_stored=False,
    )
    if isinstance(stored, da.Array):
        stored = (stored,)
    reduced = session_merge_reduction(list(stored), split_every=split_every)
    if not compute:
        return reduced
    with progress_context(progress):
        (result,) = dask.compute(reduced, **compute_kwargs)
    return result


def session_merge_reduction(
    arrays: da.Array | list[da.Array], *, split_every: int | None = None, **_: Any
) -> Any:
    """A lazy object that computes to the merge of the forks behind every block of ``arrays``.

    Each block of ``arrays`` (as built by ``dask.array.store(..., return_stored=True,
    load_stored=False)``) computes to the zarr array its task wrote into. The forks behind
    them are merged in a tree, ``split_every`` at a time.
    """
    if isinstance(arrays, da.Array):
        arrays = [arrays]
    k = split_every or _DEFAULT_SPLIT_EVERY
    if k < 2:
        raise ValueError(f"split_every must be at least 2, got {split_every}")
    level: list[Any] = []
    for arr in arrays:
        level.extend(arr.to_delayed().ravel().tolist())
    merge = dask.delayed(_merge_blocks, pure=False)
    # first level: blocks (zarr arrays) -> forks; then forks -> fork
    level = [merge(*level[i : i + k]) for i in range(0, len(level), k)]
    while len(level) > 1:
        level = [merge(*level[i : i + k]) for i in range(0, len(level), k)]
    return level[0]


def _merge_blocks(*items: Any) -> ForkSession:
    """Merge the fork sessions behind zarr arrays or fork sessions into one."""
    sessions: list[Session] = [
        item if isinstance(item, Session) else extract_session(item) for item in items
    ]
    return merge_sessions(*sessions)  # type: ignore[arg-type]

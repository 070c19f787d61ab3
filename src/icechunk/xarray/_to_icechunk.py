"""Write Xarray objects to Icechunk: ``to_icechunk``.

Read them back with plain Xarray: ``xr.open_zarr(session.store, consolidated=False)`` or
``xr.open_dataset(session.store, engine="zarr", consolidated=False)``.

In-memory (numpy) variables are written straight through the session. Dask-backed variables
are written lazily by the dask scheduler's workers through a fork of the session, and the
workers' forks are merged back into the session with a tree reduction.
"""

from __future__ import annotations

import inspect
from collections.abc import Hashable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import xarray as xr
from packaging.version import Version
from xarray import DataArray, Dataset
from xarray.backends.common import ArrayWriter
from xarray.backends.zarr import ZarrStore

from .._exceptions import ForkSessionError, RegionNotAlignedError
from ..session import ForkSession, Session
from ..store import IcechunkStore

if TYPE_CHECKING:
    from ..dask._lazy import LazyWrite

try:  # xarray >= 2025.09 moved the writers out of backends.api
    from xarray.backends.writers import _validate_dataset_names, dump_to_store
except ImportError:  # pragma: no cover - older xarray
    from xarray.backends.api import (  # type: ignore[no-redef,attr-defined]
        _validate_dataset_names,
        dump_to_store,
    )

__all__ = ["to_icechunk"]

_MIN_XARRAY = "2024.10.0"
if Version(xr.__version__) < Version(_MIN_XARRAY):
    raise ImportError(
        f"writing to Icechunk requires xarray>={_MIN_XARRAY}; you have {xr.__version__}"
    )

Region = Mapping[str, slice | Literal["auto"]] | Literal["auto"] | None
ZarrWriteModes = Literal["w", "w-", "a", "a-", "r+", "r"]

# The keywords ZarrStore.open_group takes in the installed xarray: arguments come and go
# between releases (``synchronizer`` and ``zarr_version`` are gone, ``align_chunks`` and
# ``cache_members`` are new), so only those it knows are passed.
_OPEN_GROUP_PARAMS = frozenset(inspect.signature(ZarrStore.open_group).parameters)


def is_dask_collection(x: Any) -> bool:
    """Whether ``x`` is a dask collection (False when dask is not installed)."""
    try:
        from dask.base import is_dask_collection as _is_dask
    except ImportError:
        return False
    return bool(_is_dask(x))


def _choose_default_mode(
    *, mode: ZarrWriteModes | None, append_dim: Hashable | None, region: Region
) -> ZarrWriteModes:
    """The write mode implied by the arguments, as ``Dataset.to_zarr`` chooses it."""
    if mode is None:
        if append_dim is not None:
            mode = "a"
        elif region is not None:
            mode = "r+"
        else:
            mode = "w-"
    if append_dim is not None and mode not in ("a", "a-"):
        raise ValueError(f"cannot set append_dim unless mode='a' or mode=None; got mode={mode!r}")
    if region is not None and mode not in ("a", "a-", "r+"):
        raise ValueError(
            "cannot set region unless mode='a', mode='a-', mode='r+' or mode=None; "
            f"got mode={mode!r}"
        )
    if mode not in ("w", "w-", "a", "a-", "r+"):
        raise ValueError(
            f"the only supported modes are 'w', 'w-', 'a', 'a-' and 'r+'; got mode={mode!r}"
        )
    return mode


class _SplitArrayWriter(ArrayWriter):
    """Collects writes, keeping dask-backed sources apart from in-memory ones."""

    __slots__ = ("eager",)

    def __init__(self) -> None:
        super().__init__()
        self.eager: list[tuple[Any, Any, Any]] = []

    def add(self, source: Any, target: Any, region: Any = None) -> None:
        if is_dask_collection(source):
            self.sources.append(source)
            self.targets.append(target)
            self.regions.append(region)
        else:
            self.eager.append((source, target, region))

    def write_eager(self) -> None:
        eager, self.eager = self.eager, []
        for source, target, region in eager:
            if region:
                target[region] = source
            else:
                target[...] = source


@dataclass
class _XarrayDatasetWriter:
    """Writes a Dataset to a group of an Icechunk store, in steps.

    Private API: ``to_icechunk`` is the public entry point. The steps are ``_open_group``,
    ``write_metadata`` (creates or resizes arrays, writes attributes), ``write_eager``
    (in-memory variables) and ``write_lazy`` (dask variables; returns the merged fork).
    """

    dataset: Dataset = field(repr=False)
    store: IcechunkStore = field(kw_only=True)
    safe_chunks: bool = field(kw_only=True, default=True)
    align_chunks: bool = field(kw_only=True, default=False)

    _initialized: bool = field(default=False, repr=False)
    xarray_store: ZarrStore = field(init=False, repr=False)
    writer: _SplitArrayWriter = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.store, IcechunkStore):
            raise ValueError(
                "to_icechunk writes through an icechunk Session; got a store of type "
                f"{type(self.store).__name__}"
            )

    def _open_group(
        self,
        *,
        group: str | None,
        mode: ZarrWriteModes | None,
        append_dim: Hashable | None,
        region: Region,
    ) -> None:
        concrete_mode = _choose_default_mode(mode=mode, append_dim=append_dim, region=region)
        kwargs: dict[str, Any] = {
            "store": self.store,
            "group": group,
            "mode": concrete_mode,
            "zarr_format": 3,
            "append_dim": append_dim,
            "write_region": region,
            "safe_chunks": self.safe_chunks,
            "align_chunks": self.align_chunks,
            "consolidated": False,
            "consolidate_on_close": False,
        }
        if self.align_chunks and "align_chunks" not in _OPEN_GROUP_PARAMS:
            raise ValueError(f"align_chunks=True needs a newer xarray than {xr.__version__}")
        kwargs = {k: v for k, v in kwargs.items() if k in _OPEN_GROUP_PARAMS}
        self.xarray_store = ZarrStore.open_group(**kwargs)
        self.dataset = self.xarray_store._validate_and_autodetect_region(self.dataset)

    def check_region_alignment(self) -> None:
        """Refuse a region that covers part of a chunk (or shard).

        A fork writing part of a chunk rewrites the whole chunk, so merging it with the forks
        that wrote the chunk's other parts would keep only one of them.
        """
        region = self.xarray_store._write_region
        if not region:
            return
        group = self.xarray_store.zarr_group
        for name, variable in self.dataset.variables.items():
            if name not in group:
                continue
            array = group[name]
            unit = array.shards or array.chunks
            for axis, dim in enumerate(variable.dims):
                piece = region.get(dim)
                if piece is None:
                    continue
                start, stop, _ = piece.indices(array.shape[axis])
                step = unit[axis]
                if start % step or (stop % step and stop != array.shape[axis]):
                    raise RegionNotAlignedError(
                        f"variable {name!r}: region {dim}={start}:{stop} covers part of a chunk "
                        f"(chunks are {step} long along {dim!r}). Written from a fork, a "
                        "partial chunk replaces the parts other workers write, and merging "
                        "would lose them. Give each worker a region of whole chunks (start "
                        f"and stop multiples of {step}, e.g. {dim}=slice("
                        f"{start - start % step}, {start - start % step + step})), rechunk the "
                        "array so each worker owns whole chunks, or write this region through "
                        "the session itself rather than a fork"
                    )

    def write_metadata(self, encoding: Mapping[Any, Any] | None = None) -> None:
        """Create (or resize, for appends) the arrays and write attributes."""
        _validate_dataset_names(self.dataset)
        encoding = dict(encoding or {})
        self.xarray_store._validate_encoding(encoding)
        self.writer = _SplitArrayWriter()
        dump_to_store(self.dataset, self.xarray_store, self.writer, encoding=encoding)
        self._initialized = True

    def write_eager(self) -> None:
        """Write the in-memory variables."""
        if not self._initialized:
            raise ValueError("call write_metadata first")
        self.writer.write_eager()

    def write_lazy(
        self,
        chunkmanager_store_kwargs: MutableMapping[Any, Any] | None = None,
        split_every: int | None = None,
        *,
        compute: bool = True,
        progress: bool = False,
    ) -> Any:
        """Write the dask variables from the scheduler's workers; the merged fork, or None.

        With ``compute=False`` nothing runs: the ``Delayed`` computing the merged fork.
        """
        if not self._initialized:
            raise ValueError("call write_metadata first")
        if not self.writer.sources:
            return None
        from ..dask._store_dask import _write_and_merge

        kwargs = dict(chunkmanager_store_kwargs or {})
        for k in ("compute", "return_stored", "load_stored", "lock"):
            kwargs.pop(k, None)
        sources, targets, regions = self.writer.sources, self.writer.targets, self.writer.regions
        self.writer.sources, self.writer.targets, self.writer.regions = [], [], []
        return _write_and_merge(
            sources, targets, regions, split_every, kwargs, compute=compute, progress=progress
        )


def to_icechunk(
    obj: DataArray | Dataset,
    session: Session,
    *,
    group: str | None = None,
    mode: ZarrWriteModes | None = None,
    safe_chunks: bool = True,
    align_chunks: bool = False,
    append_dim: Hashable | None = None,
    region: Region = None,
    encoding: Mapping[Any, Any] | None = None,
    chunkmanager_store_kwargs: MutableMapping[Any, Any] | None = None,
    split_every: int | None = None,
    compute: bool = True,
    progress: bool = False,
) -> LazyWrite | None:
    """Write an Xarray Dataset or DataArray to a group of an Icechunk session's store.

    Works like ``Dataset.to_zarr`` (Zarr format 3, no consolidated metadata). Dask-backed
    variables are written in parallel by the current dask scheduler (threads, processes or a
    ``distributed`` cluster) through a fork of ``session``; the forks are merged back into
    ``session``. Commit the session afterwards.

    Parameters
    ----------
    obj
        The Dataset or DataArray to write.
    session
        A writable ``Session`` (clean, if ``obj`` holds dask arrays), or a ``ForkSession``.
    group
        The group to write into (default: the root).
    mode
        ``"w"`` create, overwriting; ``"w-"`` create, fail if it exists; ``"a"`` override
        or append variables (create if missing); ``"a-"`` only append variables that have
        ``append_dim``; ``"r+"`` modify existing array values only. Default: ``"a"`` with
        ``append_dim``, ``"r+"`` with ``region``, ``"w-"`` otherwise.
    safe_chunks
        Refuse writes where several dask chunks would write into one zarr chunk, and, on a
        ``ForkSession``, a ``region`` that covers only part of a chunk (another worker's part
        of it would be lost on merge).
    align_chunks
        Rechunk dask arrays to line up with the zarr chunks before writing.
    append_dim
        The dimension to append along.
    region
        A mapping from dimension names to integer slices or ``"auto"`` (or ``"auto"`` for
        all): the region of existing arrays to write into.
    encoding
        Per-variable encodings, e.g. ``{"t": {"dtype": "int16", "scale_factor": 0.1}}``.
    chunkmanager_store_kwargs
        Extra keyword arguments for computing the dask writes (e.g. ``{"scheduler": ...}``).
    split_every
        How many fork sessions each task of the merge tree combines.
    compute
        With False, write the metadata and in-memory variables now but not the dask
        variables: return a ``Delayed`` (as ``to_zarr`` does) whose ``.compute()`` writes
        them and merges the result into ``session``; commit afterwards. ``dask.compute``,
        ``client.compute`` or ``client.persist`` of it give the workers' merged
        ``ForkSession`` instead, to merge with ``session.merge(...)`` before committing.
    progress
        Show a ``dask.diagnostics.ProgressBar`` while the dask variables are written (local
        schedulers; on a ``distributed`` cluster pass ``compute=False`` and use
        ``distributed.progress``).

    Returns
    -------
    LazyWrite or None
        With ``compute=False``, the deferred writes; otherwise None.

    Raises
    ------
    RegionNotAlignedError
        For a ``region`` that covers part of a chunk, when writing through a fork.
    ValueError
        For a session with uncommitted changes when ``obj`` holds dask arrays (commit
        first), and for invalid combinations of ``mode``, ``append_dim`` and ``region``.
    """
    if not isinstance(session, Session):
        raise TypeError(
            f"to_icechunk needs an icechunk Session; got {type(session).__name__} (pass the "
            "session, not session.store)"
        )
    dataset = _make_dataset(obj)
    # zero-length variables are tiny; writing them lazily trips over empty dask graphs
    for v in dataset.variables.values():
        if v.size == 0:
            v.load()
    lazy = any(is_dask_collection(v.data) for v in dataset.variables.values())

    target: Session
    if lazy and not isinstance(session, ForkSession):
        if session.read_only:
            raise ValueError("to_icechunk needs a writable session; this one is read-only")
        if session.has_uncommitted_changes:
            raise ForkSessionError(
                "to_icechunk with dask arrays forks the session for the workers, and a session "
                "with uncommitted changes cannot be forked. Please commit first (or .load() "
                "the data to write it in this process)"
            )
        target = session.fork()
    else:
        target = session

    writer = _XarrayDatasetWriter(
        dataset, store=target.store, safe_chunks=safe_chunks, align_chunks=align_chunks
    )
    writer._open_group(group=group, mode=mode, append_dim=append_dim, region=region)
    if isinstance(session, ForkSession) and safe_chunks:
        # a fork passed in is one of many parallel writers (a fork made here for dask data
        # writes each zarr chunk from one task, as xarray's safe_chunks checks)
        writer.check_region_alignment()
    writer.write_metadata(encoding)
    writer.write_eager()
    merged = writer.write_lazy(
        chunkmanager_store_kwargs=chunkmanager_store_kwargs,
        split_every=split_every,
        compute=compute,
        progress=progress,
    )
    if not compute:
        from ..dask._lazy import LazyWrite as _LazyWrite

        local = [target] if isinstance(target, ForkSession) and target is not session else []
        return _LazyWrite.of(merged, session, local)
    if merged is None:
        if target is not session:  # forked for dask data that turned out all in memory
            session.merge(target)  # type: ignore[arg-type]
        return None
    # The workers' forks carry the metadata and eager writes made above (they were pickled
    # from `target` after them); merging `target` too keeps them when every task ran here.
    to_merge = [target, merged] if merged is not target else [target]
    if target is session:
        others = [f for f in to_merge if f is not session]
        if others:
            session.merge(*others)  # type: ignore[arg-type]
    else:
        session.merge(*to_merge)  # type: ignore[arg-type]
    return None


def _make_dataset(obj: DataArray | Dataset) -> Dataset:
    """The Dataset that ``DataArray.to_zarr`` would write for ``obj``."""
    if isinstance(obj, Dataset):
        return obj
    if not isinstance(obj, DataArray):
        raise TypeError(f"to_icechunk writes a Dataset or DataArray; got {type(obj).__name__}")
    # the names xarray uses to round-trip DataArrays through Zarr and netCDF
    name_key, variable_key = "__xarray_dataarray_name__", "__xarray_dataarray_variable__"
    if obj.name is None:
        return obj.to_dataset(name=variable_key)
    if obj.name in obj.coords or obj.name in obj.dims:
        ds = obj.to_dataset(name=variable_key)
        ds.attrs[name_key] = obj.name
        return ds
    return obj.to_dataset()

"""``ingest_kerchunk``: a kerchunk reference set into a session, as zarr v3 nodes and chunk refs."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from .._exceptions import NodeAlreadyExistsError
from .._sync import sync
from .._virtual import VirtualChunkResolver
from ._errors import KerchunkLocationError
from ._metadata import array_metadata_v3, group_metadata_v3, zarr_json
from ._nodes import ArrayRefs, assign_chunks, nodes, parents
from ._refs import RefsInput, load_references

if TYPE_CHECKING:
    from ..store import IcechunkStore

__all__ = ["IngestSummary", "ingest_kerchunk", "ingest_kerchunk_async"]


@dataclass(frozen=True)
class IngestSummary:
    """What :func:`ingest_kerchunk` wrote.

    Attributes
    ----------
    groups, arrays
        The paths (in the store) of the groups and arrays written.
    virtual_chunks
        How many chunk references into other files were stored.
    inline_chunks
        How many chunks were stored from bytes held in the reference set.
    """

    groups: tuple[str, ...]
    arrays: tuple[str, ...]
    virtual_chunks: int
    inline_chunks: int


def ingest_kerchunk(
    refs: RefsInput,
    store: IcechunkStore,
    *,
    group: str | None = None,
    concat_dims: Sequence[str] | None = None,
    identical_dims: Sequence[str] | None = None,
    last_updated_at: datetime | None = None,
    overwrite: bool = False,
) -> IngestSummary:
    """Write a kerchunk reference set into a session as zarr v3 groups, arrays and chunk refs.

    Chunks that the reference set points at (``[url, offset, length]`` or ``[url]``) become
    virtual chunk references; chunks it holds (strings, ``base64:`` data) become ordinary
    chunks. The zarr v2 metadata (``.zgroup``, ``.zarray``, ``.zattrs``) becomes zarr v3
    metadata: ``_ARRAY_DIMENSIONS`` turns into dimension names; a v2 fill value becomes
    the v3 one and, as xarray reads v2 fill values, the ``_FillValue`` attribute (a null
    one becomes NaN for floats, zero otherwise, with no attribute); numcodecs codecs
    become zarr v3 codecs (gzip, zstd and blosc zarr's own, others ``numcodecs.<id>``),
    including kerchunk's GRIB codec, which this package provides to zarr: a reader in a
    new process needs only ``icechunk`` installed. Everything is checked before the first
    write, so a bad reference set changes nothing. Nothing is committed: call
    ``session.commit`` afterwards.

    Parameters
    ----------
    refs
        The reference set: a dict (kerchunk version 0 or 1, with ``templates`` and ``gen``
        if any), JSON text, the path or URL of a JSON file, the directory of a parquet
        reference set, or a list of these (for example what ``kerchunk.grib2.scan_grib``
        returns, one set per GRIB message), which is combined first with kerchunk's
        ``MultiZarrToZarr`` along ``concat_dims``.
    store
        The store of a writable session (``session.store``).
    group
        Where the reference set's root goes in the store, e.g. ``"forecasts/2024"``;
        default the store's root. Missing parent groups are created; the attributes of
        the groups the reference set describes are replaced by its ``.zattrs``.
    concat_dims, identical_dims
        For a list of reference sets: the dimensions they are concatenated along (e.g.
        ``["time"]`` or ``["step"]``) and the coordinates they all share (e.g.
        ``["latitude", "longitude"]``), passed to ``MultiZarrToZarr``. By default the
        shared coordinates are the arrays every set holds inline with the same values
        (for GRIB messages: latitude, longitude, the level and the step) and the CF
        coordinates stored in the files with the same metadata in every set that do not
        span a concatenated dimension (the 2-D latitude and longitude of a projected
        GRIB grid).
    last_updated_at
        The time the referenced files were last written (a naive datetime is local time):
        reading a chunk whose file was modified after it fails instead of returning other
        bytes, as with VirtualiZarr's ``last_updated_at``.
    overwrite
        Replace arrays that exist at the destination (their old chunks are dropped).
        By default an existing array is an error: its chunks would mix with the new ones.

    Returns
    -------
    IngestSummary
        The groups and arrays written and the number of virtual and inline chunks.

    Raises
    ------
    KerchunkReferenceError
        The reference set is malformed, or needs a codec zarr does not know.
    KerchunkLocationError
        A reference names a relative path, or a location no virtual chunk container of the
        repository covers (declare one with ``config.set_virtual_chunk_container``).
    NodeAlreadyExistsError
        An array of the reference set exists in the store and ``overwrite`` is False.

    Examples
    --------
    Index a GRIB2 file of two times and read it back with xarray::

        import os
        import icechunk
        import xarray as xr
        from icechunk.virtual import ingest_kerchunk
        from kerchunk.grib2 import scan_grib

        path = os.path.abspath("forecast.grib2")
        folder = os.path.dirname(path)
        config = icechunk.RepositoryConfig.default()
        config.set_virtual_chunk_container(
            icechunk.VirtualChunkContainer(
                f"file://{folder}/", icechunk.local_filesystem_store(folder)
            )
        )
        repo = icechunk.Repository.create(
            icechunk.local_filesystem_storage("grib-repo"),
            config=config,
            authorize_virtual_chunk_access={f"file://{folder}/": None},
        )
        session = repo.writable_session("main")
        ingest_kerchunk(scan_grib(path), session.store, concat_dims=["time"])
        session.commit("Index forecast.grib2")
        ds = xr.open_zarr(repo.readonly_session("main").store, consolidated=False)

    A NetCDF4 file, through kerchunk's HDF5 scanner, into a group::

        from kerchunk.hdf import SingleHdf5ToZarr
        refs = SingleHdf5ToZarr("/data/obs.nc").translate()
        ingest_kerchunk(refs, session.store, group="obs")
    """
    return sync(
        ingest_kerchunk_async(
            refs,
            store,
            group=group,
            concat_dims=concat_dims,
            identical_dims=identical_dims,
            last_updated_at=last_updated_at,
            overwrite=overwrite,
        ),
        method="icechunk.virtual.ingest_kerchunk",
    )


async def ingest_kerchunk_async(
    refs: RefsInput,
    store: IcechunkStore,
    *,
    group: str | None = None,
    concat_dims: Sequence[str] | None = None,
    identical_dims: Sequence[str] | None = None,
    last_updated_at: datetime | None = None,
    overwrite: bool = False,
) -> IngestSummary:
    """Async version of :func:`ingest_kerchunk`."""
    from ..store import IcechunkStore

    if not isinstance(store, IcechunkStore):
        raise TypeError(
            f"ingest_kerchunk writes into an icechunk store, got {type(store).__name__}: pass "
            "the store of a writable session, repo.writable_session('main').store"
        )
    if last_updated_at is not None and not isinstance(last_updated_at, datetime):
        raise TypeError(
            f"last_updated_at must be a datetime.datetime, got {type(last_updated_at).__name__}"
        )
    # in a thread: kerchunk's combining and fsspec's parquet reader block on their own loops
    references = await asyncio.to_thread(
        load_references, refs, concat_dims=concat_dims, identical_dims=identical_dims
    )
    groups, arrays = nodes(references)
    # everything is checked before the first write: a bad reference set changes nothing
    documents = {p: array_metadata_v3(p, a.zarray, a.zattrs) for p, a in arrays.items()}
    assign_chunks(references, arrays)
    indices = {p: (a.indices(a.virtual_keys), a.indices(a.inline_keys)) for p, a in arrays.items()}
    _check_locations(store, arrays)
    prefix = (group or "").strip("/")
    await _clear_destination(store, [_join(prefix, p) for p in arrays], overwrite)
    written_groups = await _write_groups(store, prefix, groups)
    for path, array in arrays.items():
        virtual, inline = indices[path]
        full = _join(prefix, path)
        await _set_json(store, f"{full}/zarr.json", documents[path])
        await _set_inline(store, full, inline, array.inline)
        if array.virtual:
            await _set_virtual(store, full, array, virtual, last_updated_at)
    return IngestSummary(
        groups=tuple(written_groups),
        arrays=tuple(_join(prefix, a.path) for a in arrays.values()),
        virtual_chunks=sum(len(a.virtual) for a in arrays.values()),
        inline_chunks=sum(len(a.inline) for a in arrays.values()),
    )


def _join(prefix: str, path: str) -> str:
    return "/".join(p for p in (prefix, path) if p)


def _check_locations(store: IcechunkStore, arrays: dict[str, ArrayRefs]) -> None:
    """Every virtual location must be covered by a container of the repository."""
    urls = {ref.url for a in arrays.values() for ref in a.virtual}
    if not urls:
        return
    containers = store.session.config.virtual_chunk_containers or {}
    resolver = VirtualChunkResolver(containers, {})
    for url in sorted(urls):
        if resolver.container_for(url) is None:
            declared = ", ".join(sorted(containers)) or "none"
            prefix, store_call = _suggested_container(url)
            raise KerchunkLocationError(
                f"the reference set points at {url}, which no virtual chunk container of the "
                f"repository covers (declared: {declared}). Declare one before ingesting, "
                "for example config.set_virtual_chunk_container(icechunk.VirtualChunkContainer("
                f"{prefix!r}, {store_call})) then repo.save_config() (or pass the config to "
                "Repository.create), and authorize it when reading with "
                f"authorize_virtual_chunk_access={{{prefix!r}: None}}"
            )


def _suggested_container(url: str) -> tuple[str, str]:
    """A url prefix covering ``url`` and the store call for it, for error messages."""
    scheme, _, rest = url.partition("://")
    if scheme == "file":
        folder = rest.rsplit("/", 1)[0] or "/"
        return f"file://{folder}/", f"icechunk.local_filesystem_store({folder!r})"
    bucket = rest.split("/", 1)[0]
    calls = {"s3": "icechunk.s3_store(region=...)", "gs": "icechunk.gcs_store()"}
    return f"{scheme}://{bucket}/", calls.get(scheme, "icechunk.http_store()")


async def _clear_destination(store: IcechunkStore, paths: list[str], overwrite: bool) -> None:
    """Delete the arrays about to be written (overwrite), or refuse if one exists."""
    existing = [p for p in paths if await store.exists(_join(p, "zarr.json"))]
    if existing and not overwrite:
        raise NodeAlreadyExistsError(
            f"the store already holds {', '.join(repr(p) for p in existing[:5])}"
            f"{' and more' if len(existing) > 5 else ''}: its chunks would mix with the "
            "reference set's. Pass overwrite=True to replace it, or group='...' to ingest "
            "into another group"
        )
    for path in existing:
        await store.delete_dir(path)


async def _write_groups(
    store: IcechunkStore, prefix: str, groups: dict[str, dict[str, Any]]
) -> list[str]:
    """zarr.json of every group, parents first (and of the groups above ``prefix``)."""
    written = []
    above = parents(prefix)[1:] if prefix else []
    for path in above:
        if not await store.exists(f"{path}/zarr.json"):
            await _set_json(store, f"{path}/zarr.json", group_metadata_v3({}))
    for path in sorted(groups, key=lambda p: (p.count("/"), p)):
        full = _join(prefix, path)
        await _set_json(store, _join(full, "zarr.json"), group_metadata_v3(groups[path]))
        written.append(full)
    return written


async def _set_inline(
    store: IcechunkStore, path: str, indices: np.ndarray[Any, Any], chunks: list[bytes]
) -> None:
    """The chunks the reference set holds, written as ordinary chunks of the array."""
    from zarr.core.buffer import default_buffer_prototype

    buffer = default_buffer_prototype().buffer
    for index, data in zip(indices.tolist(), chunks, strict=True):
        key = f"{path}/c" + "".join(f"/{i}" for i in index)
        await store.set(key, buffer.from_bytes(data))


async def _set_virtual(
    store: IcechunkStore,
    path: str,
    array: ArrayRefs,
    indices: np.ndarray[Any, Any],
    last_updated_at: datetime | None,
) -> None:
    """All virtual refs of one array in one columnar call.

    The block is the bounding box of the referenced chunks (``arr_offset`` its corner), so
    an array whose references cover a corner of a huge grid costs that corner only.
    """
    if array.grid:
        start = indices.min(axis=0)
        block = tuple(int(n) for n in indices.max(axis=0) - start + 1)
        rows = np.ravel_multi_index((indices - start).T, block)
        offset: tuple[int, ...] | None = tuple(int(i) for i in start)
    else:
        block, rows, offset = (), np.zeros(len(indices), dtype="i8"), None
    count = math.prod(block)
    urls = np.empty(len(array.virtual), dtype=object)
    urls[:] = [ref.url for ref in array.virtual]
    locations = np.full(count, "", dtype=object)
    locations[rows] = urls
    offsets = np.zeros(count, dtype="u8")
    lengths = np.zeros(count, dtype="u8")
    offsets[rows] = [ref.offset or 0 for ref in array.virtual]
    sizes = {r.url: _whole_file_size(r.url) for r in array.virtual if r.length is None}
    lengths[rows] = [sizes[r.url] if r.length is None else r.length for r in array.virtual]
    await store.set_virtual_refs_arr_async(
        path,
        block,
        locations.tolist(),
        offsets,
        lengths,
        validate_containers=False,
        arr_offset=offset,
        checksum=last_updated_at,
    )


def _whole_file_size(url: str) -> int:
    """The size of the file a ``[url]`` reference points at (the chunk is all of it)."""
    import fsspec

    try:
        fs, path = fsspec.core.url_to_fs(url)
        return int(fs.size(path))
    except (ImportError, ValueError) as exc:
        raise KerchunkLocationError(
            f"the reference [{url!r}] is a whole file, and its size could not be read to store "
            f"it ({exc}); give [url, offset, length] references instead"
        ) from exc
    except OSError as exc:
        raise KerchunkLocationError(
            f"the reference [{url!r}] is a whole file that could not be found ({exc})"
        ) from exc


async def _set_json(store: IcechunkStore, key: str, document: dict[str, Any]) -> None:
    """Write a zarr.json document, serialised by zarr itself (NaN attributes and all)."""
    from zarr.core.buffer import default_buffer_prototype

    await store.set(key, zarr_json(document, default_buffer_prototype()))

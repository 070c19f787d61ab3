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
from ._errors import KerchunkLocationError, KerchunkReferenceError
from ._metadata import array_metadata_v3, group_metadata_v3, zarr_json
from ._refs import Location, References, RefsInput, load_references

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


@dataclass
class _Array:
    path: str
    zarray: dict[str, Any]
    zattrs: dict[str, Any]
    virtual: dict[tuple[int, ...], Location]
    inline: dict[tuple[int, ...], bytes]

    @property
    def grid(self) -> tuple[int, ...]:
        shape, chunks = self.zarray["shape"], self.zarray["chunks"]
        return tuple(math.ceil(s / c) if c else 0 for s, c in zip(shape, chunks, strict=True))


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
    metadata: ``_ARRAY_DIMENSIONS`` turns into dimension names and numcodecs codecs into
    ``numcodecs.<id>`` codecs, including kerchunk's GRIB codec, which this package provides
    to zarr (a reader in a new process needs only ``icechunk`` installed). Nothing is
    committed: call ``session.commit`` afterwards.

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
        default the store's root. Missing parent groups are created.
    concat_dims, identical_dims
        For a list of reference sets: the dimensions they are concatenated along (e.g.
        ``["time"]`` or ``["step"]``) and the coordinates they all share (e.g.
        ``["latitude", "longitude"]``), passed to ``MultiZarrToZarr``. By default the
        shared coordinates are the arrays that every set holds inline with the same
        values (for GRIB messages: latitude, longitude, the level and the step).
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
        config = icechunk.RepositoryConfig.default()
        config.set_virtual_chunk_container(
            icechunk.VirtualChunkContainer("file:///", icechunk.local_filesystem_store("/"))
        )
        repo = icechunk.Repository.create(
            icechunk.local_filesystem_storage("grib-repo"),
            config=config,
            authorize_virtual_chunk_access={"file:///": None},
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
    # in a thread: kerchunk's combining and fsspec's parquet reader block on their own loops
    references = await asyncio.to_thread(
        load_references, refs, concat_dims=concat_dims, identical_dims=identical_dims
    )
    if last_updated_at is not None and not isinstance(last_updated_at, datetime):
        raise TypeError(
            f"last_updated_at must be a datetime.datetime, got {type(last_updated_at).__name__}"
        )
    groups, arrays = _nodes(references)
    # everything is checked before the first write: a bad reference set changes nothing
    documents = {p: array_metadata_v3(p, a.zarray, a.zattrs) for p, a in arrays.items()}
    _assign_chunks(references, arrays)
    _check_locations(store, arrays)
    prefix = (group or "").strip("/")
    await _clear_destination(store, [_join(prefix, p) for p in arrays], overwrite)
    written_groups = await _write_groups(store, prefix, groups)
    for path, array in arrays.items():
        await _write_array(store, _join(prefix, path), array, documents[path], last_updated_at)
    return IngestSummary(
        groups=tuple(written_groups),
        arrays=tuple(_join(prefix, a.path) for a in arrays.values()),
        virtual_chunks=sum(len(a.virtual) for a in arrays.values()),
        inline_chunks=sum(len(a.inline) for a in arrays.values()),
    )


def _join(prefix: str, path: str) -> str:
    return "/".join(p for p in (prefix, path) if p)


def _split(key: str) -> tuple[str, str]:
    parent, _, name = key.rpartition("/")
    return parent, name


def _nodes(refs: References) -> tuple[dict[str, dict[str, Any]], dict[str, _Array]]:
    """Groups (path -> attributes) and arrays (path -> _Array) of the reference set."""
    zarrays = {p: doc for p, n, doc in _docs(refs, ".zarray")}
    zattrs = {p: doc for p, n, doc in _docs(refs, ".zattrs")}
    groups = {p: zattrs.get(p, {}) for p, n, doc in _docs(refs, ".zgroup")}
    for path, attrs in zattrs.items():
        if path not in zarrays:
            groups.setdefault(path, attrs)
    if not zarrays and not groups:
        raise KerchunkReferenceError(
            "the reference set has no .zgroup or .zarray document: it describes no zarr "
            "group or array (is it a kerchunk reference set?)"
        )
    for path in zarrays:
        if path in groups:
            raise KerchunkReferenceError(f"{path!r} has both a .zgroup and a .zarray document")
        for parent in _ancestors(path):
            if parent in zarrays:
                raise KerchunkReferenceError(
                    f"array {path!r} is inside array {parent!r}: arrays hold no nodes"
                )
            groups.setdefault(parent, {})
    arrays = {p: _Array(p, z, zattrs.get(p, {}), {}, {}) for p, z in zarrays.items()}
    return groups, arrays


def _docs(refs: References, name: str) -> list[tuple[str, str, dict[str, Any]]]:
    return [(_split(k)[0], name, doc) for k, doc in refs.metadata.items() if _split(k)[1] == name]


def _ancestors(path: str) -> list[str]:
    parts = path.split("/")[:-1] if path else []
    return [""] + ["/".join(parts[: i + 1]) for i in range(len(parts))]


def _assign_chunks(refs: References, arrays: dict[str, _Array]) -> None:
    """Put each chunk reference on its array, under its chunk index."""
    by_depth = sorted(arrays, key=len, reverse=True)
    for key, ref in refs.chunks.items():
        array = next((arrays[p] for p in by_depth if p == "" or key.startswith(p + "/")), None)
        if array is None:
            raise KerchunkReferenceError(
                f"the reference {key!r} belongs to no array of the reference set (no "
                f"'.zarray' above it); chunk keys look like 'temperature/0.0'"
            )
        rest = key[len(array.path) + 1 :] if array.path else key
        index = _chunk_index(array, rest, key)
        if isinstance(ref, Location):
            array.virtual[index] = ref
        else:
            array.inline[index] = ref


def _chunk_index(array: _Array, rest: str, key: str) -> tuple[int, ...]:
    grid = array.grid
    separator = array.zarray.get("dimension_separator") or "."
    try:
        index = tuple(int(i) for i in rest.split(separator)) if rest else ()
    except ValueError:
        index = None
    if not grid and index in ((0,), ()):
        return ()  # a scalar array's one chunk: "x/0" in zarr v2, "x/c" in zarr v3
    if index is None or len(index) != len(grid) or any(not 0 <= i < n for i, n in zip(index, grid)):
        raise KerchunkReferenceError(
            f"the reference {key!r} names no chunk of array {array.path!r} (chunk grid "
            f"{list(grid)}, separator {separator!r})"
        )
    return index


def _check_locations(store: IcechunkStore, arrays: dict[str, _Array]) -> None:
    """Every virtual location must be covered by a container of the repository."""
    urls = {ref.url for a in arrays.values() for ref in a.virtual.values()}
    if not urls:
        return
    containers = store.session.config.virtual_chunk_containers or {}
    resolver = VirtualChunkResolver(containers, {})
    for url in sorted(urls):
        if resolver.container_for(url) is None:
            declared = ", ".join(sorted(containers)) or "none"
            raise KerchunkLocationError(
                f"the reference set points at {url}, which no virtual chunk container of the "
                f"repository covers (declared: {declared}). Declare one before ingesting: "
                "config.set_virtual_chunk_container(icechunk.VirtualChunkContainer("
                "'file:///data/', icechunk.local_filesystem_store('/data/'))) and "
                "repo.save_config(), and authorize it when reading with "
                "authorize_virtual_chunk_access={'file:///data/': None}"
            )


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
    above = _ancestors(prefix)[1:] if prefix else []
    for path in above:
        if not await store.exists(f"{path}/zarr.json"):
            await _set_json(store, f"{path}/zarr.json", group_metadata_v3({}))
    for path in sorted(groups, key=lambda p: (p.count("/"), p)):
        full = _join(prefix, path)
        await _set_json(store, _join(full, "zarr.json"), group_metadata_v3(groups[path]))
        written.append(full)
    return written


async def _write_array(
    store: IcechunkStore,
    path: str,
    array: _Array,
    metadata: dict[str, Any],
    last_updated_at: datetime | None,
) -> None:
    from zarr.core.buffer import default_buffer_prototype

    await _set_json(store, f"{path}/zarr.json", metadata)
    buffer = default_buffer_prototype().buffer
    for index, data in array.inline.items():
        key = f"{path}/c" + "".join(f"/{i}" for i in index)
        await store.set(key, buffer.from_bytes(data))
    if array.virtual:
        await _set_virtual(store, path, array, last_updated_at)


async def _set_virtual(
    store: IcechunkStore, path: str, array: _Array, last_updated_at: datetime | None
) -> None:
    """All virtual refs of one array in one columnar call (whole-grid block)."""
    grid = array.grid
    count = math.prod(grid)
    locations = [""] * count
    offsets = np.zeros(count, dtype="u8")
    lengths = np.zeros(count, dtype="u8")
    for index, ref in array.virtual.items():
        row = int(np.ravel_multi_index(index, grid)) if grid else 0
        offset, length = ref.offset, ref.length
        if offset is None or length is None:
            offset, length = 0, _whole_file_size(ref.url)
        locations[row], offsets[row], lengths[row] = ref.url, offset, length
    await store.set_virtual_refs_arr_async(
        path,
        grid,
        locations,
        offsets,
        lengths,
        validate_containers=False,
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

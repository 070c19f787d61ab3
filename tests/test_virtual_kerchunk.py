"""icechunk.virtual.ingest_kerchunk: kerchunk reference sets into sessions, read back exactly.

Every source is made here: zarr v2 arrays written by zarr itself (their chunk files packed into
one archive the references point into), NetCDF4/HDF5 and NetCDF3 files written by xarray and
scanned by kerchunk, GRIB2 files made from eccodes' bundled samples and scanned by
``kerchunk.grib2.scan_grib``. Reads go through zarr and xarray and are compared with the source.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import textwrap
import warnings
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _require import require

xr = require("xarray")
pd = require("pandas")
for _needed in ("kerchunk", "h5py", "netCDF4", "scipy", "cfgrib", "fastparquet"):
    require(_needed)
eccodes = require("eccodes")

import numcodecs
import zarr
from zarr.storage import LocalStore

import icechunk
from icechunk import VirtualChunkContainer
from icechunk._exceptions import IcechunkError, NodeAlreadyExistsError, VirtualChunkError
from icechunk.virtual import (
    KerchunkLocationError,
    KerchunkReferenceError,
    ingest_kerchunk,
)

pytestmark = pytest.mark.filterwarnings("ignore::zarr.errors.ZarrUserWarning")


# --- helpers -----------------------------------------------------------------------------------


def _repo(tmp_path: Path, root: Path, storage: icechunk.Storage | None = None) -> Any:
    """A repository whose one virtual chunk container covers ``root`` (authorized)."""
    prefix = f"file://{root}/"
    config = icechunk.RepositoryConfig.default()
    config.set_virtual_chunk_container(
        VirtualChunkContainer(prefix, icechunk.local_filesystem_store(str(root)))
    )
    return icechunk.Repository.create(
        storage or icechunk.in_memory_storage(),
        config=config,
        authorize_virtual_chunk_access={prefix: None},
    )


def _ingest(repo: Any, refs: Any, **kwargs: Any) -> Any:
    session = repo.writable_session("main")
    summary = ingest_kerchunk(refs, session.store, **kwargs)
    session.commit("ingest kerchunk references")
    return summary


def _open(repo: Any, group: str | None = None) -> xr.Dataset:
    store = repo.readonly_session("main").store
    with xr.open_zarr(store, consolidated=False, group=group) as ds:
        return ds.load()


def _v2_array(
    root: Path, name: str, data: np.ndarray, chunks: tuple[int, ...], dims: list[str], **kw: Any
) -> None:
    """Write ``data`` as a zarr v2 array with zarr itself (the encoder of record).

    The fill value is null unless given, as in kerchunk's output for NetCDF variables
    without ``_FillValue`` (xarray reads a v2 fill value as a missing-value marker).
    """
    kw.setdefault("fill_value", None)
    arr = zarr.create_array(
        LocalStore(root),
        name=name,
        shape=data.shape,
        chunks=chunks,
        dtype=data.dtype,
        zarr_format=2,
        **kw,
    )
    arr[...] = data
    arr.attrs.update({"_ARRAY_DIMENSIONS": dims, "units": "m", "scale": 1.5})


def _pack(src: Path, archive: Path, inline: dict[str, str] | None = None) -> dict[str, Any]:
    """A v0 reference set of the zarr v2 tree ``src``, chunks packed into ``archive``.

    ``inline`` chooses keys kept in the set: ``"base64"`` or ``"raw"`` (latin-1-free bytes).
    """
    inline = inline or {}
    refs: dict[str, Any] = {}
    with open(archive, "wb") as out:
        for path in sorted(p for p in src.rglob("*") if p.is_file()):
            key = path.relative_to(src).as_posix()
            data = path.read_bytes()
            if path.name in (".zarray", ".zattrs", ".zgroup"):
                refs[key] = data.decode()
            elif inline.get(key) == "base64":
                refs[key] = "base64:" + base64.b64encode(data).decode()
            elif inline.get(key) == "raw":
                refs[key] = data.decode("ascii")
            else:
                refs[key] = [f"file://{archive}", out.tell(), len(data)]
                out.write(data)
    return refs


CODECS = {
    "raw": {"compressors": None},
    "zlib": {"compressors": numcodecs.Zlib(level=3)},
    "shuffle-zlib": {
        "filters": [numcodecs.Shuffle(elementsize=4)],
        "compressors": numcodecs.Zlib(),
    },
    "blosc": {"compressors": numcodecs.Blosc(cname="lz4", clevel=5, shuffle=1)},
    "blosc-autoshuffle": {"compressors": numcodecs.Blosc(cname="zstd", shuffle=-1)},
    "gzip": {"compressors": numcodecs.GZip(level=5)},
    "zstd": {"compressors": numcodecs.Zstd(level=3)},
    "delta-zlib": {"filters": [numcodecs.Delta(dtype="<f4")], "compressors": numcodecs.Zlib()},
    "order-F": {"compressors": numcodecs.Zlib(), "order": "F"},
}
# the codec names the ingested zarr.json holds
CODEC_NAMES = {
    "raw": ["bytes"],
    "zlib": ["bytes", "numcodecs.zlib"],
    "shuffle-zlib": ["bytes", "numcodecs.shuffle", "numcodecs.zlib"],
    "blosc": ["bytes", "blosc"],
    "blosc-autoshuffle": ["bytes", "blosc"],
    "gzip": ["bytes", "gzip"],
    "zstd": ["bytes", "zstd"],
    "delta-zlib": ["numcodecs.delta", "bytes", "numcodecs.zlib"],
    "order-F": ["transpose", "bytes", "numcodecs.zlib"],
}


# --- reference sets made by hand ----------------------------------------------------------------


@pytest.mark.parametrize("codec", sorted(CODECS))
def test_virtual_chunks_with_codecs_read_back_exactly(tmp_path: Path, codec: str) -> None:
    data = np.random.default_rng(1).normal(size=(7, 10)).astype("f4")
    _v2_array(tmp_path / "src", "temp", data, (3, 4), ["y", "x"], **CODECS[codec])
    refs = _pack(tmp_path / "src", tmp_path / "archive.bin")
    repo = _repo(tmp_path, tmp_path)
    summary = _ingest(repo, refs)
    assert summary.virtual_chunks == 9 and summary.inline_chunks == 0
    arr = zarr.open_array(repo.readonly_session("main").store, path="temp", mode="r")
    # what zarr reads from the v2 source (delta on floats rounds), and the data itself
    source = zarr.open_array(LocalStore(tmp_path / "src"), path="temp", mode="r")[...]
    np.testing.assert_array_equal(arr[...], source)
    if not codec.startswith("delta"):
        np.testing.assert_array_equal(arr[...], data)
    assert arr.metadata.dimension_names == ("y", "x")
    assert dict(arr.attrs) == {"units": "m", "scale": 1.5}
    assert np.isnan(arr.fill_value)  # a null v2 fill value: NaN for floats
    names = [c["name"] for c in arr.metadata.to_dict()["codecs"]]
    assert names == CODEC_NAMES[codec]
    session = repo.readonly_session("main")
    assert session.chunk_type("temp", [0, 0]) == icechunk.ChunkType.VIRTUAL


def test_inline_base64_raw_and_whole_file_references(tmp_path: Path) -> None:
    data = np.arange(24, dtype="<i4").reshape(4, 6)
    _v2_array(tmp_path / "src", "n", data, (2, 3), ["y", "x"], compressors=None)
    # chunk (1, 1) as a file of its own, referenced as [url]
    whole = tmp_path / "chunk-1-1.bin"
    whole.write_bytes((tmp_path / "src" / "n" / "1.1").read_bytes())
    small = np.array([[65, 66, 67], [68, 69, 70]], dtype="<i4")  # ASCII-only bytes, raw inline
    zarr.open_array(LocalStore(tmp_path / "src"), path="n")[0:2, 3:6] = small
    data[0:2, 3:6] = small
    refs = _pack(tmp_path / "src", tmp_path / "archive.bin", {"n/0.0": "base64", "n/0.1": "raw"})
    refs["n/1.1"] = [str(whole)]  # a bare absolute path: stored as a file:// URL
    repo = _repo(tmp_path, tmp_path)
    summary = _ingest(repo, {"version": 1, "refs": refs})
    assert (summary.inline_chunks, summary.virtual_chunks) == (2, 2)
    got = zarr.open_array(repo.readonly_session("main").store, path="n", mode="r")[...]
    np.testing.assert_array_equal(got, data)
    session = repo.readonly_session("main")
    assert session.chunk_type("n", [0, 0]) == icechunk.ChunkType.INLINE
    assert session.chunk_type("n", [1, 1]) == icechunk.ChunkType.VIRTUAL
    assert f"file://{whole}" in session.all_virtual_chunk_locations()


@pytest.mark.parametrize("form", ["dict", "json-text", "json-path", "json-pathlib"])
def test_version_0_and_1_in_every_form(tmp_path: Path, form: str) -> None:
    data = np.linspace(0, 1, 12).reshape(3, 4)
    _v2_array(tmp_path / "src", "v", data, (3, 2), ["a", "b"], compressors=numcodecs.Zlib())
    v0 = _pack(tmp_path / "src", tmp_path / "archive.bin")
    for version, refs in (("v0", v0), ("v1", {"version": 1, "refs": v0})):
        given: Any = refs
        if form == "json-text":
            given = json.dumps(refs)
        elif form.startswith("json-path"):
            path = tmp_path / f"refs-{version}.json"
            path.write_text(json.dumps(refs))
            given = path if form == "json-pathlib" else str(path)
        repo = _repo(tmp_path, tmp_path)
        _ingest(repo, given)
        np.testing.assert_array_equal(_open(repo)["v"].values, data)


def test_templates_and_generators(tmp_path: Path) -> None:
    data = np.arange(40, dtype="<f8").reshape(8, 5)
    _v2_array(tmp_path / "src", "g", data, (2, 5), ["t", "x"], compressors=None)
    v0 = _pack(tmp_path / "src", tmp_path / "archive.bin")
    chunk_bytes = 2 * 5 * 8
    refs: dict[str, Any] = {
        "version": 1,
        "templates": {"u": f"file://{tmp_path}/archive.bin"},
        "refs": {k: v for k, v in v0.items() if not isinstance(v, list)},
        "gen": [
            {
                "key": "g/{{i}}.0",
                "url": "{{u}}",
                "offset": f"{{{{i * {chunk_bytes}}}}}",
                "length": str(chunk_bytes),
                "dimensions": {"i": {"stop": 3}},
            }
        ],
    }
    refs["refs"]["g/3.0"] = ["{{u}}", 3 * chunk_bytes, chunk_bytes]
    repo = _repo(tmp_path, tmp_path)
    assert _ingest(repo, refs).virtual_chunks == 4
    np.testing.assert_array_equal(_open(repo)["g"].values, data)


def test_groups_scalars_attributes_fill_values_and_nested_keys(tmp_path: Path) -> None:
    src = tmp_path / "src"
    root = zarr.open_group(LocalStore(src), mode="w", zarr_format=2)
    root.attrs["title"] = "nested"
    inner = root.create_group("model/run1")
    inner.attrs["member"] = 1
    scalar = inner.create_array("height", shape=(), dtype="<f8", fill_value=None)
    scalar[...] = 2.0
    scalar.attrs["_ARRAY_DIMENSIONS"] = []
    filled = inner.create_array(
        "t",
        shape=(5,),
        chunks=(2,),
        dtype="<f4",
        fill_value=-9999.0,
        chunk_key_encoding={"name": "v2", "separator": "/"},
    )
    filled[:4] = [1, 2, 3, 4]  # the last chunk is never written: it reads as the fill value
    filled.attrs["_ARRAY_DIMENSIONS"] = ["x"]
    ints = inner.create_array("k", shape=(5,), chunks=(5,), dtype=">i2", fill_value=7)
    ints[...] = np.arange(5)
    ints.attrs["_ARRAY_DIMENSIONS"] = ["x"]
    other = inner.create_array("depth", shape=(), dtype="<i8", fill_value=None)
    other[...] = 42
    other.attrs["_ARRAY_DIMENSIONS"] = []
    # one scalar inline, one pointing into the archive: "x/0" keys become zarr v3's "x/c"
    refs = _pack(src, tmp_path / "archive.bin", {"model/run1/height/0": "base64"})
    assert isinstance(refs["model/run1/depth/0"], list)
    assert "model/run1/t/0" in refs and "model/run1/t/2" not in refs  # "/"-separated keys
    repo = _repo(tmp_path, tmp_path)
    summary = _ingest(repo, refs, group="ingested/here")
    assert set(summary.groups) == {
        "ingested/here",
        "ingested/here/model",
        "ingested/here/model/run1",
    }
    store = repo.readonly_session("main").store
    top = zarr.open_group(store, path="ingested/here", mode="r")
    assert dict(top.attrs) == {"title": "nested"}
    assert dict(zarr.open_group(store, path="ingested/here/model/run1", mode="r").attrs) == {
        "member": 1
    }
    height = zarr.open_array(store, path="ingested/here/model/run1/height", mode="r")
    assert height.shape == () and height[()] == 2.0
    assert zarr.open_array(store, path="ingested/here/model/run1/depth", mode="r")[()] == 42
    t = zarr.open_array(store, path="ingested/here/model/run1/t", mode="r")
    assert t.fill_value == -9999.0
    np.testing.assert_array_equal(t[...], np.array([1, 2, 3, 4, -9999], dtype="f4"))
    ds = _open(repo, group="ingested/here/model/run1")
    assert ds["height"].dims == () and float(ds["height"]) == 2.0
    np.testing.assert_array_equal(ds["t"].values, [1, 2, 3, 4, np.nan])  # _FillValue masked
    assert ds["k"].encoding["_FillValue"] == 7
    # what xarray makes of the zarr v2 source itself
    with xr.open_zarr(src, group="model/run1", consolidated=False, zarr_format=2) as expected:
        xr.testing.assert_identical(ds, expected.load())


def test_sparse_references_in_a_huge_grid(tmp_path: Path) -> None:
    """Two chunks of a 10^10-chunk grid: only their bounding box is materialised."""
    archive = tmp_path / "two.bin"
    archive.write_bytes(np.array([1.5, 2.5], dtype="<f8").tobytes())
    zarray = {"shape": [10**6, 10**4], "chunks": [1, 1], "dtype": "<f8", "fill_value": None,
              "order": "C", "filters": None, "compressor": None, "zarr_format": 2}  # fmt: skip
    refs = {
        "huge/.zarray": json.dumps(zarray),
        "huge/.zattrs": json.dumps({"_ARRAY_DIMENSIONS": ["a", "b"]}),
        "huge/500000.9000": [str(archive), 0, 8],
        "huge/500001.9001": [str(archive), 8, 8],
    }
    repo = _repo(tmp_path, tmp_path)
    assert _ingest(repo, refs).virtual_chunks == 2
    arr = zarr.open_array(repo.readonly_session("main").store, path="huge", mode="r")
    np.testing.assert_array_equal(arr[500000:500002, 9000:9002], [[1.5, np.nan], [np.nan, 2.5]])


def test_ingest_into_existing_history_and_commit(tmp_path: Path) -> None:
    data = np.arange(6.0)
    _v2_array(tmp_path / "src", "a", data, (3,), ["x"], compressors=None)
    refs = _pack(tmp_path / "src", tmp_path / "archive.bin")
    repo = _repo(tmp_path, tmp_path)
    _ingest(repo, refs, group="first")
    _ingest(repo, refs, group="second")
    np.testing.assert_array_equal(_open(repo, "first")["a"].values, data)
    np.testing.assert_array_equal(_open(repo, "second")["a"].values, data)
    assert len(list(repo.ancestry(branch="main"))) == 3


def test_existing_arrays_are_refused_or_replaced(tmp_path: Path) -> None:
    _v2_array(tmp_path / "src", "a", np.arange(6.0), (3,), ["x"], compressors=None)
    long_refs = _pack(tmp_path / "src", tmp_path / "long.bin")
    _v2_array(tmp_path / "short", "a", np.arange(3.0) + 10, (3,), ["x"], compressors=None)
    short_refs = _pack(tmp_path / "short", tmp_path / "short.bin")
    repo = _repo(tmp_path, tmp_path)
    _ingest(repo, long_refs)
    session = repo.writable_session("main")
    with pytest.raises(NodeAlreadyExistsError, match="overwrite=True"):
        ingest_kerchunk(short_refs, session.store)
    assert not session.has_uncommitted_changes
    ingest_kerchunk(short_refs, session.store, overwrite=True)
    session.commit("replace a")
    np.testing.assert_array_equal(_open(repo)["a"].values, [10.0, 11.0, 12.0])
    assert repo.readonly_session("main").all_virtual_chunk_locations() == [
        f"file://{tmp_path}/short.bin"
    ]


async def test_async_twin(tmp_path: Path) -> None:
    from icechunk.virtual import ingest_kerchunk_async

    refs = _small_refs(tmp_path)
    session = _repo(tmp_path, tmp_path).writable_session("main")
    summary = await ingest_kerchunk_async(refs, session.store)
    assert summary.arrays == ("a",) and summary.virtual_chunks == 2
    arr = await zarr.api.asynchronous.open_array(store=session.store, path="a")
    np.testing.assert_array_equal(await arr.getitem(...), np.arange(4.0))


def test_last_updated_at_rejects_a_file_changed_afterwards(tmp_path: Path) -> None:
    data = np.arange(6.0)
    _v2_array(tmp_path / "src", "a", data, (3,), ["x"], compressors=None)
    refs = _pack(tmp_path / "src", tmp_path / "archive.bin")
    repo = _repo(tmp_path, tmp_path)
    _ingest(repo, refs, last_updated_at=datetime.now() + timedelta(seconds=5))  # naive: local
    np.testing.assert_array_equal(_open(repo)["a"].values, data)
    later = (datetime.now() + timedelta(hours=1)).timestamp()
    os.utime(tmp_path / "archive.bin", (later, later))
    with pytest.raises(VirtualChunkError):
        _open(repo)


# --- NetCDF through kerchunk's scanners ---------------------------------------------------------


def _climate(seed: int = 0) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    ds = xr.Dataset(
        {
            "tas": (
                ("time", "lat", "lon"),
                rng.normal(280, 5, (6, 4, 5)).astype("f4"),
                {"units": "K", "long_name": "air temperature"},
            ),
            "pr": (("time", "lat", "lon"), rng.gamma(2, 1, (6, 4, 5)), {"units": "mm"}),
            "mask": (("lat", "lon"), rng.integers(0, 2, (4, 5)).astype("i1")),
        },
        coords={
            "time": pd.date_range("2024-01-01", periods=6, freq="D"),
            "lat": np.linspace(-30, 30, 4),
            "lon": np.arange(5) * 10.0,
        },
        attrs={"title": "kerchunk test", "institution": "here"},
    )
    ds["tas"][0, 0, 0] = np.nan
    return ds


def test_netcdf4_via_kerchunk_hdf(tmp_path: Path) -> None:
    from kerchunk.hdf import SingleHdf5ToZarr

    path = tmp_path / "climate.nc"
    strings = {
        "station": ("lat", ["north", "mid-n", "mid-s", "south"]),  # variable-length strings
        "code": ("lat", np.array([b"ab", b"cd", b"ef", b"gh"])),  # fixed-width characters
    }
    _climate().assign(strings).to_netcdf(
        path,
        engine="netcdf4",
        encoding={
            "tas": {"zlib": True, "shuffle": True, "chunksizes": (2, 4, 3), "_FillValue": -999.0},
            "pr": {
                "contiguous": True,
                "scale_factor": 0.01,
                "add_offset": 1.0,
                "dtype": "i2",
                "_FillValue": -32768,
            },
            "time": {"units": "hours since 2000-01-01", "calendar": "standard"},
        },
    )
    refs = SingleHdf5ToZarr(str(path), inline_threshold=0).translate()
    repo = _repo(tmp_path, tmp_path)
    summary = _ingest(repo, refs)
    assert summary.virtual_chunks > 0
    with xr.open_dataset(path) as expected:
        xr.testing.assert_identical(_open(repo), expected.load())


def test_plain_hdf5_layouts_via_kerchunk_hdf(tmp_path: Path) -> None:
    """Chunked (gzip + shuffle), contiguous and compact HDF5 datasets in a group."""
    import h5py
    from kerchunk.hdf import SingleHdf5ToZarr

    path = tmp_path / "plain.h5"
    rng = np.random.default_rng(4)
    with h5py.File(path, "w") as f:
        f.attrs["title"] = "plain hdf5"
        grp = f.create_group("grp")
        chunked = grp.create_dataset(
            "chunked", data=rng.normal(size=(10, 8)), chunks=(4, 4), compression="gzip",
            shuffle=True, fillvalue=-1.0,
        )  # fmt: skip
        chunked.attrs["units"] = "m"
        grp.create_dataset("contiguous", data=np.arange(12, dtype="i4").reshape(3, 4))
        compact = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        compact.set_layout(h5py.h5d.COMPACT)
        space = h5py.h5s.create_simple((5,))
        h5py.h5d.create(grp.id, b"compact", h5py.h5t.NATIVE_INT16, space, dcpl=compact)
        grp["compact"][...] = np.arange(5, dtype="i2")
    # compact data lives in the file's metadata: kerchunk inlines it (below the threshold)
    refs = SingleHdf5ToZarr(str(path), inline_threshold=20).translate()
    repo = _repo(tmp_path, tmp_path)
    summary = _ingest(repo, refs)
    assert (summary.virtual_chunks, summary.inline_chunks) == (7, 1)
    store = repo.readonly_session("main").store
    assert dict(zarr.open_group(store, mode="r").attrs) == {"title": "plain hdf5"}
    with h5py.File(path) as f:
        for name in ("grp/chunked", "grp/contiguous", "grp/compact"):
            ours = zarr.open_array(store, path=name, mode="r")
            np.testing.assert_array_equal(ours[...], f[name][...])
            assert ours.dtype == f[name].dtype
    assert zarr.open_array(store, path="grp/chunked", mode="r").attrs["units"] == "m"


def test_parquet_reference_set(tmp_path: Path) -> None:
    """kerchunk's parquet form (a directory of .zmetadata and refs.N.parq files per array)."""
    from kerchunk.df import refs_to_dataframe
    from kerchunk.hdf import SingleHdf5ToZarr

    path = tmp_path / "climate.nc"
    _climate(1).to_netcdf(
        path, engine="netcdf4", encoding={"tas": {"zlib": True, "chunksizes": (1, 4, 5)}}
    )
    refs = SingleHdf5ToZarr(str(path), inline_threshold=50).translate()
    parquet = tmp_path / "refs.parq"
    refs_to_dataframe(refs, str(parquet), record_size=4)  # tas: 6 chunks in 2 record files
    assert sorted(p.name for p in (parquet / "tas").iterdir()) == ["refs.0.parq", "refs.1.parq"]
    repo = _repo(tmp_path, tmp_path)
    summary = _ingest(repo, str(parquet))
    assert summary.virtual_chunks >= 6 and summary.inline_chunks > 0
    with xr.open_dataset(path) as expected:
        xr.testing.assert_identical(_open(repo), expected.load())


@pytest.mark.parametrize(
    ("fmt", "unlimited"),
    [("NETCDF3_CLASSIC", False), ("NETCDF3_64BIT", False), ("NETCDF3_CLASSIC", True)],
    ids=["classic", "64bit-offset", "classic-record-variables"],
)
def test_netcdf3_via_kerchunk_netcdf3(tmp_path: Path, fmt: str, unlimited: bool) -> None:
    from kerchunk.netCDF3 import NetCDF3ToZarr

    path = tmp_path / f"{fmt}.nc"
    dims = ["time"] if unlimited else None
    _climate(2).to_netcdf(path, format=fmt, engine="scipy", unlimited_dims=dims)
    refs = NetCDF3ToZarr(str(path), inline_threshold=0).translate()
    repo = _repo(tmp_path, tmp_path)
    summary = _ingest(repo, refs)
    assert summary.virtual_chunks >= (6 * 3 if unlimited else 3)  # one chunk per record
    with xr.open_dataset(path) as expected:
        xr.testing.assert_identical(_open(repo), expected.load())


# --- GRIB2 -----------------------------------------------------------------------------------


def _grib(
    path: Path,
    fields: list[tuple[Any, ...]],
    seed: int = 0,
    sample: str = "regular_ll_sfc_grib2",
) -> None:
    """GRIB2 messages from eccodes' bundled sample: (shortName, date[, step hours]) each."""
    rng = np.random.default_rng(seed)
    with open(path, "wb") as out:
        for short_name, date, *step in fields:
            handle = eccodes.codes_grib_new_from_samples(sample)
            size = eccodes.codes_get(handle, "numberOfDataPoints")
            eccodes.codes_set(handle, "shortName", short_name)
            eccodes.codes_set(handle, "dataDate", date)
            eccodes.codes_set(handle, "forecastTime", step[0] if step else 0)
            eccodes.codes_set_values(handle, rng.normal(280, 5, size))
            eccodes.codes_write(handle, out)
            eccodes.codes_release(handle)


GRIB_FILES = {
    "two-messages": [("2t", 20240101), ("2t", 20240102)],
    "multi-field": [
        ("2t", 20240101),
        ("2d", 20240101),
        ("2t", 20240102),
        ("2d", 20240102),
        ("2t", 20240103),
        ("2d", 20240103),
    ],
}
GRIB_STEPS = [("2t", 20240101, 0), ("2t", 20240101, 6), ("2t", 20240101, 12)]
GRIB_SHARED = ["latitude", "longitude", "step", "heightAboveGround"]


def _assert_matches_cfgrib(ours: xr.Dataset, path: Path) -> None:
    with xr.open_dataset(path, engine="cfgrib", backend_kwargs={"indexpath": ""}) as expected:
        expected = expected.load()
    assert set(ours.data_vars) == set(expected.data_vars)
    assert set(ours.coords) == set(expected.coords)
    for name, var in expected.variables.items():
        assert ours[name].dims == var.dims, name
        # cfgrib reads GRIB values as float32; kerchunk declares float64 (the decoder's type)
        np.testing.assert_array_equal(ours[name].values.astype(var.dtype), var.values, name)
    for name in expected.data_vars:
        for key in ("units", "GRIB_shortName", "long_name"):
            assert ours[name].attrs[key] == expected[name].attrs[key]


@pytest.mark.parametrize("kind", sorted(GRIB_FILES))
def test_grib2_from_scan_grib_in_one_call(tmp_path: Path, kind: str) -> None:
    from kerchunk.grib2 import scan_grib

    path = tmp_path / f"{kind}.grib2"
    _grib(path, GRIB_FILES[kind])
    repo = _repo(tmp_path, tmp_path)
    # identical_dims left out: latitude, longitude, step and level are found shared
    summary = _ingest(repo, scan_grib(str(path)), concat_dims=["time"])
    assert summary.virtual_chunks == len(GRIB_FILES[kind])
    _assert_matches_cfgrib(_open(repo), path)


def test_grib2_forecast_steps_along_step(tmp_path: Path) -> None:
    from kerchunk.grib2 import scan_grib

    path = tmp_path / "steps.grib2"
    _grib(path, GRIB_STEPS)
    repo = _repo(tmp_path, tmp_path)
    _ingest(repo, scan_grib(str(path)), concat_dims=["step"])
    ours = _open(repo)
    assert ours["t2m"].dims == ("step", "latitude", "longitude")
    _assert_matches_cfgrib(ours, path)


def test_grib2_projected_grid_with_2d_coordinates(tmp_path: Path) -> None:
    """Latitude and longitude decoded from the messages themselves, kept once."""
    from kerchunk.grib2 import scan_grib

    path = tmp_path / "polar.grib2"
    _grib(path, [("t", 20240101), ("t", 20240102)], sample="polar_stereographic_pl_grib2")
    refs = scan_grib(str(path))
    assert isinstance(refs[0]["refs"]["latitude/0.0"], list)  # a reference, not inline
    repo = _repo(tmp_path, tmp_path)
    _ingest(repo, refs, concat_dims=["time"])
    ours = _open(repo)
    assert ours["latitude"].dims == ("y", "x")
    _assert_matches_cfgrib(ours, path)


def test_grib_tree_hierarchy(tmp_path: Path) -> None:
    """kerchunk's grib_tree: one group per variable, step type and level, read as a tree."""
    from kerchunk.grib2 import grib_tree, scan_grib

    path = tmp_path / "tree.grib2"
    _grib(path, GRIB_FILES["multi-field"])
    repo = _repo(tmp_path, tmp_path)
    summary = _ingest(repo, grib_tree(scan_grib(str(path))))
    assert "t2m/instant/heightAboveGround" in summary.groups
    store = repo.readonly_session("main").store
    with (
        xr.open_datatree(store, engine="zarr", consolidated=False) as tree,
        xr.open_dataset(path, engine="cfgrib", backend_kwargs={"indexpath": ""}) as cf,
    ):
        for name in ("t2m", "d2m"):
            ours = tree[f"{name}/instant/heightAboveGround"][name].isel(step=0)
            np.testing.assert_array_equal(ours.values.astype("f4"), cf[name].values)


def test_one_grib_message_needs_no_combining(tmp_path: Path) -> None:
    from kerchunk.grib2 import scan_grib

    path = tmp_path / "one.grib2"
    _grib(path, [("2t", 20240101)])
    repo = _repo(tmp_path, tmp_path)
    [refs] = scan_grib(str(path))
    _ingest(repo, refs)
    with xr.open_dataset(path, engine="cfgrib", backend_kwargs={"indexpath": ""}) as expected:
        np.testing.assert_array_equal(
            _open(repo)["t2m"].values.astype("f4"), expected["t2m"].values
        )


def test_grib_reads_in_a_fresh_process_that_imports_only_icechunk_zarr_xarray(
    tmp_path: Path,
) -> None:
    from kerchunk.grib2 import scan_grib

    path = tmp_path / "fresh.grib2"
    _grib(path, GRIB_FILES["multi-field"], seed=3)
    repo_path = tmp_path / "repo"
    repo = _repo(tmp_path, tmp_path, icechunk.local_filesystem_storage(str(repo_path)))
    _ingest(repo, scan_grib(str(path)), concat_dims=["time"], identical_dims=GRIB_SHARED)
    with xr.open_dataset(path, engine="cfgrib", backend_kwargs={"indexpath": ""}) as expected:
        np.save(tmp_path / "t2m.npy", expected["t2m"].values)
    script = textwrap.dedent(
        f"""
        import numpy as np
        import icechunk, xarray as xr, zarr
        repo = icechunk.Repository.open(
            icechunk.local_filesystem_storage({str(repo_path)!r}),
            authorize_virtual_chunk_access={{{f"file://{tmp_path}/"!r}: None}},
        )
        ds = xr.open_zarr(repo.readonly_session("main").store, consolidated=False)
        got = ds["t2m"].values.astype("f4")
        np.testing.assert_array_equal(got, np.load({str(tmp_path / "t2m.npy")!r}))
        print("read ok")
        """
    )
    assert "read ok" in _python(script, tmp_path)
    # zarr alone, without icechunk imported, finds the codec: the entry point of pyproject.toml
    found = _python(
        "import sys, zarr.registry\n"
        "cls = zarr.registry.get_codec_class('numcodecs.grib')\n"
        "print(cls.__module__, 'icechunk' in sys.modules)",
        tmp_path,
    )
    assert found.split() == ["icechunk.virtual._codecs", "True"]  # loaded on demand


def _python(script: str, cwd: Path) -> str:
    """Run ``script`` in a new interpreter; its standard output."""
    result = subprocess.run(
        [sys.executable, "-c", script],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_grib_codec_is_read_only(tmp_path: Path) -> None:
    from kerchunk.grib2 import scan_grib

    path = tmp_path / "ro.grib2"
    _grib(path, [("2t", 20240101)])
    repo = _repo(tmp_path, tmp_path)
    _ingest(repo, scan_grib(str(path))[0])
    session = repo.writable_session("main")
    arr = zarr.open_array(session.store, path="t2m")
    with pytest.raises(IcechunkError, match="read only"):
        arr[0, 0] = 1.0


# --- errors ------------------------------------------------------------------------------------


def _small_refs(tmp_path: Path) -> dict[str, Any]:
    _v2_array(tmp_path / "src", "a", np.arange(4.0), (2,), ["x"], compressors=None)
    return _pack(tmp_path / "src", tmp_path / "archive.bin")


def test_location_outside_every_container_is_refused_before_writing(tmp_path: Path) -> None:
    refs = _small_refs(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    repo = _repo(tmp_path, elsewhere)
    session = repo.writable_session("main")
    with pytest.raises(KerchunkLocationError, match="set_virtual_chunk_container") as info:
        ingest_kerchunk(refs, session.store)
    assert isinstance(info.value, VirtualChunkError)
    assert str(tmp_path / "archive.bin") in str(info.value)
    assert f"VirtualChunkContainer('file://{tmp_path}/'" in str(info.value)  # a prefix to use
    assert not session.has_uncommitted_changes
    refs.update({k: ["s3://bucket/data/archive.bin", 0, 16] for k in ("a/0", "a/1")})
    with pytest.raises(KerchunkLocationError, match=r"VirtualChunkContainer\('s3://bucket/'"):
        ingest_kerchunk(refs, session.store)


def test_object_store_locations_are_stored_as_given(tmp_path: Path) -> None:
    """s3:// and https:// references need no access at ingest, only covering containers."""
    refs = _small_refs(tmp_path)
    refs["a/0"] = ["s3://bucket/data/archive.bin", 0, 16]
    refs["a/1"] = ["https://example.invalid/data/archive.bin", 16, 16]
    config = icechunk.RepositoryConfig.default()
    config.set_virtual_chunk_container(
        VirtualChunkContainer("s3://bucket/", icechunk.s3_store(region="us-east-1"))
    )
    config.set_virtual_chunk_container(
        VirtualChunkContainer("https://example.invalid/", icechunk.http_store())
    )
    repo = icechunk.Repository.create(icechunk.in_memory_storage(), config=config)
    _ingest(repo, refs)
    assert sorted(repo.readonly_session("main").all_virtual_chunk_locations()) == [
        "https://example.invalid/data/archive.bin",
        "s3://bucket/data/archive.bin",
    ]


def test_relative_paths_are_refused(tmp_path: Path) -> None:
    refs = _small_refs(tmp_path)
    refs["a/0"] = ["archive.bin", 0, 16]
    session = _repo(tmp_path, tmp_path).writable_session("main")
    with pytest.raises(KerchunkLocationError, match="relative path 'archive.bin'.*abspath"):
        ingest_kerchunk(refs, session.store)


def test_unauthorized_container_fails_on_read(tmp_path: Path) -> None:
    refs = _small_refs(tmp_path)
    storage = icechunk.local_filesystem_storage(str(tmp_path / "repo"))
    _ingest(_repo(tmp_path, tmp_path, storage), refs)
    unauthorized = icechunk.Repository.open(storage)
    with pytest.raises(VirtualChunkError, match="authorize_virtual_chunk_access"):
        _open(unauthorized)


@pytest.mark.parametrize(
    ("mutate", "words"),
    [
        (lambda r: "{not json", "not valid JSON"),
        (lambda r: {"version": 2, "refs": r}, "unknown kerchunk reference set version"),
        (lambda r: {"version": 1}, "needs a 'refs' mapping"),
        (lambda r: {**r, "a/0": [1, 2]}, "is inline data"),
        (lambda r: {**r, "a/0": ["file:///x", -1, 3]}, "non-negative integers"),
        (lambda r: {**r, "a/7": ["file:///x", 0, 3]}, "names no chunk of array 'a'"),
        (lambda r: {**r, "b/0": ["file:///x", 0, 3]}, "belongs to no array"),
        (lambda r: {**r, "a/.zarray": "{oops"}, "is not JSON"),
        (lambda r: {**r, "a/.zarray": json.dumps({"shape": [4]})}, "not valid zarr v2 array"),
        (lambda r: {k: v for k, v in r.items() if ".z" not in k}, "no .zgroup or .zarray"),
        (
            lambda r: {
                **r,
                "a/.zarray": r["a/.zarray"].replace(
                    '"compressor": null', '"compressor": {"id": "nosuchcodec"}'
                ),
            },
            "numcodecs.nosuchcodec",
        ),
        (
            lambda r: {**r, "a/.zattrs": json.dumps({"_ARRAY_DIMENSIONS": ["x", "y"]})},
            "_ARRAY_DIMENSIONS",
        ),
        (lambda r: [r, r], "concat_dims"),
        (lambda r: [], "empty"),
        (lambda r: 42, "expected a kerchunk reference set"),
    ],
)
def test_malformed_reference_sets(tmp_path: Path, mutate: Any, words: str) -> None:
    refs = _small_refs(tmp_path)
    assert '"compressor": null' in refs["a/.zarray"]
    session = _repo(tmp_path, tmp_path).writable_session("main")
    with pytest.raises(KerchunkReferenceError, match=words):
        ingest_kerchunk(mutate(refs), session.store)
    assert not session.has_uncommitted_changes


def test_missing_reference_file(tmp_path: Path) -> None:
    session = _repo(tmp_path, tmp_path).writable_session("main")
    with pytest.raises(KerchunkReferenceError, match="no kerchunk reference set"):
        ingest_kerchunk(str(tmp_path / "nope.json"), session.store)


def test_concat_dims_without_a_list(tmp_path: Path) -> None:
    session = _repo(tmp_path, tmp_path).writable_session("main")
    with pytest.raises(KerchunkReferenceError, match="combine a list"):
        ingest_kerchunk(_small_refs(tmp_path), session.store, concat_dims=["time"])


def test_read_only_session_is_refused(tmp_path: Path) -> None:
    refs = _small_refs(tmp_path)
    repo = _repo(tmp_path, tmp_path)
    with pytest.raises(IcechunkError, match="read-only"):
        ingest_kerchunk(refs, repo.readonly_session("main").store)


def test_a_plain_zarr_store_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="writable_session"):
        ingest_kerchunk(_small_refs(tmp_path), zarr.storage.MemoryStore())


def test_warnings_do_not_escape_metadata_translation(tmp_path: Path) -> None:
    refs = _small_refs(tmp_path)
    session = _repo(tmp_path, tmp_path).writable_session("main")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ingest_kerchunk(refs, session.store)


# --- documentation -------------------------------------------------------------------------------


def test_docstring_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The GRIB example in ingest_kerchunk's docstring, run as printed."""
    doc = ingest_kerchunk.__doc__ or ""
    block = doc.split("read it back with xarray::", 1)[1].split("\n\n    A NetCDF4", 1)[0]
    code = textwrap.dedent(block)
    _grib(tmp_path / "forecast.grib2", GRIB_FILES["two-messages"])
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {}
    exec(compile(code, "ingest_kerchunk docstring", "exec"), namespace)  # noqa: S102
    _assert_matches_cfgrib(namespace["ds"].load(), tmp_path / "forecast.grib2")

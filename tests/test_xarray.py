"""icechunk.xarray.to_icechunk: modes, appends, regions, encodings, versions; reads with xarray."""

from __future__ import annotations

import os
import pickle
import string
from pathlib import Path

import numpy as np
import pytest

if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
    import dask  # noqa: F401 - a missing package must fail in CI, not skip
    import pandas as pd
    import xarray as xr
else:
    xr = pytest.importorskip("xarray")
    pd = pytest.importorskip("pandas")
    pytest.importorskip("dask")

from xarray.testing import assert_equal, assert_identical

import icechunk
from icechunk.xarray import to_icechunk


def make_dataset(seed: int = 0, ntime: int = 6) -> xr.Dataset:
    rs = np.random.default_rng(seed)
    ds = xr.Dataset(
        {
            "temperature": (("time", "lat", "lon"), rs.normal(size=(ntime, 4, 5))),
            "pressure": (("time", "lat", "lon"), rs.normal(size=(ntime, 4, 5)).astype("f4")),
            "mask": (("lat", "lon"), rs.integers(0, 2, size=(4, 5)).astype(bool)),
            "label": ("lat", list(string.ascii_lowercase[:4])),
        },
        coords={
            "time": pd.date_range("2000-01-01", periods=ntime, freq="D"),
            "lat": np.linspace(-45, 45, 4),
            "lon": np.arange(5) * 10.0,
        },
        attrs={"title": "test", "nested": {"a": [1, 2]}},
    )
    ds.temperature.attrs["units"] = "K"
    return ds


@pytest.fixture
def repo(tmp_path: Path) -> icechunk.Repository:
    return icechunk.Repository.create(icechunk.local_filesystem_storage(str(tmp_path / "repo")))


def read(repo: icechunk.Repository, group: str | None = None, **kw) -> xr.Dataset:
    session = repo.readonly_session(**(kw or {"branch": "main"}))
    with xr.open_zarr(session.store, consolidated=False, group=group) as ds:
        return ds.load()


@pytest.mark.parametrize("chunked", [False, True], ids=["numpy", "dask"])
def test_roundtrip_dataset(repo: icechunk.Repository, chunked: bool) -> None:
    ds = make_dataset()
    src = ds.chunk({"time": 2}) if chunked else ds
    session = repo.writable_session("main")
    to_icechunk(src, session, mode="w")
    session.commit("write")
    assert_identical(read(repo), ds)
    # open_dataset with the zarr engine gives the same
    s = repo.readonly_session("main")
    with xr.open_dataset(s.store, engine="zarr", consolidated=False) as actual:
        assert_identical(actual.load(), ds)


@pytest.mark.parametrize("chunked", [False, True], ids=["numpy", "dask"])
@pytest.mark.parametrize("name", [None, "temperature", "lat"])
def test_roundtrip_dataarray(repo: icechunk.Repository, chunked: bool, name: str | None) -> None:
    da = make_dataset().temperature.rename(name)
    src = da.chunk({"time": 3}) if chunked else da
    session = repo.writable_session("main")
    to_icechunk(src, session, mode="w")
    session.commit("write")
    s = repo.readonly_session("main")
    with xr.open_dataarray(s.store, engine="zarr", consolidated=False) as actual:
        assert_identical(actual.load(), da)


def test_group(repo: icechunk.Repository) -> None:
    ds = make_dataset()
    session = repo.writable_session("main")
    to_icechunk(ds, session, group="a/b", mode="w")
    to_icechunk(ds.isel(time=slice(0, 2)), session, group="c", mode="w")
    session.commit("groups")
    assert_identical(read(repo, group="a/b"), ds)
    assert_identical(read(repo, group="c"), ds.isel(time=slice(0, 2)))


def test_modes(repo: icechunk.Repository) -> None:
    ds = make_dataset()
    session = repo.writable_session("main")
    to_icechunk(ds, session)  # default mode w-
    with pytest.raises(Exception, match="(?i)exist|contains data"):
        to_icechunk(ds, session, mode="w-")
    to_icechunk(ds.copy(), session, mode="w")  # overwrite
    # a: override a variable, add a new one
    extra = xr.Dataset({"extra": ("lon", np.arange(5.0))}, coords={"lon": ds.lon})
    to_icechunk(extra, session, mode="a")
    # r+: values only, no shape change
    update = ds[["temperature"]] * 2
    to_icechunk(update, session, mode="r+")
    with pytest.raises(ValueError):
        to_icechunk(ds.isel(time=slice(0, 3)), session, mode="r+")
    session.commit("modes")
    expected = ds.assign(extra=extra.extra, temperature=ds.temperature * 2)
    expected.attrs = {}  # mode="a" replaces the group attributes, as with any Zarr store
    assert_identical(read(repo), expected)


def test_invalid_mode_combinations(repo: icechunk.Repository) -> None:
    ds = make_dataset()
    session = repo.writable_session("main")
    with pytest.raises(ValueError, match="append_dim"):
        to_icechunk(ds, session, mode="w", append_dim="time")
    with pytest.raises(ValueError, match="region"):
        to_icechunk(ds, session, mode="w", region={"time": slice(0, 1)})
    with pytest.raises(ValueError, match="mode"):
        to_icechunk(ds, session, mode="x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Session"):
        to_icechunk(ds, session.store, mode="w")  # type: ignore[arg-type]


def test_readonly_session_refuses(repo: icechunk.Repository) -> None:
    session = repo.readonly_session("main")
    with pytest.raises(Exception, match="(?i)read.only"):
        to_icechunk(make_dataset(), session, mode="w")


@pytest.mark.parametrize("chunked", [False, True], ids=["numpy", "dask"])
def test_append(repo: icechunk.Repository, chunked: bool) -> None:
    ds = make_dataset(ntime=10)
    first, second, third = ds.isel(time=slice(0, 4)), ds.isel(time=slice(4, 6)), ds.isel(time=slice(6, None))
    prep = (lambda d: d.chunk({"time": 2})) if chunked else (lambda d: d)
    session = repo.writable_session("main")
    to_icechunk(prep(first), session, mode="w")
    session.commit("first")
    for part in (second, third):
        session = repo.writable_session("main")
        to_icechunk(prep(part.drop_vars(["mask", "label"])), session, append_dim="time")
        session.commit("append")
    assert_identical(read(repo), ds)


def test_append_two_dims_one_session(repo: icechunk.Repository) -> None:
    """Two appends along different dimensions in one uncommitted session."""
    base = xr.Dataset(
        {"v": (("x", "y"), np.arange(12.0).reshape(3, 4))},
        coords={"x": [0, 1, 2], "y": [0, 1, 2, 3]},
    )
    more_x = xr.Dataset(
        {"v": (("x", "y"), 100 + np.arange(8.0).reshape(2, 4))},
        coords={"x": [3, 4], "y": [0, 1, 2, 3]},
    )
    session = repo.writable_session("main")
    to_icechunk(base.chunk({"x": 1}), session, mode="w")
    session.commit("base")
    session = repo.writable_session("main")
    to_icechunk(more_x, session, append_dim="x")
    grown = xr.concat([base, more_x], dim="x")
    more_y = xr.Dataset(
        {"v": (("x", "y"), -np.arange(10.0).reshape(5, 2))},
        coords={"x": grown.x.values, "y": [4, 5]},
    )
    to_icechunk(more_y, session, append_dim="y")
    session.commit("two appends")
    expected = xr.concat([grown, more_y], dim="y")
    assert_identical(read(repo), expected)


def test_dask_needs_clean_session(repo: icechunk.Repository) -> None:
    ds = make_dataset()
    session = repo.writable_session("main")
    to_icechunk(ds, session, mode="w")
    with pytest.raises(ValueError, match="uncommitted"):
        to_icechunk(ds.chunk({"time": 2}), session, mode="w")


@pytest.mark.parametrize("chunked", [False, True], ids=["numpy", "dask"])
def test_region_explicit_and_auto(repo: icechunk.Repository, chunked: bool) -> None:
    ds = make_dataset(ntime=8)
    session = repo.writable_session("main")
    to_icechunk(ds.chunk({"time": 2}), session, mode="w", encoding={"temperature": {"chunks": (2, 4, 5)}, "pressure": {"chunks": (2, 4, 5)}})
    session.commit("init")

    prep = (lambda d: d.chunk({"time": 2})) if chunked else (lambda d: d)
    part = ds.isel(time=slice(2, 4))[["temperature", "pressure"]] * 10
    session = repo.writable_session("main")
    to_icechunk(prep(part.drop_vars(["lat", "lon", "time"])), session, region={"time": slice(2, 4)})
    session.commit("explicit")
    expected = ds.copy(deep=True)
    expected["temperature"][2:4] = part.temperature.values
    expected["pressure"][2:4] = part.pressure.values
    assert_identical(read(repo), expected)

    part2 = ds.isel(time=slice(6, 8))[["temperature"]] - 5
    session = repo.writable_session("main")
    to_icechunk(prep(part2), session, region="auto")
    session.commit("auto")
    expected["temperature"][6:8] = part2.temperature.values
    assert_identical(read(repo), expected)


def test_region_unaligned_dask_refused(repo: icechunk.Repository) -> None:
    ds = make_dataset(ntime=8)
    session = repo.writable_session("main")
    to_icechunk(ds, session, mode="w", encoding={"temperature": {"chunks": (4, 4, 5)}})
    session.commit("init")
    session = repo.writable_session("main")
    part = ds[["temperature"]].isel(time=slice(1, 3)).drop_vars(["time", "lat", "lon"])
    with pytest.raises(ValueError):
        to_icechunk(part.chunk({"time": 1}), session, region={"time": slice(1, 3)})


def test_cf_encodings_roundtrip(repo: icechunk.Repository) -> None:
    times = pd.date_range("2001-01-01", periods=5, freq="6h")
    data = np.array([1.5, np.nan, 3.25, -2.0, 0.0])
    ds = xr.Dataset(
        {
            "scaled": ("t", data),
            "filled": ("t", np.array([1.0, 2.0, np.nan, 4.0, 5.0])),
            "dt": ("t", pd.to_timedelta([1, 2, 3, 4, 5], unit="h")),
        },
        coords={"t": times},
    )
    encoding = {
        "scaled": {"dtype": "int16", "scale_factor": 0.25, "add_offset": 1.0, "_FillValue": -32768},
        "filled": {"dtype": "int32", "_FillValue": -99},
        "t": {"units": "hours since 2000-01-01", "calendar": "proleptic_gregorian", "dtype": "int64"},
    }
    session = repo.writable_session("main")
    to_icechunk(ds, session, mode="w", encoding=encoding)
    session.commit("cf")
    s = repo.readonly_session("main")
    with xr.open_zarr(s.store, consolidated=False) as actual:
        actual = actual.load()
        assert actual.scaled.encoding["scale_factor"] == 0.25
        assert actual.t.encoding["units"] == "hours since 2000-01-01"
    with xr.open_zarr(s.store, consolidated=False) as decoded:
        assert_identical(decoded.load(), ds)
    # raw storage really is encoded
    with xr.open_zarr(s.store, consolidated=False, decode_cf=False) as raw:
        assert raw.scaled.dtype == np.int16
        assert raw.scaled.values[1] == -32768
        assert raw.filled.dtype == np.int32
        assert raw.filled.values[2] == -99
        assert raw.t.attrs["units"] == "hours since 2000-01-01"


def test_cftime_roundtrip(repo: icechunk.Repository) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        import cftime  # noqa: F401
    else:
        pytest.importorskip("cftime")
    times = xr.date_range("2000-01-01", periods=4, calendar="noleap", use_cftime=True)
    ds = xr.Dataset({"v": ("time", np.arange(4.0))}, coords={"time": times})
    session = repo.writable_session("main")
    to_icechunk(ds, session, mode="w")
    session.commit("cftime")
    s = repo.readonly_session("main")
    with xr.open_zarr(s.store, consolidated=False, use_cftime=True) as actual:
        assert_identical(actual.load(), ds)


def test_versions_branches_tags(repo: icechunk.Repository) -> None:
    ds = make_dataset(ntime=4)
    session = repo.writable_session("main")
    to_icechunk(ds, session, mode="w")
    v1 = session.commit("v1")
    repo.create_tag("v1", snapshot_id=v1)

    session = repo.writable_session("main")
    more = make_dataset(seed=1, ntime=6).isel(time=slice(4, 6)).drop_vars(["mask", "label"])
    to_icechunk(more, session, append_dim="time")
    v2 = session.commit("v2")
    repo.create_branch("dev", snapshot_id=v2)
    session = repo.writable_session("dev")
    to_icechunk(xr.Dataset({"only_dev": ("lat", np.ones(4))}), session, mode="a")
    session.commit("dev change")

    full = xr.concat([ds.drop_vars(["mask", "label"]), more], dim="time").assign(mask=ds.mask, label=ds.label)
    assert_identical(read(repo, tag="v1"), ds)
    assert_identical(read(repo, snapshot_id=v1), ds)
    assert_equal(read(repo, branch="main"), full)
    assert "only_dev" in read(repo, branch="dev")
    assert "only_dev" not in read(repo, branch="main")


def test_consolidated_true_is_ignored(repo: icechunk.Repository) -> None:
    ds = make_dataset()
    session = repo.writable_session("main")
    to_icechunk(ds, session, mode="w")
    session.commit("w")
    s = repo.readonly_session("main")
    # IcechunkStore reports no consolidated-metadata support, so xarray reads it directly
    with xr.open_zarr(s.store, consolidated=True) as actual:
        assert_identical(actual.load(), ds)
    with xr.open_zarr(s.store) as actual:
        assert_identical(actual.load(), ds)


def test_uncommitted_reads_and_discard(repo: icechunk.Repository) -> None:
    ds = make_dataset()
    session = repo.writable_session("main")
    to_icechunk(ds, session, mode="w")
    with xr.open_zarr(session.store, consolidated=False) as actual:
        assert_identical(actual.load(), ds)
    session.discard_changes()
    assert not session.has_uncommitted_changes


def test_fork_session_target_numpy_and_dask(repo: icechunk.Repository) -> None:
    """to_icechunk into a ForkSession (as a worker would) with both kinds of data."""
    ds = make_dataset(ntime=4)
    session = repo.writable_session("main")
    to_icechunk(ds, session, mode="w", encoding={"temperature": {"chunks": (1, 4, 5)}})
    session.commit("init")

    session = repo.writable_session("main")
    fork = session.fork()
    a = ds[["temperature"]].isel(time=slice(0, 1)).drop_vars(["time", "lat", "lon"]) + 1
    b = ds[["temperature"]].isel(time=slice(1, 3)).drop_vars(["time", "lat", "lon"]) + 2
    to_icechunk(a, fork, region={"time": slice(0, 1)})
    to_icechunk(b.chunk({"time": 1}), fork, region={"time": slice(1, 3)})
    session.merge(fork)
    session.commit("fork writes")
    expected = ds.copy(deep=True)
    expected["temperature"][0:1] = a.temperature.values
    expected["temperature"][1:3] = b.temperature.values
    assert_identical(read(repo), expected)


# --- region writes from forks: whole chunks only ---------------------------------------------


def _monthly_repo(tmp_path: Path, ndays: int = 65) -> icechunk.Repository:
    """A (time, x) variable in 30-day chunks, zeros everywhere."""
    repo = icechunk.Repository.create(icechunk.local_filesystem_storage(str(tmp_path / "r")))
    session = repo.writable_session("main")
    ds = xr.Dataset({"tas": (("time", "x"), np.zeros((ndays, 3)))})
    to_icechunk(ds, session, encoding={"tas": {"chunks": (30, 3)}})
    session.commit("zeros")
    return repo


def _day(value: float) -> xr.Dataset:
    return xr.Dataset({"tas": (("time", "x"), np.full((1, 3), value))})


def test_fork_region_write_of_part_of_a_chunk_is_refused(tmp_path: Path) -> None:
    from icechunk._exceptions import RegionNotAlignedError

    repo = _monthly_repo(tmp_path)
    session = repo.writable_session("main")
    fork = session.fork()
    with pytest.raises(RegionNotAlignedError) as info:
        to_icechunk(_day(1.0), fork, region={"time": slice(15, 16)})
    message = str(info.value)
    assert "'tas'" in message and "time=15:16" in message and "multiples of 30" in message
    assert not fork.has_uncommitted_changes  # refused before writing anything
    # whole chunks, and the array's last (partial) chunk, are fine
    month = xr.Dataset({"tas": (("time", "x"), np.ones((30, 3)))})
    to_icechunk(month, fork, region={"time": slice(30, 60)})
    tail = xr.Dataset({"tas": (("time", "x"), np.full((5, 3), 2.0))})
    to_icechunk(tail, fork, region={"time": slice(60, 65)})
    session.merge(fork)
    session.commit("aligned")
    got = xr.open_zarr(repo.readonly_session("main").store, consolidated=False).tas.values
    np.testing.assert_array_equal(got[:30], 0.0)
    np.testing.assert_array_equal(got[30:60], 1.0)
    np.testing.assert_array_equal(got[60:], 2.0)
    # through the session itself, a partial chunk is a plain read-modify-write
    session = repo.writable_session("main")
    to_icechunk(_day(9.0), session, region={"time": slice(15, 16)})
    session.commit("one day")
    got = xr.open_zarr(repo.readonly_session("main").store, consolidated=False).tas.values
    np.testing.assert_array_equal(got[15], 9.0)


def test_days_from_many_forks_into_one_chunk_fail_at_merge(tmp_path: Path) -> None:
    """The reported data loss: 24 workers each write one day of a 30-day chunk."""
    from icechunk._exceptions import ChunkWriteConflictError

    repo = _monthly_repo(tmp_path)
    session = repo.writable_session("main")
    base = session.fork()
    forks = []
    for day in range(24):
        fork = pickle.loads(pickle.dumps(base))
        # safe_chunks=False skips the region check: the merge still refuses
        to_icechunk(_day(day + 1.0), fork, region={"time": slice(day, day + 1)}, safe_chunks=False)
        forks.append(fork)
    with pytest.raises(ChunkWriteConflictError, match="'/tas'"):
        session.merge(*forks)

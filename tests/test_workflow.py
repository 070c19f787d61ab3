"""The reference's "Real-World Workflow Example", steps 1 to 7, end to end on local storage.

Corrected where the printed example does not run: step 4 appends every time-dependent variable
(appending only one leaves the dataset ragged), and step 7 first extends the time axis (its
region writes need the arrays to cover those steps already), then 24 processes write one time
step each through forks of one session, which are merged and committed together.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
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

import dask.array as da
import zarr
from xarray.testing import assert_identical

import icechunk
from icechunk.dask import store_dask
from icechunk.xarray import to_icechunk

NLAT, NLON = 6, 8
NEW_STEPS = 24


def _fields(ntime: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rs = np.random.default_rng(seed)
    temp = (280 + 10 * rs.standard_normal((ntime, NLAT, NLON))).astype("f4")
    press = (1000 + rs.standard_normal((ntime, NLAT, NLON))).astype("f4")
    return temp, press


def _forecast(temp: np.ndarray, press: np.ndarray, start: int) -> xr.Dataset:
    ntime = temp.shape[0]
    return xr.Dataset(
        {
            "temperature": (["time", "lat", "lon"], temp, {"units": "K"}),
            "pressure": (["time", "lat", "lon"], press, {"units": "hPa"}),
        },
        coords={
            "time": pd.date_range("2025-01-01", periods=start + ntime, freq="h")[start:],
            "lat": np.linspace(-60, 60, NLAT),
            "lon": np.linspace(0, 315, NLON),
        },
        attrs={"model": "toy"},
    )


def write_timestep(itime: int, temp: np.ndarray, press: np.ndarray, fork_session):
    """Step 7's worker: write one time step into its region, return the fork."""
    ds = xr.Dataset(
        {
            "temperature": (["time", "lat", "lon"], temp[None]),
            "pressure": (["time", "lat", "lon"], press[None]),
        }
    )
    to_icechunk(ds, fork_session, region={"time": slice(itime, itime + 1)})
    return fork_session


def test_reference_workflow(tmp_path: Path) -> None:
    encoding = {v: {"chunks": (1, NLAT, NLON)} for v in ("temperature", "pressure")}

    # 1. Create repo
    storage = icechunk.local_filesystem_storage(str(tmp_path / "climate-model"))
    repo = icechunk.Repository.create(storage)

    # 2. Initial write
    temp0, press0 = _fields(4, seed=0)
    ds_v1 = _forecast(temp0, press0, start=0)
    session = repo.writable_session("main")
    to_icechunk(ds_v1, session, mode="w", encoding=encoding)
    v1_snapshot = session.commit("Initial forecast")

    # 3. Create release tag
    repo.create_tag("release-2025-01", snapshot_id=v1_snapshot)

    # 4. Continue work on main: append a time step (all time-dependent variables)
    temp1, press1 = _fields(1, seed=1)
    ds_update = _forecast(temp1, press1, start=4)
    session = repo.writable_session("main")
    to_icechunk(ds_update, session, append_dim="time")
    session.commit("Append new forecast timestep")
    ds_main = xr.concat([ds_v1, ds_update], dim="time")

    # 5. Create experimental branch and make experimental changes there
    current_main = repo.lookup_branch("main")
    repo.create_branch("experimental", snapshot_id=current_main)
    session = repo.writable_session("experimental")
    warmer = (ds_main[["temperature"]] + 2).drop_vars(["time", "lat", "lon"])
    to_icechunk(warmer, session, region={"time": slice(0, 5)})
    session.commit("Experimental model run")

    # 6. Reader accessing specific version: v1 even after main moved on
    session = repo.readonly_session(tag="release-2025-01")
    with xr.open_zarr(session.store, consolidated=False) as ds_release:
        assert_identical(ds_release.load(), ds_v1)
    with xr.open_zarr(repo.readonly_session(branch="main").store, consolidated=False) as ds:
        assert_identical(ds.load(), ds_main)
    with xr.open_zarr(repo.readonly_session(branch="experimental").store, consolidated=False) as ds:
        assert_identical(ds.load().temperature, ds_main.temperature + 2)

    # 7. Parallel writes of 24 new time steps by worker processes
    # 7a. extend the time axis (metadata and the time coordinate only, no data chunks)
    temp_new, press_new = _fields(NEW_STEPS, seed=7)
    template = _forecast(temp_new, press_new, start=5)
    template = template.assign(
        temperature=(template.temperature.dims, da.zeros(temp_new.shape, dtype="f4", chunks=(1, NLAT, NLON)), {"units": "K"}),
        pressure=(template.pressure.dims, da.zeros(press_new.shape, dtype="f4", chunks=(1, NLAT, NLON)), {"units": "hPa"}),
    )
    session = repo.writable_session("main")
    template.to_zarr(session.store, append_dim="time", compute=False, consolidated=False)
    session.commit("Extend time axis by 24 hours")
    assert zarr.open_group(repo.readonly_session("main").store, mode="r")["temperature"].shape[0] == 5 + NEW_STEPS

    # 7b. 24 region writes from a process pool, each through the (pickled) fork
    session = repo.writable_session("main")
    fork = session.fork()
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=ctx) as executor:
        futures = [
            executor.submit(write_timestep, 5 + i, temp_new[i], press_new[i], fork)
            for i in range(NEW_STEPS)
        ]
        remote_sessions = [f.result() for f in futures]
    for remote_session in remote_sessions:
        session.merge(remote_session)
    assert len(session.status().updated_chunks["/temperature"]) == NEW_STEPS
    session.commit("Appended 24 hours of forecast data")

    expected = xr.concat([ds_main, _forecast(temp_new, press_new, start=5)], dim="time")
    with xr.open_zarr(repo.readonly_session(branch="main").store, consolidated=False) as ds:
        assert_identical(ds.load(), expected)
    # the release is still exactly v1
    with xr.open_zarr(repo.readonly_session(tag="release-2025-01").store, consolidated=False) as ds:
        assert_identical(ds.load(), ds_v1)
    messages = [s.message for s in repo.ancestry(branch="main")]
    assert messages[:3] == [
        "Appended 24 hours of forecast data",
        "Extend time axis by 24 hours",
        "Append new forecast timestep",
    ]


def test_reference_dask_section(tmp_path: Path) -> None:
    """The reference's "Dask Integration Patterns" (``name=`` for zarr's ``path=``)."""
    repo = icechunk.Repository.create(icechunk.local_filesystem_storage(str(tmp_path / "repo")))
    session = repo.writable_session("main")
    zarr.create_array(session.store, name="array", shape=(100, 100), chunks=(10, 10), dtype="f8")
    session.commit("Initialize")

    session = repo.writable_session("main")
    fork = session.fork()
    zarr_array = zarr.open_array(fork.store, path="array")
    dask_array = da.random.random((100, 100), chunks=(20, 20))
    remote_session = store_dask(sources=[dask_array], targets=[zarr_array])
    session.merge(remote_session)
    session.commit("Wrote dask array")
    got = zarr.open_array(repo.readonly_session(branch="main").store, path="array", mode="r")[:]
    np.testing.assert_array_equal(got, dask_array.compute())


def test_reference_xarray_section(tmp_path: Path) -> None:
    """The reference's "Xarray Integration Patterns": write, append, read at versions."""
    repo = icechunk.Repository.create(icechunk.local_filesystem_storage(str(tmp_path / "repo")))
    temp, press = _fields(3, seed=3)
    ds = _forecast(temp, press, start=0)
    session = repo.writable_session("main")
    to_icechunk(ds.chunk({"time": 1}), session, mode="w")  # dask-backed, one step per chunk
    first = session.commit("Write dataset")
    repo.create_tag("v1.0", snapshot_id=first)

    temp2, press2 = _fields(2, seed=4)
    ds2 = _forecast(temp2, press2, start=3).chunk({"time": 1})  # dask-backed append
    session = repo.writable_session("main")
    to_icechunk(ds2, session, append_dim="time")
    session.commit("Append time dimension")

    session = repo.readonly_session(branch="main")
    with xr.open_zarr(session.store, consolidated=False) as actual:
        assert_identical(actual.load(), xr.concat([ds, ds2.compute()], dim="time"))
    session = repo.readonly_session(tag="v1.0")
    with xr.open_zarr(session.store, consolidated=False) as actual:
        assert_identical(actual.load(), ds)

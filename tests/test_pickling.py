"""Only read-only sessions and forks pickle: a pickled writable session would lose writes.

Dask pickles ``session.store`` into its tasks; with the processes scheduler or a distributed
cluster, writes would land in the workers' copies and the commit would silently miss them.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from typing import Any

import cloudpickle
import dask
import distributed
import numpy as np
import pytest
import xarray as xr
import zarr

import icechunk
from icechunk._exceptions import SessionNotPicklableError

ADVICE = ("session.fork()", "icechunk.xarray.to_icechunk")


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [error]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo += [e.__cause__, e.__context__]


def _assert_advice(error: BaseException) -> None:
    """The user sees the advice, whether the error is ours or wraps ours."""
    text = "\n".join(str(e) for e in _chain(error))
    for hint in ADVICE:
        assert hint in text, text


@pytest.fixture
def repo() -> icechunk.Repository:
    repo = icechunk.Repository.create(icechunk.in_memory_storage())
    session = repo.writable_session("main")
    ds = xr.Dataset({"t": (("time",), np.zeros(8))})
    ds.to_zarr(session.store, consolidated=False, encoding={"t": {"chunks": (2,)}})
    session.commit("zeros")
    return repo


@pytest.mark.parametrize("dumps", [pickle.dumps, cloudpickle.dumps], ids=["pickle", "cloudpickle"])
@pytest.mark.parametrize("dirty", [False, True], ids=["clean", "dirty"])
def test_writable_session_and_store_refuse(repo: icechunk.Repository, dumps: Any, dirty: bool) -> None:
    session = repo.writable_session("main")
    if dirty:
        zarr.open_array(session.store, path="t")[:2] = 1.0
    for obj in (session, session.store):
        with pytest.raises(SessionNotPicklableError) as info:
            dumps(obj)
        assert isinstance(info.value, ValueError)  # upstream raises ValueError
        _assert_advice(info.value)


def test_readonly_sessions_and_forks_pickle(repo: icechunk.Repository) -> None:
    readonly = repo.readonly_session("main")
    back = pickle.loads(pickle.dumps(readonly.store))
    np.testing.assert_array_equal(zarr.open_array(back, path="t", mode="r")[:], np.zeros(8))
    session = repo.writable_session("main")
    fork = pickle.loads(pickle.dumps(session.fork()))
    zarr.open_array(fork.store, path="t")[:2] = 5.0
    session.merge(pickle.loads(pickle.dumps(fork)))
    session.commit("through a fork")
    got = zarr.open_array(repo.readonly_session("main").store, path="t", mode="r")[:]
    np.testing.assert_array_equal(got, [5, 5, 0, 0, 0, 0, 0, 0])


def _region_write(repo: icechunk.Repository) -> icechunk.Session:
    session = repo.writable_session("main")
    update = xr.Dataset({"t": (("time",), np.ones(4))}).chunk({"time": 2})
    update.to_zarr(session.store, region={"time": slice(0, 4)}, consolidated=False)
    return session


def test_dask_processes_scheduler_region_write_fails_loudly(repo: icechunk.Repository) -> None:
    with dask.config.set(scheduler="processes", num_workers=1):
        with pytest.raises(Exception) as info:
            _region_write(repo)
    _assert_advice(info.value)
    got = zarr.open_array(repo.readonly_session("main").store, path="t", mode="r")[:]
    np.testing.assert_array_equal(got, np.zeros(8))  # nothing half-written


def test_distributed_region_write_fails_loudly(repo: icechunk.Repository) -> None:
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as cluster, distributed.Client(cluster):
        with pytest.raises(Exception) as info:
            _region_write(repo)
    _assert_advice(info.value)

"""icechunk.dask.store_dask and to_icechunk with dask, on threads, processes and distributed."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from _require import require

dask = require("dask")
distributed = require("distributed")
xr = require("xarray")

import dask.array as da
import zarr
from xarray.testing import assert_identical

import icechunk
from icechunk.dask import store_dask
from icechunk.distributed import extract_session, merge_sessions
from icechunk.xarray import to_icechunk


@pytest.fixture
def repo(tmp_path: Path) -> icechunk.Repository:
    return icechunk.Repository.create(icechunk.local_filesystem_storage(str(tmp_path / "repo")))


@pytest.fixture(scope="module")
def client() -> Iterator[distributed.Client]:
    with (
        distributed.LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


SCHEDULERS = ["threads", "processes", "distributed"]


def _run_with(scheduler: str, request: pytest.FixtureRequest):
    """A context in which dask computes with ``scheduler``."""
    if scheduler == "distributed":
        c = request.getfixturevalue("client")
        return c.as_current()
    return dask.config.set(scheduler=scheduler)


def _init_array(repo: icechunk.Repository, shape, chunks, **kw) -> None:
    session = repo.writable_session("main")
    zarr.create_array(session.store, name="array", shape=shape, chunks=chunks, dtype="f8", **kw)
    session.commit("init")


def _read_array(repo: icechunk.Repository, name: str = "array") -> np.ndarray:
    return zarr.open_array(repo.readonly_session("main").store, path=name, mode="r")[...]


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_store_dask(repo: icechunk.Repository, scheduler: str, request: pytest.FixtureRequest) -> None:
    _init_array(repo, (60, 40), (10, 10))
    source = da.arange(60 * 40, dtype="f8").reshape(60, 40).rechunk((20, 10)) * 1.5
    expected = np.arange(60 * 40, dtype="f8").reshape(60, 40) * 1.5

    session = repo.writable_session("main")
    fork = session.fork()
    target = zarr.open_array(fork.store, path="array")
    with _run_with(scheduler, request):
        merged = store_dask(sources=[source], targets=[target], split_every=3)
    assert isinstance(merged, icechunk.ForkSession)
    session.merge(merged)
    session.commit(f"wrote with {scheduler}")
    np.testing.assert_array_equal(_read_array(repo), expected)
    assert len(repo.readonly_session("main").status().updated_chunks) == 0


def test_store_dask_regions_and_several_targets(repo: icechunk.Repository) -> None:
    session = repo.writable_session("main")
    zarr.create_array(session.store, name="a", shape=(20, 20), chunks=(5, 5), dtype="i4", fill_value=-1)
    zarr.create_array(session.store, name="b", shape=(30,), chunks=(10,), dtype="f4")
    session.commit("init")
    session = repo.writable_session("main")
    fork = session.fork()
    a = zarr.open_array(fork.store, path="a")
    b = zarr.open_array(fork.store, path="b")
    src_a = da.ones((10, 20), dtype="i4", chunks=(5, 5)) * 7
    src_b = da.arange(30, dtype="f4", chunks=10)
    merged = store_dask(
        sources=[src_a, src_b],
        targets=[a, b],
        regions=[(slice(10, 20), slice(None)), None],
        split_every=2,
        scheduler="threads",
    )
    session.merge(merged)
    session.commit("regions")
    expected_a = np.full((20, 20), -1, dtype="i4")
    expected_a[10:] = 7
    np.testing.assert_array_equal(_read_array(repo, "a"), expected_a)
    np.testing.assert_array_equal(_read_array(repo, "b"), np.arange(30, dtype="f4"))
    # rows never written stay uninitialized
    s = repo.readonly_session("main")
    assert s.chunk_type("a", (0, 0)) == icechunk.ChunkType.UNINITIALIZED


def test_store_dask_argument_errors(repo: icechunk.Repository) -> None:
    _init_array(repo, (10,), (5,))
    session = repo.writable_session("main")
    plain = zarr.open_array(session.store, path="array")
    with pytest.raises(ValueError, match="ForkSession"):
        store_dask(sources=[da.ones(10, chunks=5)], targets=[plain])
    fork = session.fork()
    target = zarr.open_array(fork.store, path="array")
    with pytest.raises(ValueError, match="one target per source"):
        store_dask(sources=[da.ones(10, chunks=5)], targets=[target, target])
    with pytest.raises(TypeError, match="compute"):
        store_dask(sources=[da.ones(10, chunks=5)], targets=[target], compute=False)
    with pytest.raises(TypeError):
        store_dask([da.ones(10, chunks=5)], [target])  # type: ignore[misc]


def test_distributed_helpers(repo: icechunk.Repository) -> None:
    _init_array(repo, (10,), (5,))
    session = repo.writable_session("main")
    f1, f2 = session.fork(), session.fork()
    assert isinstance(extract_session(zarr.open_array(f1.store, path="array")), icechunk.ForkSession)
    zarr.open_array(f1.store, path="array")[:5] = 1
    zarr.open_array(f2.store, path="array")[5:] = 2
    merged = merge_sessions([f1, [f2, f1]])
    assert merged is f1
    with pytest.raises(TypeError, match="ForkSession"):
        merge_sessions(f1, session)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        extract_session(np.zeros(3))
    session.merge(merged)
    session.commit("helpers")
    np.testing.assert_array_equal(_read_array(repo), [1.0] * 5 + [2.0] * 5)


def _dataset() -> xr.Dataset:
    rs = np.random.default_rng(42)
    return xr.Dataset(
        {
            "t": (("time", "y", "x"), rs.normal(size=(12, 6, 8)).astype("f4")),
            "p": (("time", "y", "x"), rs.normal(size=(12, 6, 8))),
            "static": (("y", "x"), np.arange(48).reshape(6, 8)),
        },
        coords={"time": np.arange(12), "y": np.arange(6) * 0.5, "x": np.arange(8)},
        attrs={"source": "test"},
    )


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_to_icechunk_dask(repo: icechunk.Repository, scheduler: str, request: pytest.FixtureRequest) -> None:
    ds = _dataset()
    session = repo.writable_session("main")
    with _run_with(scheduler, request):
        to_icechunk(ds.chunk({"time": 3}), session, mode="w", split_every=2)
        assert session.has_uncommitted_changes
        session.commit("dask write")
        # append a dask-backed step, then overwrite a region
        session = repo.writable_session("main")
        more = _dataset().isel(time=slice(0, 3)).assign_coords(time=[12, 13, 14])
        more = more.drop_vars("static")
        to_icechunk(more.chunk({"time": 3}), session, append_dim="time")
        session.commit("append")
        session = repo.writable_session("main")
        region = (ds[["t", "p"]].isel(time=slice(3, 6)) * 0 + 5).drop_vars(["time", "y", "x"])
        to_icechunk(region.chunk({"time": 3}), session, region={"time": slice(3, 6)})
        session.commit("region")
    expected = xr.concat([ds.drop_vars("static"), more], dim="time").assign(static=ds.static)
    expected["t"][3:6] = 5
    expected["p"][3:6] = 5
    with xr.open_zarr(repo.readonly_session("main").store, consolidated=False) as actual:
        assert_identical(actual.load(), expected)


def test_sharded_array_store_dask(repo: icechunk.Repository) -> None:
    """zarr's sharding codec, several shards per dask chunk, default zarr async concurrency."""
    assert zarr.config.get("async.concurrency") != 1
    _init_array(repo, (64, 64), (4, 4), shards=(16, 16))
    source = da.random.default_rng(0).random((64, 64), chunks=(32, 16))
    expected = source.compute()
    session = repo.writable_session("main")
    fork = session.fork()
    merged = store_dask(sources=[source], targets=[zarr.open_array(fork.store, path="array")], scheduler="threads")
    session.merge(merged)
    session.commit("sharded")
    np.testing.assert_array_equal(_read_array(repo), expected)
    # one stored object per shard
    s = repo.readonly_session("main")
    assert s.chunk_type("array", (3, 3)) == icechunk.ChunkType.NATIVE


def test_sharded_to_icechunk_distributed(repo: icechunk.Repository, client: distributed.Client) -> None:
    ds = xr.Dataset({"v": (("a", "b"), np.arange(32 * 32, dtype="f8").reshape(32, 32))})
    session = repo.writable_session("main")
    with client.as_current():
        to_icechunk(
            ds.chunk({"a": 16, "b": 16}),
            session,
            mode="w",
            encoding={"v": {"chunks": (4, 4), "shards": (16, 16)}},
        )
    session.commit("sharded")
    with xr.open_zarr(repo.readonly_session("main").store, consolidated=False) as actual:
        assert_identical(actual.load(), ds)
        assert actual.v.encoding["shards"] == (16, 16)


def test_imports_stay_lazy() -> None:
    code = (
        "import sys, icechunk; "
        "assert not {'xarray', 'dask', 'distributed'} & set(sys.modules), sorted(m for m in sys.modules if m.split('.')[0] in {'xarray','dask','distributed'}); "
        "import icechunk.dask, icechunk.distributed; "
        "assert 'distributed' not in sys.modules; "
        "import icechunk.xarray; "
        "assert 'distributed' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)

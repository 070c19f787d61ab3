"""Progress on long work: tqdm bars for maintenance with ``progress=True`` (silent by default),
dask progress bars for ``store_dask``/``to_icechunk``, and ``to_icechunk(compute=False)``."""

from __future__ import annotations

import datetime as dt
import warnings
from pathlib import Path

import dask
import dask.array as da
import numpy as np
import pytest
import xarray as xr
import zarr
from _require import require
from dask.delayed import Delayed

import icechunk
from icechunk.dask import store_dask
from icechunk.xarray import to_icechunk


@pytest.fixture
def repo() -> icechunk.Repository:
    repo = icechunk.Repository.create(icechunk.in_memory_storage())
    for i in range(3):
        s = repo.writable_session("main")
        root = zarr.open_group(s.store)
        root.create_array(f"a{i}", shape=(4,), chunks=(2,), dtype="f8", fill_value=0)[:] = i + 1
        s.commit(f"commit {i}")
    repo.create_tag("v", repo.lookup_branch("main"))
    return repo


NOW = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)


def test_garbage_collect_progress(repo: icechunk.Repository, capsys) -> None:
    quiet = repo.garbage_collect(NOW, dry_run=True)
    assert capsys.readouterr() == ("", "")  # silent by default
    loud = repo.garbage_collect(NOW, dry_run=True, progress=True)
    assert loud == quiet
    err = capsys.readouterr().err
    # two refs walked, three manifests read, then every prefix scanned
    assert "Walking history: 100%" in err and "2/2" in err
    assert "Reading manifests: 100%" in err and "3/3" in err
    for prefix in ("snapshots", "transactions", "manifests", "chunks"):
        assert f"Scanning {prefix}" in err


def test_chunk_storage_stats_progress(repo: icechunk.Repository, capsys) -> None:
    quiet = repo.chunk_storage_stats()
    assert capsys.readouterr() == ("", "")  # silent by default
    assert repo.chunk_storage_stats(progress=True) == quiet
    err = capsys.readouterr().err
    assert "Counting chunk bytes: 100%" in err and "Scanning chunks" in err


def test_expire_snapshots_progress(repo: icechunk.Repository, capsys) -> None:
    assert not repo.expire_snapshots(dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
    assert capsys.readouterr() == ("", "")  # silent by default
    expired = repo.expire_snapshots(NOW, progress=True)
    assert len(expired) == 3
    err = capsys.readouterr().err
    assert "Expiring refs: 100%" in err and "2/2" in err


def test_rewrite_manifests_progress_counts_arrays(repo: icechunk.Repository, capsys) -> None:
    repo.rewrite_manifests("quiet", branch="main")
    assert capsys.readouterr() == ("", "")  # silent by default
    repo.rewrite_manifests("rewrite", branch="main", progress=True)
    err = capsys.readouterr().err
    assert "Rewriting manifests: 100%" in err and "3/3" in err


# --- dask ---------------------------------------------------------------------------------


def _dataset(factor: float = 1.0) -> xr.Dataset:
    data = da.arange(48, chunks=12, dtype="f8").reshape(8, 6).rechunk((4, 3)) * factor
    return xr.Dataset({"t": (("x", "y"), data)}, coords={"x": np.arange(8)})


def _read(repo: icechunk.Repository) -> np.ndarray:
    return xr.open_zarr(repo.readonly_session("main").store, consolidated=False).t.values


def test_store_dask_progress(repo: icechunk.Repository, capsys) -> None:
    session = repo.writable_session("main")
    fork = session.fork()
    target = zarr.create_array(fork.store, name="d", shape=(8,), chunks=(4,), dtype="f8")
    merged = store_dask(sources=[da.ones(8, chunks=4)], targets=[target], progress=True)
    session.merge(merged)
    session.commit("dask")
    out = capsys.readouterr().out
    assert "100% Completed" in out
    assert zarr.open_array(repo.readonly_session("main").store, path="d")[:].sum() == 8


def test_to_icechunk_progress(repo: icechunk.Repository, capsys) -> None:
    session = repo.writable_session("main")
    to_icechunk(_dataset(), session, group="ds", progress=True)
    assert "100% Completed" in capsys.readouterr().out
    to_icechunk(_dataset(), repo.writable_session("main"), group="ds2")
    assert "Completed" not in capsys.readouterr().out


def test_to_icechunk_compute_false_then_compute_merges(tmp_path: Path, capsys) -> None:
    repo = icechunk.Repository.create(icechunk.local_filesystem_storage(str(tmp_path)))
    session = repo.writable_session("main")
    write = to_icechunk(_dataset(), session, compute=False)
    assert isinstance(write, Delayed)
    assert not session.has_uncommitted_changes  # nothing merged yet
    with pytest.warns(UserWarning, match="forked"), pytest.raises(icechunk.IcechunkError):
        session.commit("too early")  # the session was forked and has no changes
    assert write.compute(scheduler="threads", progress=True) is None
    assert "100% Completed" in capsys.readouterr().out
    assert session.status().updated_chunks["/t"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # merged: no 'forked' warning
        session.commit("lazy write")
    np.testing.assert_array_equal(_read(repo), np.arange(48.0).reshape(8, 6))


def test_to_icechunk_compute_false_with_dask_compute_and_processes(tmp_path: Path) -> None:
    """dask.compute (any scheduler) gives the workers' merged fork for session.merge."""
    repo = icechunk.Repository.create(icechunk.local_filesystem_storage(str(tmp_path)))
    session = repo.writable_session("main")
    write = to_icechunk(_dataset(2.0), session, compute=False)
    (fork,) = dask.compute(write, scheduler="processes")
    assert isinstance(fork, icechunk.ForkSession)
    session.merge(fork)
    session.commit("via dask.compute")
    np.testing.assert_array_equal(_read(repo), 2 * np.arange(48.0).reshape(8, 6))


def test_to_icechunk_compute_false_persist_keeps_the_merge(repo: icechunk.Repository) -> None:
    session = repo.writable_session("main")
    write = to_icechunk(_dataset(3.0), session, group="p", compute=False)
    persisted = write.persist(scheduler="sync")
    assert isinstance(persisted, type(write))
    persisted.compute()
    session.commit("persisted")
    ds = xr.open_zarr(repo.readonly_session("main").store, group="p", consolidated=False)
    np.testing.assert_array_equal(ds.t.values, 3 * np.arange(48.0).reshape(8, 6))


def test_to_icechunk_compute_false_without_dask_data(repo: icechunk.Repository) -> None:
    session = repo.writable_session("main")
    ds = xr.Dataset({"n": ("x", np.arange(4.0))})
    write = to_icechunk(ds, session, group="eager", compute=False)
    write.compute()
    session.commit("eager")
    got = xr.open_zarr(repo.readonly_session("main").store, group="eager", consolidated=False)
    np.testing.assert_array_equal(got.n.values, np.arange(4.0))


def test_to_icechunk_compute_false_with_distributed_progress(tmp_path: Path, capsys) -> None:
    """On a cluster: persist, watch distributed.progress, then compute() merges."""
    distributed = require("distributed")
    repo = icechunk.Repository.create(icechunk.local_filesystem_storage(str(tmp_path)))
    session = repo.writable_session("main")
    with (
        distributed.LocalCluster(
            n_workers=1, processes=False, threads_per_worker=2, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        write = to_icechunk(_dataset(4.0), session, compute=False)
        persisted = client.persist(write)
        distributed.progress(persisted)
        persisted.compute()
    assert "100% Completed" in capsys.readouterr().out
    session.commit("on a cluster")
    np.testing.assert_array_equal(_read(repo), 4 * np.arange(48.0).reshape(8, 6))

"""Benchmarks of the xarray and dask integrations on local filesystem storage.

Run from the repository root::

    .venv/bin/python benchmarks/bench_xarray_dask.py          # best of 3
    .venv/bin/python benchmarks/bench_xarray_dask.py --quick  # best of 1

Cases (the issue's targets, measured with upstream Icechunk 1.1 on this machine, in brackets):

* ``to_icechunk`` of a 3-variable dataset of 120x180x360 float32 (about 93 MB), chunked 10
  along time, numpy-backed and dask-backed (threads) [~0.2 s]; then
  ``xr.open_zarr(...).load()`` of it [~0.2 s];
* ``store_dask`` of a 4096x4096 float32 dask array in 512x512 chunks with the threaded
  scheduler [~0.2 s] and with a 2-worker ``distributed.LocalCluster`` [~0.7 s].

A plain zarr ``LocalStore`` is timed alongside for reference. Timings keep the best of N runs;
nothing asserts on them.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from collections.abc import Callable
from typing import Any

import dask
import dask.array as da
import numpy as np
import xarray as xr
import zarr

import icechunk
from icechunk.dask import store_dask
from icechunk.xarray import to_icechunk

TARGETS = {
    "to_icechunk (numpy)": 0.2,
    "to_icechunk (dask, threads)": 0.2,
    "open_zarr().load()": 0.2,
    "store_dask (threads)": 0.2,
    "store_dask (LocalCluster, 2 workers)": 0.7,
}


def make_dataset() -> xr.Dataset:
    rs = np.random.default_rng(0)
    shape = (120, 180, 360)
    base = np.linspace(0, 1, shape[2], dtype="f4")
    return xr.Dataset(
        {
            name: (("time", "lat", "lon"), (base + rs.standard_normal(shape, dtype="f4") * 0.1))
            for name in ("temperature", "pressure", "humidity")
        },
        coords={"time": np.arange(120), "lat": np.linspace(-90, 90, 180), "lon": np.arange(360.0)},
    )


def best(fn: Callable[[], Any], setup: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        state = setup()
        t0 = time.perf_counter()
        fn(state)
        times.append(time.perf_counter() - t0)
    return min(times)


class Dirs:
    def __init__(self) -> None:
        self.dirs: list[str] = []

    def new(self) -> str:
        d = tempfile.mkdtemp(prefix="icbench-")
        self.dirs.append(d)
        return d

    def cleanup(self) -> None:
        for d in self.dirs:
            shutil.rmtree(d, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    repeat = 1 if args.quick else 3
    dirs = Dirs()
    results: dict[str, tuple[float, float | None]] = {}
    ds = make_dataset()
    enc = {v: {"chunks": (10, 180, 360)} for v in ds.data_vars}
    print(f"dataset: {ds.nbytes / 1e6:.0f} MB; repeat={repeat}")

    def new_repo() -> icechunk.Repository:
        return icechunk.Repository.create(icechunk.local_filesystem_storage(dirs.new()))

    # --- to_icechunk ----------------------------------------------------------------------
    def write_numpy(repo: icechunk.Repository) -> None:
        s = repo.writable_session("main")
        to_icechunk(ds, s, mode="w", encoding=enc)
        s.commit("w")

    def write_dask(repo: icechunk.Repository) -> None:
        s = repo.writable_session("main")
        to_icechunk(ds.chunk({"time": 10}), s, mode="w")
        s.commit("w")

    def zarr_write(path: str) -> None:
        ds.to_zarr(zarr.storage.LocalStore(path), mode="w", encoding=enc, consolidated=False, zarr_format=3)

    with dask.config.set(scheduler="threads"):
        ours_np = best(write_numpy, new_repo, repeat)
        ours_dask = best(write_dask, new_repo, repeat)
        plain = best(zarr_write, dirs.new, repeat)
    results["to_icechunk (numpy)"] = (ours_np, plain)
    results["to_icechunk (dask, threads)"] = (ours_dask, plain)

    # --- read back ------------------------------------------------------------------------
    repo = new_repo()
    write_numpy(repo)
    zpath = dirs.new()
    zarr_write(zpath)

    def read_ours(_: Any) -> None:
        s = repo.readonly_session("main")
        xr.open_zarr(s.store, consolidated=False).load()

    def read_zarr(_: Any) -> None:
        xr.open_zarr(zarr.storage.LocalStore(zpath, read_only=True), consolidated=False).load()

    with dask.config.set(scheduler="threads"):
        results["open_zarr().load()"] = (
            best(read_ours, lambda: None, repeat),
            best(read_zarr, lambda: None, repeat),
        )
        got = xr.open_zarr(repo.readonly_session("main").store, consolidated=False).load()
        xr.testing.assert_identical(got, ds)

    # --- store_dask -----------------------------------------------------------------------
    source = da.random.default_rng(1).random((4096, 4096), chunks=(512, 512), dtype="f4")
    source = source.persist(scheduler="threads")

    def sd_setup() -> tuple[icechunk.Session, Any]:
        r = new_repo()
        s = r.writable_session("main")
        zarr.create_array(s.store, name="a", shape=source.shape, chunks=(512, 512), dtype="f4")
        s.commit("init")
        s = r.writable_session("main")
        fork = s.fork()
        return s, zarr.open_array(fork.store, path="a")

    def sd_run(state: tuple[icechunk.Session, Any], **kw: Any) -> None:
        s, target = state
        s.merge(store_dask(sources=[source], targets=[target], **kw))
        s.commit("w")

    def zarr_sd_setup() -> Any:
        return zarr.create_array(
            zarr.storage.LocalStore(dirs.new()), shape=source.shape, chunks=(512, 512), dtype="f4"
        )

    def zarr_sd_run(target: Any) -> None:
        da.store(source, target, lock=False)

    with dask.config.set(scheduler="threads"):
        results["store_dask (threads)"] = (
            best(sd_run, sd_setup, repeat),
            best(zarr_sd_run, zarr_sd_setup, repeat),
        )

    import distributed

    with (
        distributed.LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        dsource = client.persist(source)
        distributed.wait(dsource)
        source = dsource
        # warm the workers (imports) once
        sd_run(sd_setup())
        results["store_dask (LocalCluster, 2 workers)"] = (
            best(sd_run, sd_setup, repeat),
            best(zarr_sd_run, zarr_sd_setup, repeat),
        )

    dirs.cleanup()
    print(f"{'case':40} {'icechunk':>10} {'zarr Local':>11} {'target':>8} {'ratio':>7}")
    for name, (ours, ref) in results.items():
        target = TARGETS[name]
        ref_s = f"{ref:10.3f}s" if ref is not None else " " * 11
        print(f"{name:40} {ours:9.3f}s {ref_s} {target:7.2f}s {ours / target:6.2f}x")


if __name__ == "__main__":
    main()

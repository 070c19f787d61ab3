"""Virtual reference benchmarks (issue 11).

1. ``set_virtual_refs_arr`` of N references, then commit (default N = 1,000,000).
2. Reading 1,000 virtual chunks of one object from an S3 server (moto, started here), next to
   reading the same ranges with obstore directly (``obstore.get_ranges_async``: one call).
3. ``vds.vz.to_icechunk`` of 100 NetCDF4 files with 100 chunks each (VirtualiZarr), and
   reading the result back.

Run: ``.venv/bin/python benchmarks/bench_virtual.py [--refs N] [--files N]``. Prints a
markdown table; compare ratios, not absolute times (the machine is shared).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import zarr

import icechunk

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def bench_bulk_refs(tmp: Path, n: int) -> tuple[float, float]:
    prefix = "s3://bucket/archive/"
    config = icechunk.RepositoryConfig.default()
    config.set_virtual_chunk_container(
        icechunk.VirtualChunkContainer(prefix, icechunk.s3_store(region="us-east-1"))
    )
    repo = icechunk.Repository.create(icechunk.local_filesystem_storage(str(tmp / "bulk")), config)
    session = repo.writable_session("main")
    grid = (n // 1000, 1000)
    zarr.create_array(
        session.store, name="v", shape=(grid[0] * 10, grid[1] * 10), chunks=(10, 10),
        dtype="f4", compressors=None,
    )
    locations = [f"{prefix}file{i // 1000:05d}.nc" for i in range(n)]
    offsets = (np.arange(n, dtype=np.uint64) % 1000) * 400
    lengths = np.full(n, 400, dtype=np.uint64)
    start = time.perf_counter()
    session.store.set_virtual_refs_arr("v", grid, locations, offsets, lengths)
    staged = time.perf_counter()
    session.commit(f"{n} virtual refs")
    return staged - start, time.perf_counter() - staged


def bench_s3_reads(
    tmp: Path, nchunks: int = 1000, chunk: int = 1024
) -> tuple[float, float, float]:
    import boto3
    import obstore
    from obstore.store import S3Store
    from s3_auth_server import KEY_ID, SECRET, serve_s3_with_auth

    values = np.arange(nchunks * chunk, dtype="<f8")
    nbytes = chunk * 8
    with serve_s3_with_auth() as endpoint:
        client = boto3.client(
            "s3", endpoint_url=endpoint, region_name="us-east-1",
            aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET,
        )
        client.create_bucket(Bucket="src")
        client.put_object(Bucket="src", Key="big.bin", Body=values.tobytes())
        prefix = "s3://src/"
        config = icechunk.RepositoryConfig.default()
        store = icechunk.s3_store(
            region="us-east-1", endpoint_url=endpoint, allow_http=True, force_path_style=True
        )
        config.set_virtual_chunk_container(icechunk.VirtualChunkContainer(prefix, store))
        creds = icechunk.containers_credentials(
            {prefix: icechunk.s3_credentials(access_key_id=KEY_ID, secret_access_key=SECRET)}
        )
        repo = icechunk.Repository.create(
            icechunk.local_filesystem_storage(str(tmp / "s3reads")), config,
            authorize_virtual_chunk_access=creds,
        )
        session = repo.writable_session("main")
        zarr.create_array(
            session.store, name="v", shape=values.shape, chunks=(chunk,), dtype="<f8",
            compressors=None,
        )
        starts = np.arange(nchunks, dtype=np.uint64) * nbytes
        session.store.set_virtual_refs_arr(
            "v", (nchunks,), [f"{prefix}big.bin"] * nchunks, starts,
            np.full(nchunks, nbytes, np.uint64),
        )
        session.commit("refs")
        array = zarr.open_array(repo.readonly_session("main").store, path="v", mode="r")
        array[:1]  # manifest loaded, store built
        begin = time.perf_counter()
        got = array[:]
        ours = time.perf_counter() - begin
        assert np.array_equal(got, values)
        with zarr.config.set({"async.concurrency": nchunks}):
            begin = time.perf_counter()
            assert np.array_equal(array[:], values)
            wide = time.perf_counter() - begin

        direct = S3Store(
            "src", endpoint=endpoint, region="us-east-1", access_key_id=KEY_ID,
            secret_access_key=SECRET, client_options={"allow_http": True},
        )

        async def read_directly() -> list[Any]:
            return await obstore.get_ranges_async(
                direct, "big.bin", starts=starts.tolist(), ends=(starts + nbytes).tolist()
            )

        begin = time.perf_counter()
        ranges = asyncio.run(read_directly())
        plain = time.perf_counter() - begin
        assert b"".join(bytes(r) for r in ranges) == values.tobytes()
    return ours, wide, plain


def bench_virtualizarr(tmp: Path, nfiles: int) -> tuple[float, float, float]:
    import xarray as xr
    from obspec_utils.registry import ObjectStoreRegistry
    from obstore.store import LocalStore
    from test_virtualizarr import make_netcdf4
    from virtualizarr import open_virtual_mfdataset
    from virtualizarr.parsers import HDFParser

    src = tmp / "archive"
    src.mkdir()
    paths = []
    for i in range(nfiles):  # 100 chunks each: 4 time steps x (5 x 5) blocks of tas
        path = src / f"f{i:03d}.nc"
        make_netcdf4(
            path, seed=i, start=f"{2000 + i}-01-01", ntime=4, shape=(15, 20), chunks=(1, 3, 4)
        )
        paths.append(path)
    registry = ObjectStoreRegistry({"file://": LocalStore()})
    begin = time.perf_counter()
    vds = open_virtual_mfdataset(
        [f"file://{p}" for p in paths], registry=registry, parser=HDFParser(),
        combine="nested", concat_dim="time", coords="minimal", compat="override",
        data_vars="minimal",
    )
    parsed = time.perf_counter() - begin
    prefix = f"file://{src}/"
    config = icechunk.RepositoryConfig.default()
    config.set_virtual_chunk_container(
        icechunk.VirtualChunkContainer(prefix, icechunk.local_filesystem_store(str(src)))
    )
    repo = icechunk.Repository.create(
        icechunk.local_filesystem_storage(str(tmp / "vz")), config,
        authorize_virtual_chunk_access={prefix: None},
    )
    session = repo.writable_session("main")
    begin = time.perf_counter()
    vds.vz.to_icechunk(session.store)
    session.commit("100 files")
    written = time.perf_counter() - begin
    begin = time.perf_counter()
    xr.open_zarr(repo.readonly_session("main").store, consolidated=False).load()
    read = time.perf_counter() - begin
    return parsed, written, read


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--refs", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=100)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        staged, committed = bench_bulk_refs(Path(tmp), args.refs)
        rows.append((f"set_virtual_refs_arr, {args.refs:,} refs", staged, None))
        rows.append((f"commit of {args.refs:,} virtual refs", committed, None))
        rows.append((f"set + commit, {args.refs:,} refs", staged + committed, None))
        ours, wide, plain = bench_s3_reads(Path(tmp))
        rows.append(("read 1,000 virtual chunks of one S3 object", ours, plain))
        rows.append(("the same, zarr async.concurrency=1000", wide, plain))
        parsed, written, read = bench_virtualizarr(Path(tmp), args.files)
        rows.append((f"VirtualiZarr parse of {args.files} NetCDF4 files", parsed, None))
        rows.append((f"vds.vz.to_icechunk + commit, {args.files} files", written, None))
        rows.append(("open_zarr(...).load() of the result", read, None))
    print("| case | icechunk (s) | obstore directly (s) |")
    print("|---|---|---|")
    for name, ours_s, other in rows:
        print(f"| {name} | {ours_s:.3f} | {'' if other is None else f'{other:.3f}'} |")


if __name__ == "__main__":
    main()

"""Per-reference engine costs (issue 12): bulk virtual refs, native chunk commits, reads.

Cases (each in a fresh repository on the local filesystem, memory-cheap):

1. ``set_virtual_refs_arr`` + commit of N virtual refs (N = 100k and 1M by default);
2. commit of 100k native chunks (tiny chunks, inline threshold 0, so every chunk is an object);
3. reading 1,000 virtual chunks (``file://`` locations) after the manifest is loaded.

Run: ``PYTHONPATH=src .venv/bin/python benchmarks/bench_refs.py [--refs 100000 1000000]``.
Prints a markdown table of seconds (median of ``--rounds``); compare runs on one machine.
Pass ``--profile CASE`` to print a cProfile of one case instead.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import zarr

import icechunk

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_virtual import bench_bulk_refs


def native_commit(tmp: Path, n: int) -> tuple[float, float]:
    """Seconds to write ``n`` one-value chunks (all native objects), and to commit them."""
    config = icechunk.RepositoryConfig.default()
    config.inline_chunk_threshold_bytes = 0
    # in memory: the case measures the engine, not the file system's fsyncs
    repo = icechunk.Repository.create(icechunk.in_memory_storage(), config)
    session = repo.writable_session("main")
    array = zarr.create_array(
        session.store, name="a", shape=(n,), chunks=(1,), dtype="u1", compressors=None,
        fill_value=0,
    )
    start = time.perf_counter()
    array[:] = np.arange(n, dtype=np.uint64).astype("u1") | 1
    written = time.perf_counter()
    session.commit(f"{n} chunks")
    return written - start, time.perf_counter() - written


def virtual_read(tmp: Path, n: int = 1000, chunk: int = 1024) -> tuple[float, float]:
    """Seconds to read ``n`` virtual chunks of one local file, cold and with the manifest loaded."""
    src = tmp / "src"
    src.mkdir(exist_ok=True)
    values = np.arange(n * chunk, dtype="<f8")
    (src / "big.bin").write_bytes(values.tobytes())
    prefix = f"file://{src}/"
    config = icechunk.RepositoryConfig.default()
    config.set_virtual_chunk_container(
        icechunk.VirtualChunkContainer(prefix, icechunk.local_filesystem_store(str(src)))
    )
    storage = icechunk.local_filesystem_storage(str(tmp / "vread"))
    repo = icechunk.Repository.create(storage, config, authorize_virtual_chunk_access={prefix: None})
    session = repo.writable_session("main")
    zarr.create_array(
        session.store, name="v", shape=values.shape, chunks=(chunk,), dtype="<f8",
        compressors=None,
    )
    nbytes = chunk * 8
    session.store.set_virtual_refs_arr(
        "v", (n,), [f"{prefix}big.bin"] * n, np.arange(n, dtype=np.uint64) * nbytes,
        np.full(n, nbytes, np.uint64),
    )
    session.commit("refs")
    repo = icechunk.Repository.open(storage, authorize_virtual_chunk_access={prefix: None})
    array = zarr.open_array(repo.readonly_session("main").store, path="v", mode="r")
    begin = time.perf_counter()
    got = array[:]
    cold = time.perf_counter() - begin
    begin = time.perf_counter()
    got = array[:]
    warm = time.perf_counter() - begin
    assert np.array_equal(got, values)
    return cold, warm


def _median(fn: Callable[[Path], tuple[float, float]], rounds: int) -> tuple[float, float]:
    results = []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as tmp:
            results.append(fn(Path(tmp)))
    return (
        statistics.median(r[0] for r in results),
        statistics.median(r[1] for r in results),
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--refs", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--native", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--profile", choices=["virtual", "native", "read"])
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    if args.profile:
        fn: Callable[[Path], tuple[float, float]] = {
            "virtual": lambda t: bench_bulk_refs(t, args.refs[0]),
            "native": lambda t: native_commit(t, args.native),
            "read": virtual_read,
        }[args.profile]
        with tempfile.TemporaryDirectory() as tmp, cProfile.Profile() as prof:
            print(fn(Path(tmp)))
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
        return
    print("| case | seconds |")
    print("|---|---|")
    for n in args.refs:
        staged, committed = _median(lambda t, n=n: bench_bulk_refs(t, n), args.rounds)
        print(f"| set_virtual_refs_arr, {n:,} refs | {staged:.3f} |")
        print(f"| commit of {n:,} virtual refs | {committed:.3f} |")
        print(f"| set + commit, {n:,} refs | {staged + committed:.3f} |")
    written, committed = _median(lambda t: native_commit(t, args.native), args.rounds)
    print(f"| write {args.native:,} native chunks | {written:.3f} |")
    print(f"| commit of {args.native:,} native chunks | {committed:.3f} |")
    cold, warm = _median(virtual_read, args.rounds)
    print(f"| read 1,000 virtual chunks, cold | {cold:.3f} |")
    print(f"| read 1,000 virtual chunks, manifest loaded | {warm:.3f} |")


if __name__ == "__main__":
    main()

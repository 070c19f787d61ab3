"""Concurrency benchmarks (issue 3): rebase over a 10-commit gap, merging 64 forks, fork size.

Run: ``.venv/bin/python benchmarks/bench_concurrency.py``. Prints a markdown table.
"""

from __future__ import annotations

import pickle
import tempfile
import time
from pathlib import Path

import numpy as np
import zarr

import icechunk

CHUNKS_PER_COMMIT = 1_000
GAP_COMMITS = 10
N_FORKS = 64
FORK_WRITES = 1_000
BIG_FORK_WRITES = 10_000


def _repo(path: Path, n_chunks: int) -> icechunk.Repository:
    repo = icechunk.Repository.create(icechunk.local_filesystem_storage(str(path)))
    session = repo.writable_session("main")
    zarr.group(session.store).create_array(
        "x", shape=(n_chunks,), chunks=(1,), dtype="f8", fill_value=0.0
    )
    session.commit("setup")
    return repo


def bench_rebase(tmp: Path) -> float:
    n = CHUNKS_PER_COMMIT * (GAP_COMMITS + 1)
    repo = _repo(tmp / "rebase", n)
    ours = repo.writable_session("main")
    zarr.open_array(ours.store, path="x")[:CHUNKS_PER_COMMIT] = 1.0
    for k in range(1, GAP_COMMITS + 1):
        other = repo.writable_session("main")
        sl = slice(k * CHUNKS_PER_COMMIT, (k + 1) * CHUNKS_PER_COMMIT)
        zarr.open_array(other.store, path="x")[sl] = float(k)
        other.commit(f"gap {k}")
    start = time.perf_counter()
    ours.rebase(icechunk.ConflictDetector())
    elapsed = time.perf_counter() - start
    ours.commit("rebased")
    return elapsed


def _fork_with_writes(session: icechunk.Session, offset: int, n: int) -> icechunk.ForkSession:
    fork = pickle.loads(pickle.dumps(session.fork()))
    zarr.open_array(fork.store, path="x")[offset : offset + n] = np.arange(n, dtype="f8")
    return pickle.loads(pickle.dumps(fork))


def bench_merge(tmp: Path) -> float:
    repo = _repo(tmp / "merge", N_FORKS * FORK_WRITES)
    session = repo.writable_session("main")
    forks = [_fork_with_writes(session, i * FORK_WRITES, FORK_WRITES) for i in range(N_FORKS)]
    start = time.perf_counter()
    session.merge(*forks)
    elapsed = time.perf_counter() - start
    session.commit("merged")
    return elapsed


def bench_fork_size(tmp: Path) -> int:
    repo = _repo(tmp / "size", BIG_FORK_WRITES)
    session = repo.writable_session("main")
    fork = _fork_with_writes(session, 0, BIG_FORK_WRITES)
    return len(pickle.dumps(fork))


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        rebase = bench_rebase(tmp)
        merge = bench_merge(tmp)
        size = bench_fork_size(tmp)
    print("| case | measured | target | met |")
    print("| --- | --- | --- | --- |")
    print(f"| rebase, 10-commit gap x 1,000 chunks | {rebase:.3f} s | < 0.5 s | {rebase < 0.5} |")
    print(f"| merge 64 forks x 1,000 chunk writes | {merge:.3f} s | < 0.2 s | {merge < 0.2} |")
    print(f"| pickled fork, 10,000 chunk writes | {size / 1e6:.3f} MB | < 1 MB | {size < 1e6} |")


if __name__ == "__main__":
    main()

"""Benchmarks: icechunk (local filesystem and in-memory storage) next to plain zarr stores.

Run from the repository root::

    .venv/bin/python benchmarks/run.py            # best of 3
    .venv/bin/python benchmarks/run.py --quick    # best of 1
    .venv/bin/python benchmarks/run.py --upstream # also upstream icechunk 1.1.21

With ``--upstream`` the same module is run by the upstream virtualenv's Python as
``run.py --as-upstream-child``; there ``import icechunk`` is upstream Icechunk (the API is the
same), and the child prints its results as JSON for the parent to merge into the table.

Every case is a function taking a *target factory* (a callable returning a fresh ``Target``:
an empty repository or zarr store in a temporary directory, or in memory). Timings use
``time.perf_counter`` and keep the best of N runs; nothing here asserts on a timing.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import zarr

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
UPSTREAM_PYTHON = os.path.join(ROOT, ".cache", "upstream-venv", "bin", "python")


# --------------------------------------------------------------------------------------------
# Targets: one interface over icechunk repositories and plain zarr stores
# --------------------------------------------------------------------------------------------


class Target:
    """An empty place to write zarr data; versioned targets also commit and keep history."""

    versioned = False

    def writable_store(self) -> Any:
        """A store to write to (for icechunk: the store of a new writable session on main)."""
        raise NotImplementedError

    def commit(self, message: str) -> None:
        """Make the writes through the last ``writable_store`` durable (no-op for zarr)."""

    def fresh_store(self) -> Any:
        """A read-only store over what was committed, with no caches shared with the writer
        (for icechunk: a freshly opened Repository and a new read-only session on main)."""
        raise NotImplementedError

    def reopen(self) -> Any:
        """A freshly opened repository handle (versioned targets only)."""
        raise NotImplementedError

    def close(self) -> None:
        """Release temporary files."""


class IcechunkTarget(Target):
    versioned = True

    def __init__(self, kind: str):
        import icechunk

        self._ic = icechunk
        self.kind = kind
        self._tmp: str | None = None
        if kind == "local":
            self._tmp = tempfile.mkdtemp(prefix="icechunk-bench-")
            self._storage = icechunk.local_filesystem_storage(os.path.join(self._tmp, "repo"))
        else:
            self._storage = icechunk.in_memory_storage()
        self.repo = icechunk.Repository.create(self._storage)
        self._session: Any = None

    def writable_store(self) -> Any:
        self._session = self.repo.writable_session("main")
        return self._session.store

    def commit(self, message: str) -> None:
        self._session.commit(message)
        self._session = None

    def reopen(self) -> Any:
        return self._ic.Repository.open(self._storage)

    def fresh_store(self) -> Any:
        return self.reopen().readonly_session(branch="main").store

    def close(self) -> None:
        self._session = None
        self.repo = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)


class ZarrLocalTarget(Target):
    def __init__(self) -> None:
        self._tmp = tempfile.mkdtemp(prefix="zarr-bench-")
        self._path = os.path.join(self._tmp, "store")

    def writable_store(self) -> Any:
        return zarr.storage.LocalStore(self._path)

    def fresh_store(self) -> Any:
        return zarr.storage.LocalStore(self._path, read_only=True)

    def close(self) -> None:
        shutil.rmtree(self._tmp, ignore_errors=True)


class ZarrMemoryTarget(Target):
    def __init__(self) -> None:
        self._data: dict[str, Any] = {}

    def writable_store(self) -> Any:
        return zarr.storage.MemoryStore(self._data)

    def fresh_store(self) -> Any:
        return zarr.storage.MemoryStore(self._data, read_only=True)

    def close(self) -> None:
        self._data.clear()


TargetFactory = Callable[[], Target]


def target_factories(prefix: str, with_zarr: bool) -> dict[str, TargetFactory]:
    """Column name -> factory. ``prefix`` names the icechunk implementation (ours / upstream)."""
    out: dict[str, TargetFactory] = {
        f"{prefix} local": lambda: IcechunkTarget("local"),
        f"{prefix} memory": lambda: IcechunkTarget("memory"),
    }
    if with_zarr:
        out["zarr LocalStore"] = ZarrLocalTarget
        out["zarr MemoryStore"] = ZarrMemoryTarget
    return out


@contextmanager
def fresh(factory: TargetFactory) -> Iterator[Target]:
    target = factory()
    try:
        yield target
    finally:
        target.close()
        gc.collect()


class Timer:
    """Accumulates wall time (``perf_counter``) and this process's CPU time (all threads)."""

    def __init__(self) -> None:
        self.elapsed = 0.0
        self.cpu = 0.0

    @contextmanager
    def __call__(self) -> Iterator[None]:
        start, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.elapsed += time.perf_counter() - start
            self.cpu += time.process_time() - cpu

    def __truediv__(self, n: int) -> Timer:
        out = Timer()
        out.elapsed, out.cpu = self.elapsed / n, self.cpu / n
        return out


# --------------------------------------------------------------------------------------------
# Cases: each returns {metric: seconds} for one run against a fresh target
# --------------------------------------------------------------------------------------------


def case_large_array(factory: TargetFactory) -> dict[str, Timer]:
    """(1) write then read a 4096x4096 float32 array in 256x256 chunks."""
    data = np.random.default_rng(0).random((4096, 4096), dtype=np.float32)
    with fresh(factory) as t:
        write, read = Timer(), Timer()
        with write():
            store = t.writable_store()
            arr = zarr.create_array(store, name="big", shape=data.shape, chunks=(256, 256),
                                    dtype="float32")
            arr[:] = data
            t.commit("big array")
        with read():
            back = zarr.open_array(t.fresh_store(), path="big", mode="r")[:]
        if not np.array_equal(back, data):
            raise RuntimeError("case 1: read back different data")
    return {"write": write, "read": read}


def case_inline_chunks(factory: TargetFactory) -> dict[str, Timer]:
    """(2) write then read 100,000 float64 values in chunks of 10 (10,000 inline chunks)."""
    data = np.random.default_rng(1).random(100_000)
    with fresh(factory) as t:
        write, read = Timer(), Timer()
        with write():
            store = t.writable_store()
            arr = zarr.create_array(store, name="small", shape=data.shape, chunks=(10,),
                                    dtype="float64")
            arr[:] = data
            t.commit("small chunks")
        with read():
            back = zarr.open_array(t.fresh_store(), path="small", mode="r")[:]
        if not np.array_equal(back, data):
            raise RuntimeError("case 2: read back different data")
    return {"write": write, "read": read}


N_COMMITS = 100
COMMIT_CHUNK = 1000  # float64 values per chunk: 8 kB raw, a native (not inline) chunk


def _make_history(t: Target) -> Timer:
    """Create an array, then N_COMMITS one-chunk commits; return seconds per commit."""
    store = t.writable_store()
    zarr.create_array(store, name="log", shape=(N_COMMITS * COMMIT_CHUNK,),
                      chunks=(COMMIT_CHUNK,), dtype="float64")
    t.commit("create array")
    rng = np.random.default_rng(2)
    payloads = [rng.random(COMMIT_CHUNK) for _ in range(N_COMMITS)]
    timer = Timer()
    for i, payload in enumerate(payloads):
        with timer():
            arr = zarr.open_array(t.writable_store(), path="log", mode="r+")
            arr[i * COMMIT_CHUNK:(i + 1) * COMMIT_CHUNK] = payload
            t.commit(f"commit {i}")
    return timer / N_COMMITS


def case_commits(factory: TargetFactory) -> dict[str, Timer]:
    """(3) 100 sequential one-chunk commits (new writable session, one chunk, commit)."""
    with fresh(factory) as t:
        return {"per commit": _make_history(t)} if t.versioned else {}


def case_ancestry(factory: TargetFactory, repeats: int) -> dict[str, Timer]:
    """(4) ancestry of 100+ commits from a freshly opened repository."""
    with fresh(factory) as t:
        if not t.versioned:
            return {}
        _make_history(t)
        best = Timer()
        best.elapsed = float("inf")
        for _ in range(repeats):
            gc.collect()
            timer = Timer()
            with timer():
                repo = t.reopen()
                history = list(repo.ancestry(branch="main"))
            best = min(best, timer, key=lambda x: x.elapsed)
            if len(history) != N_COMMITS + 2:
                raise RuntimeError(f"case 4: expected {N_COMMITS + 2} snapshots, got {len(history)}")
    return {"ancestry": best}


N_GROUPS = 1000


def case_many_groups(factory: TargetFactory, repeats: int) -> dict[str, Timer]:
    """(5) 1000 groups each with a small array, commit; list members from a fresh session."""
    with fresh(factory) as t:
        create = Timer()
        with create():
            root = zarr.group(t.writable_store())
            for i in range(N_GROUPS):
                root.create_group(f"g{i:04d}").create_array("a", shape=(4,), chunks=(4,),
                                                            dtype="float32")
            t.commit("many groups")
        best = Timer()
        best.elapsed = float("inf")
        for _ in range(repeats):
            gc.collect()
            timer = Timer()
            with timer():
                members = list(zarr.open_group(t.fresh_store(), mode="r").members())
            best = min(best, timer, key=lambda x: x.elapsed)
            if len(members) != N_GROUPS:
                raise RuntimeError(f"case 5: expected {N_GROUPS} members, got {len(members)}")
    return {"create+commit": create, "list members": best}


def run_all(factories: dict[str, TargetFactory], repeats: int,
            log: Callable[[str], None]) -> dict[str, dict[str, dict[str, float]]]:
    """{column: {case: {metric: best wall seconds, metric + " cpu": its CPU seconds}}}.

    Repeats are the outer loop and targets the inner one, so a burst of load from other
    processes on the machine hits all targets of a case alike instead of one of them.
    """
    cases: dict[str, Callable[[TargetFactory], dict[str, Timer]]] = {
        "1": case_large_array,
        "2": case_inline_chunks,
        "3": case_commits,
        # (4) and (5) also repeat their measured part inside one target (set-up is the slow bit)
        "4": lambda f: case_ancestry(f, 3),
        "5": lambda f: case_many_groups(f, 3),
    }
    results: dict[str, dict[str, dict[str, float]]] = {c: {} for c in factories}
    for case, run in cases.items():
        for rep in range(repeats):
            for column, factory in factories.items():
                gc.collect()
                got = run(factory)
                best = results[column].setdefault(case, {})
                for metric, timer in got.items():
                    if timer.elapsed < best.get(metric, float("inf")):
                        best[metric], best[metric + " cpu"] = timer.elapsed, timer.cpu
                shown = ", ".join(f"{m} {v.elapsed * 1000:.1f} ms (cpu {v.cpu * 1000:.1f})"
                                  for m, v in got.items()) or "n/a"
                log(f"  case {case} run {rep + 1}/{repeats} {column}: {shown}")
    return results


# --------------------------------------------------------------------------------------------
# Table
# --------------------------------------------------------------------------------------------


@dataclass
class Row:
    case: str
    label: str
    metric: str
    unit: str  # "s" or "ms"
    target: str
    check: Callable[[dict[str, dict[str, dict[str, float]]], str], bool | None] = field(
        repr=False, default=lambda r, c: None
    )


def _get(results: dict, column: str, case: str, metric: str) -> float | None:
    return results.get(column, {}).get(case, {}).get(metric)


def _ratio_check(case: str, metric: str, baseline: str, factor: float):
    def check(results: dict, column: str) -> bool | None:
        ours, base = _get(results, column, case, metric), _get(results, baseline, case, metric)
        if ours is None or base is None:
            return None
        return ours <= factor * base
    return check


def _abs_check(case: str, metric: str, limit_s: float):
    def check(results: dict, column: str) -> bool | None:
        ours = _get(results, column, case, metric)
        return None if ours is None else ours <= limit_s
    return check


ROWS = [
    Row("1", "4096² f32, 256² chunks", "write", "s", "≤ 1.1× zarr LocalStore",
        _ratio_check("1", "write", "zarr LocalStore", 1.1)),
    Row("1", "4096² f32, 256² chunks", "read", "s", "≤ 1.0× zarr LocalStore",
        _ratio_check("1", "read", "zarr LocalStore", 1.0)),
    Row("2", "100k f64, chunks of 10", "write", "s", "≤ 1.5× zarr MemoryStore",
        _ratio_check("2", "write", "zarr MemoryStore", 1.5)),
    Row("2", "100k f64, chunks of 10", "read", "s", "≤ 1.5× zarr MemoryStore",
        _ratio_check("2", "read", "zarr MemoryStore", 1.5)),
    Row("3", "100 one-chunk commits", "per commit", "ms", "< 8 ms",
        _abs_check("3", "per commit", 0.008)),
    Row("4", "ancestry of 102 commits", "ancestry", "ms", "< 15 ms",
        _abs_check("4", "ancestry", 0.015)),
    Row("5", "1000 groups+arrays", "create+commit", "s", "—"),
    Row("5", "1000 groups+arrays", "list members", "ms", "< 200 ms",
        _abs_check("5", "list members", 0.200)),
]


def _fmt(seconds: float | None, unit: str) -> str:
    if seconds is None:
        return "n/a"
    if unit == "ms":
        return f"{seconds * 1000:.1f}"
    return f"{seconds:.3f}"


def render_table(results: dict, columns: list[str], judged: list[str], cpu: bool = False) -> str:
    """Markdown table of wall times, the last column saying for each judged (icechunk) column
    whether the issue's target is met; with ``cpu``, the process CPU time of the same runs."""
    head = ["case", "metric", "unit", *columns]
    if not cpu:
        head += ["target", "target met?"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in ROWS:
        metric = row.metric + (" cpu" if cpu else "")
        cells = [f"({row.case}) {row.label}", row.metric, row.unit]
        cells += [_fmt(_get(results, c, row.case, metric), row.unit) for c in columns]
        if not cpu:
            verdicts = []
            for c in judged:
                ok = row.check(results, c)
                if ok is not None:
                    verdicts.append(f"{c}: {'yes' if ok else '**no**'}")
            cells += [row.target, "; ".join(verdicts) if verdicts else "—"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_upstream_child(repeats: int) -> dict:
    if not os.path.exists(UPSTREAM_PYTHON):
        raise SystemExit(f"upstream python not found at {UPSTREAM_PYTHON}")
    with tempfile.TemporaryDirectory(prefix="icechunk-bench-child-") as tmp:
        out = os.path.join(tmp, "results.json")
        cmd = [UPSTREAM_PYTHON, os.path.abspath(__file__), "--as-upstream-child", "--repeats",
               str(repeats), "--json", out]
        _log(f"running upstream: {' '.join(cmd)}")
        # The child's stdout goes to our stderr: it is progress, the results go to the file.
        subprocess.run(cmd, stdout=sys.stderr, check=True, cwd=HERE)
        with open(out) as f:
            return json.load(f)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="best of 1 instead of 3")
    parser.add_argument("--upstream", action="store_true",
                        help="also run upstream icechunk 1.1.21 (in .cache/upstream-venv)")
    parser.add_argument("--repeats", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--as-upstream-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--json", metavar="PATH", help="also write raw results as JSON")
    args = parser.parse_args(argv)
    repeats = args.repeats or (1 if args.quick else 3)

    import icechunk

    if args.as_upstream_child:
        if os.path.abspath(icechunk.__file__).startswith(os.path.join(ROOT, "src")):
            raise SystemExit("--as-upstream-child imported our icechunk, not upstream")
        _log(f"upstream icechunk {icechunk.__version__} from {icechunk.__file__}")
        results = run_all(target_factories("upstream", with_zarr=False), repeats, _log)
        if not args.json:
            raise SystemExit("--as-upstream-child needs --json PATH")
        with open(args.json, "w") as f:
            json.dump(results, f)
        return

    _log(f"icechunk {getattr(icechunk, '__version__', '?')} from {icechunk.__file__}; "
         f"zarr {zarr.__version__}; best of {repeats}")
    results = run_all(target_factories("ours", with_zarr=True), repeats, _log)
    if args.upstream:
        results.update(run_upstream_child(repeats))
    columns = list(results)
    judged = [c for c in columns if not c.startswith("zarr")]
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    print(f"Wall time, best of {repeats}:\n")
    print(render_table(results, columns, judged))
    print("\nProcess CPU time (all threads) of those same best runs:\n")
    print(render_table(results, columns, judged, cpu=True))


if __name__ == "__main__":
    main()

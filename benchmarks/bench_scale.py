"""Million-chunk arrays (issue 12): the engine's work per chunk reference, next to upstream.

Phases, on one array of N one-byte chunks (inline, so the engine is measured, not I/O):

- ``commit_all``: commit after writing all N chunks;
- ``cold_read``: first chunk read from a freshly opened repository (loads the manifest);
- ``manifest_bytes_per_ref``: growth of resident memory over that load, per reference (freed
  heap handed back to the system before and after);
- ``status_50k``: ``session.status()`` with 50,000 changed chunks;
- ``commit_50k``: commit of those 50,000 rewritten chunks into the big array;
- ``virtual_100k``: setting 100,000 virtual references (``set_virtual_refs``);
- ``diff_1000``: ``repo.diff`` over 1,000 commits (first size only);
- ``commit_5000_nodes``: commit of a snapshot with 5,000 new groups (first size only);
- ``commit_5000_arrays``: the same with 5,000 new 2-d arrays with dimension names;
- ``split_cold_read``: first chunk read of the big array after ``rewrite_manifests`` split it
  into manifests of at most 100,000 references;
- ``peak_rss_mb``: peak resident memory of the whole run.

Run::

    .venv/bin/python benchmarks/bench_scale.py [--chunks 250000 1000000] [--rounds 2]

Each implementation runs in a child process of its own, alternating in every round: this
package (``src/``), upstream Icechunk 1.1.21 (``.cache/upstream-venv``) and upstream 2.3.0
(``.cache/upstream2-venv``), each when installed. Make the latter with::

    python3.12 -m venv .cache/upstream2-venv   # icechunk 2.x needs Python >= 3.12
    .cache/upstream2-venv/bin/pip install icechunk==2.3.0 zarr numpy

The table shows medians of the rounds (seconds; memory in bytes or MB) and ours / upstream
ratios. Nothing here asserts on a timing; compare ratios, not absolute times (shared machine).
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
IMPLS = {
    "ours": Path(sys.executable),
    "upstream 1.1.21": ROOT / ".cache" / "upstream-venv" / "bin" / "python",
    "upstream 2.3.0": ROOT / ".cache" / "upstream2-venv" / "bin" / "python",
}
# a source tree of this package to compare with (e.g. ``git archive <commit> src | tar -x``)
BEFORE_ENV = "BENCH_SCALE_BEFORE_SRC"
if os.environ.get(BEFORE_ENV):
    IMPLS = {"ours (before)": Path(sys.executable), **IMPLS}
PHASES = (
    "commit_all",
    "cold_read",
    "manifest_bytes_per_ref",
    "status_50k",
    "commit_50k",
    "virtual_100k",
    "diff_1000",
    "commit_5000_nodes",
    "commit_5000_arrays",
    "split_cold_read",
    "peak_rss_mb",
)
BATCH = 20_000  # store.set calls awaited together
PREFIX = "s3://bench-bucket/"


# --- the child: every phase, with whichever icechunk is importable -------------------------


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def _set_chunks(store: Any, path: str, indices: range, value: bytes) -> None:
    from zarr.core.buffer import default_buffer_prototype

    buf = default_buffer_prototype().buffer.from_bytes(value)
    for start in range(0, len(indices), BATCH):
        batch = indices[start : start + BATCH]
        await asyncio.gather(*(store.set(f"{path}/c/{i}", buf) for i in batch))


def _release_free_memory() -> None:
    """Collect garbage and hand freed heap pages back to the system (glibc), so that RSS
    differences count live memory only."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _timed(fn: Callable[[], Any]) -> float:
    gc.collect()  # garbage of the earlier phases is not this phase's cost
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _run(coro: Awaitable[Any]) -> Any:
    from zarr.core.sync import sync

    return sync(coro)


def _config(ic: Any, splitting: Any = None) -> Any:
    config = ic.RepositoryConfig.default()
    config.inline_chunk_threshold_bytes = 512
    config.set_virtual_chunk_container(
        ic.VirtualChunkContainer(PREFIX, ic.s3_store(region="us-east-1"))
    )
    if splitting is not None:
        config.manifest = ic.ManifestConfig(splitting=splitting)
    return config


def _cold_read(ic: Any, storage: Any, config: Any) -> tuple[float, int]:
    repo = ic.Repository.open(storage, config)
    session = repo.readonly_session("main")
    from zarr.core.buffer import default_buffer_prototype

    _release_free_memory()
    rss = _rss_bytes()
    start = time.perf_counter()
    got = _run(
        session.store.get("big/c/1", prototype=default_buffer_prototype())
    )  # never rewritten
    took = time.perf_counter() - start
    _release_free_memory()  # what stays is what the loaded manifest holds
    if got is None or got.to_bytes() != b"\x01":
        print(f"unexpected first chunk: {got and got.to_bytes()!r}", file=sys.stderr)
    return took, _rss_bytes() - rss


def child(n: int, extra: bool) -> dict[str, float]:
    import zarr

    import icechunk as ic

    out: dict[str, float] = {}
    tmp = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    storage = ic.local_filesystem_storage(str(tmp / "repo"))
    repo = ic.Repository.create(storage, _config(ic))
    session = repo.writable_session("main")
    zarr.create_array(
        session.store,
        name="big",
        shape=(n,),
        chunks=(1,),
        dtype="u1",
        compressors=None,
        fill_value=0,
    )
    _run(_set_chunks(session.store, "big", range(n), b"\x01"))
    out["commit_all"] = _timed(lambda: session.commit("all chunks"))

    out["cold_read"], grown = _cold_read(ic, storage, _config(ic))
    out["manifest_bytes_per_ref"] = grown / n

    session = repo.writable_session("main")
    changed = min(50_000, n // 2)
    _run(_set_chunks(session.store, "big", range(0, changed * 2, 2), b"\x02"))
    out["status_50k"] = _timed(session.status)
    out["commit_50k"] = _timed(lambda: session.commit("50k rewritten"))

    session = repo.writable_session("main")
    nv = 100_000
    zarr.create_array(
        session.store,
        name="virt",
        shape=(nv,),
        chunks=(1,),
        dtype="u1",
        compressors=None,
        fill_value=0,
    )
    specs = [
        ic.VirtualChunkSpec(
            index=[i], location=f"{PREFIX}file{i // 1000}.nc", offset=(i % 1000) * 8, length=8
        )
        for i in range(nv)
    ]
    out["virtual_100k"] = _timed(
        lambda: session.store.set_virtual_refs("virt", specs, validate_containers=False)
    )
    session.commit("virtual refs")

    splitting = ic.ManifestSplittingConfig.from_dict(
        {
            ic.ManifestSplitCondition.name_matches("^big$"): {
                ic.ManifestSplitDimCondition.Axis(0): 100_000
            }
        }
    )
    split_repo = ic.Repository.open(storage, _config(ic, splitting))
    split_repo.rewrite_manifests("split", branch="main")
    out["split_cold_read"], _ = _cold_read(ic, storage, _config(ic, splitting))

    if extra:
        out.update(_history_phases(ic, zarr, tmp))
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def _history_phases(ic: Any, zarr: Any, tmp: Path) -> dict[str, float]:
    from zarr.core.buffer import default_buffer_prototype

    out: dict[str, float] = {}
    repo = ic.Repository.create(ic.local_filesystem_storage(str(tmp / "history")))
    session = repo.writable_session("main")
    zarr.create_array(session.store, name="h", shape=(1000,), chunks=(1,), dtype="u1")
    first = session.commit("array")
    for i in range(1000):
        session = repo.writable_session("main")
        _run(_set_chunks(session.store, "h", range(i, i + 1), b"\x03"))
        session.commit(f"commit {i}")
    out["diff_1000"] = _timed(lambda: repo.diff(from_snapshot_id=first, to_branch="main"))

    repo = ic.Repository.create(ic.local_filesystem_storage(str(tmp / "nodes")))
    session = repo.writable_session("main")
    group = default_buffer_prototype().buffer.from_bytes(
        b'{"zarr_format":3,"node_type":"group","attributes":{}}'
    )

    async def groups() -> None:
        await session.store.set("zarr.json", group)
        await asyncio.gather(*(session.store.set(f"g{i}/zarr.json", group) for i in range(5000)))

    _run(groups())
    out["commit_5000_nodes"] = _timed(lambda: session.commit("5000 nodes"))

    repo = ic.Repository.create(ic.local_filesystem_storage(str(tmp / "arrays")))
    session = repo.writable_session("main")
    root = zarr.group(session.store)
    for i in range(5000):
        root.create_array(
            f"a{i}", shape=(10, 20), chunks=(5, 5), dtype="f4", dimension_names=["y", "x"]
        )
    out["commit_5000_arrays"] = _timed(lambda: session.commit("5000 arrays"))
    return out


# --- the parent: rounds, alternating implementations, table ---------------------------------


def _run_child(impl: str, python: Path, n: int, extra: bool) -> dict[str, float]:
    env = dict(os.environ)
    if impl == "ours":
        env["PYTHONPATH"] = str(ROOT / "src")
    elif impl == "ours (before)":
        env["PYTHONPATH"] = os.environ[BEFORE_ENV]
    else:
        env.pop("PYTHONPATH", None)
    cmd = [str(python), str(Path(__file__).resolve()), "--child", str(n)]
    if extra:
        cmd.append("--extra")
    proc = subprocess.run(
        cmd, check=False, capture_output=True, text=True, env=env, cwd=str(ROOT / "benchmarks")
    )
    if proc.returncode != 0:
        print(f"[{impl}] failed:\n{proc.stderr[-3000:]}", file=sys.stderr)
        return {}
    for line in proc.stderr.splitlines():
        if line.startswith("unexpected"):
            print(f"[{impl}] {line}", file=sys.stderr)
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def _fmt(phase: str, value: float | None) -> str:
    if value is None:
        return "-"
    if phase == "manifest_bytes_per_ref":
        return f"{value:.0f} B"
    if phase == "peak_rss_mb":
        return f"{value:.0f} MB"
    return f"{value:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, nargs="*", default=[250_000, 1_000_000])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--only", nargs="*", help="implementations to run (default: all found)")
    parser.add_argument(
        "--no-history", action="store_true", help="skip diff_1000 and commit_5000_nodes"
    )
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--extra", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.extra)))
        return
    impls = {k: p for k, p in IMPLS.items() if p.exists() and (not args.only or k in args.only)}
    for name, path in IMPLS.items():
        if not path.exists():
            print(f"({name} not installed at {path}: see this module's docstring)", file=sys.stderr)
    for index, n in enumerate(args.chunks):
        results: dict[str, list[dict[str, float]]] = {k: [] for k in impls}
        order = list(impls)
        for r in range(args.rounds):
            for impl in order[r % len(order) :] + order[: r % len(order)]:
                print(f"N={n} round {r + 1}: {impl}", file=sys.stderr)
                results[impl].append(
                    _run_child(impl, impls[impl], n, extra=index == 0 and not args.no_history)
                )
        _table(n, results)


def _table(n: int, results: dict[str, list[dict[str, float]]]) -> None:
    impls = list(results)
    medians = {
        impl: {
            p: statistics.median(vals) for p in PHASES if (vals := [r[p] for r in runs if p in r])
        }
        for impl, runs in results.items()
    }
    uppers = [i for i in impls if i != "ours"]  # ratios: ours / each other column
    print(f"\n### {n:,} chunks (medians of {max(map(len, results.values()))} rounds)\n")
    print("| phase | " + " | ".join(impls) + "".join(f" | ours / {u}" for u in uppers) + " |")
    print("|---" * (1 + len(impls) + len(uppers)) + "|")
    for p in PHASES:
        cells = [_fmt(p, medians[i].get(p)) for i in impls]
        ours = medians.get("ours", {}).get(p)
        for u in uppers:
            theirs = medians[u].get(p)
            cells.append(f"{ours / theirs:.2f}x" if ours and theirs else "-")
        print(f"| {p} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()

"""Profile one measured phase of a benchmark case (cProfile on the main thread AND on zarr's
event-loop thread, where every store coroutine runs).

    .venv/bin/python benchmarks/profile_case.py 1r "ours local"
    .venv/bin/python benchmarks/profile_case.py 3 "ours memory" --top 30

Phases: 1w 1r 2w 2r 3 4 5c 5l (case number; w = write, r = read, c = create+commit,
l = list members). Only the phase itself is profiled; set-up runs before profiling starts.
Blocking work in ``asyncio.to_thread`` workers is not seen by cProfile: it shows up as time
the loop thread spends in ``select`` (``{method 'poll' of 'select.epoll' objects}``).
For a whole-process sampling view use py-spy instead (``.venv/bin/pip install py-spy``;
``py-spy record --idle --threads -f raw -- .venv/bin/python benchmarks/profile_case.py ...``).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import zarr
from zarr.core.sync import sync as zarr_sync

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run


@contextmanager
def profiled(top: int, sort: str, only: str | None = None) -> Iterator[None]:
    main, loop = cProfile.Profile(), cProfile.Profile()

    async def on() -> None:
        loop.enable()

    async def off() -> None:
        loop.disable()

    zarr_sync(on())
    main.enable()
    start = time.perf_counter()
    try:
        yield
    finally:
        wall = time.perf_counter() - start
        main.disable()
        zarr_sync(off())
        print(f"phase wall time: {wall * 1000:.1f} ms")
        for name, prof in (("zarr event-loop thread", loop), ("main thread", main)):
            out = io.StringIO()
            stats = pstats.Stats(prof, stream=out)
            restrictions: list = [only, top] if only else [top]
            stats.sort_stats(sort).print_stats(*restrictions)
            print(f"\n===== {name} (sorted by {sort}) =====")
            print(out.getvalue())


def phase(name: str, t: run.Target) -> Callable[[], None]:
    """Do the phase's set-up against ``t``; return the function doing the measured part."""
    big = np.random.default_rng(0).random((4096, 4096), dtype=np.float32)
    small = np.random.default_rng(1).random(100_000)

    def write_big() -> None:
        arr = zarr.create_array(t.writable_store(), name="big", shape=big.shape,
                                chunks=(256, 256), dtype="float32")
        arr[:] = big
        t.commit("big")

    def write_small() -> None:
        arr = zarr.create_array(t.writable_store(), name="small", shape=small.shape,
                                chunks=(10,), dtype="float64")
        arr[:] = small
        t.commit("small")

    def create_groups() -> None:
        root = zarr.group(t.writable_store())
        for i in range(run.N_GROUPS):
            root.create_group(f"g{i:04d}").create_array("a", shape=(4,), chunks=(4,),
                                                        dtype="float32")
        t.commit("groups")

    if name == "1w":
        return write_big
    if name == "1r":
        write_big()
        return lambda: zarr.open_array(t.fresh_store(), path="big", mode="r")[:]
    if name == "2w":
        return write_small
    if name == "2r":
        write_small()
        return lambda: zarr.open_array(t.fresh_store(), path="small", mode="r")[:]
    if name == "3":
        return lambda: run._make_history(t)
    if name == "4":
        run._make_history(t)

        def ancestry() -> None:
            for _ in range(10):
                list(t.reopen().ancestry(branch="main"))
        return ancestry
    if name == "5c":
        return create_groups
    if name == "5l":
        create_groups()

        def listing() -> None:
            for _ in range(5):
                list(zarr.open_group(t.fresh_store(), mode="r").members())
        return listing
    raise SystemExit(f"unknown phase {name!r}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("phase", help="1w 1r 2w 2r 3 4 5c 5l")
    parser.add_argument("target", help='"ours local", "ours memory", "zarr LocalStore", ...')
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--sort", default="tottime", help="pstats sort key (tottime, cumtime)")
    parser.add_argument("--only", help="only functions whose file:line(name) matches this "
                        "regex, e.g. icechunk/")
    parser.add_argument("--no-profile", action="store_true", help="run the phase unprofiled "
                        "(for py-spy)")
    args = parser.parse_args()
    prefix = "upstream" if "upstream" in args.target else "ours"
    factory = run.target_factories(prefix, with_zarr=True)[args.target]
    with run.fresh(factory) as t:
        measured = phase(args.phase, t)
        if args.no_profile:
            start = time.perf_counter()
            measured()
            print(f"phase wall time: {(time.perf_counter() - start) * 1000:.1f} ms")
        else:
            with profiled(args.top, args.sort, args.only):
                measured()


if __name__ == "__main__":
    main()

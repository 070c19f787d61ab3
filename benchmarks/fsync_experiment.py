"""How much of the local-filesystem cost is fsync: cases (1) and (3) on "ours local" with
``os.fsync`` timed, then again with the backend's ``fsync=False`` (patched in this process
only; nothing under src/ changes).

    .venv/bin/python benchmarks/fsync_experiment.py
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run

from icechunk.storage import _local

stats = {"n": 0, "t": 0.0}
_real_fsync = os.fsync


def _timed_fsync(fd: int) -> None:
    start = time.perf_counter()
    _real_fsync(fd)
    stats["t"] += time.perf_counter() - start
    stats["n"] += 1


fs = run.target_factories("ours", True)


def report(label: str) -> None:
    stats.update(n=0, t=0.0)
    r = run.case_large_array(fs["ours local"])
    n1, t1 = stats["n"], stats["t"]
    stats.update(n=0, t=0.0)
    with run.fresh(fs["ours local"]) as t:
        c = run._make_history(t)
    n3, t3 = stats["n"] / (run.N_COMMITS + 1), stats["t"] / (run.N_COMMITS + 1)
    print(f"{label}: (1) write {r['write'].elapsed * 1e3:.0f} ms (cpu {r['write'].cpu * 1e3:.0f}), "
          f"read {r['read'].elapsed * 1e3:.0f} ms, {n1} fsyncs summing {t1 * 1e3:.0f} ms in "
          f"worker threads | (3) {c.elapsed * 1e3:.1f} ms/commit (cpu {c.cpu * 1e3:.1f}), "
          f"{n3:.1f} fsyncs/commit summing {t3 * 1e3:.1f} ms")
    z = run.case_large_array(fs["zarr LocalStore"])
    print(f"  zarr LocalStore (1) write {z['write'].elapsed * 1e3:.0f} ms, "
          f"read {z['read'].elapsed * 1e3:.0f} ms")


def main() -> None:
    os.fsync = _timed_fsync
    report("fsync on ")
    _orig_init = _local.LocalFilesystemBackend.__init__

    def _no_fsync_init(self, root, *, fsync=True):  # type: ignore[no-untyped-def]
        _orig_init(self, root, fsync=False)

    _local.LocalFilesystemBackend.__init__ = _no_fsync_init  # type: ignore[method-assign]
    report("fsync off")


if __name__ == "__main__":
    main()

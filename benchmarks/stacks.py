"""Summarise py-spy raw (collapsed) stacks: inclusive and self share per function.

    .venv/bin/py-spy record -r 250 -f raw -o /tmp/s.txt -- \\
        .venv/bin/python benchmarks/profile_case.py 3 "ours memory" --no-profile
    .venv/bin/python benchmarks/stacks.py /tmp/s.txt --within IcechunkTarget.commit --top 30

``--within NAME`` keeps only samples whose stack has a frame whose name contains NAME
(percentages are then of those samples); ``--match`` limits the rows shown.
"""

from __future__ import annotations

import argparse
import collections
import re

IDLE_LEAVES = ("_worker (concurrent/futures/thread.py", "EpollSelector.select",
               "Condition.wait", "Event.wait")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("path")
    p.add_argument("--within", action="append", default=[])
    p.add_argument("--match", default=r"icechunk/|zarr/|asyncio/|numcodecs|numpy")
    p.add_argument("--top", type=int, default=30)
    p.add_argument("--busy", action="store_true", help="drop samples of threads waiting: "
                   "leaf frame an idle thread-pool worker, epoll select or Condition.wait")
    a = p.parse_args()
    incl: collections.Counter[str] = collections.Counter()
    self_: collections.Counter[str] = collections.Counter()
    total = 0
    frame_re = re.compile(r"^(.*) \((.*?):\d+\)$")
    with open(a.path) as f:
        lines = f.readlines()
    for line in lines:
        stack, _, count = line.rstrip("\n").rpartition(" ")
        if not stack:
            continue
        n = int(count)
        frames = stack.split(";")
        if a.within and not any(any(w in f for w in a.within) for f in frames):
            continue
        leaf = frames[-1]
        if a.busy and any(w in leaf for w in IDLE_LEAVES):
            continue
        total += n
        names = []
        for f in frames:
            m = frame_re.match(f)
            names.append(f"{m.group(1)} ({m.group(2)})" if m else f)
        for name in set(names):
            incl[name] += n
        self_[names[-1]] += n
    print(f"{total} samples")
    rx = re.compile(a.match)
    print(f"{'incl %':>7} {'self %':>7}  function")
    shown = 0
    for name, n in incl.most_common():
        if not rx.search(name):
            continue
        print(f"{100 * n / total:7.1f} {100 * self_[name] / total:7.1f}  {name}")
        shown += 1
        if shown >= a.top:
            break
    print("\ntop self:")
    for name, n in self_.most_common(15):
        print(f"{100 * n / total:7.1f}  {name}")


if __name__ == "__main__":
    main()

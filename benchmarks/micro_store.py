"""Per-key cost of the store API alone (no zarr codec pipeline): 10,000 ``set`` then ``get``
of ~90-byte chunks, awaited one after another on zarr's loop, plus the commit in between.

    .venv/bin/python benchmarks/micro_store.py
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import zarr
from zarr.core.buffer import default_buffer_prototype
from zarr.core.sync import sync as zarr_sync

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run

PROTO = default_buffer_prototype()
KEYS = [f"small/c/{i}" for i in range(10_000)]
PAYLOAD = PROTO.buffer.from_bytes(b"x" * 90)


async def _sets(store: Any) -> float:
    start = time.perf_counter()
    for key in KEYS:
        await store.set(key, PAYLOAD)
    return time.perf_counter() - start


async def _gets(store: Any) -> float:
    start = time.perf_counter()
    for key in KEYS:
        await store.get(key, PROTO)
    return time.perf_counter() - start


def main() -> None:
    factories = run.target_factories("ours", with_zarr=True)
    for name in ["ours memory", "ours local", "zarr MemoryStore", "zarr LocalStore"]:
        with run.fresh(factories[name]) as t:
            store = t.writable_store()
            zarr.create_array(store, name="small", shape=(100_000,), chunks=(10,),
                              dtype="float64")
            t_set = min(zarr_sync(_sets(store)) for _ in range(3))
            start = time.perf_counter()
            t.commit("inline chunks")
            t_commit = time.perf_counter() - start
            reader = t.fresh_store()
            t_get = min(zarr_sync(_gets(reader)) for _ in range(3))
            print(f"{name:18s} set {t_set / len(KEYS) * 1e6:6.1f} us/key  "
                  f"get {t_get / len(KEYS) * 1e6:6.1f} us/key  commit {t_commit * 1e3:.1f} ms")


if __name__ == "__main__":
    main()

"""Write the interop scenario repository with whichever ``icechunk`` is importable.

Usage: ``python write_repo.py PATH [--variant N]``

Uses only the public API of icechunk 1.1, zarr 3.1 and numpy, so the same script runs
under upstream Icechunk and under this package. All data is deterministic (seeded numpy);
only ids and timestamps differ between two runs. Prints a JSON summary on stdout.

Variants:
  0: default repository config (no ``config.yaml``), default inline threshold (512 bytes).
  1: ``RepositoryConfig`` with ``inline_chunk_threshold_bytes=64`` (writes ``config.yaml``),
     different seed.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from typing import Any

import numpy as np
import zarr

import icechunk

# zarr warns that fixed-length string/bytes dtypes have no stable v3 spec; we use them anyway.
warnings.filterwarnings("ignore", message=".*does not have a Zarr V3 specification.*")
# upstream warns that the local filesystem is not safe for concurrent commits.
warnings.filterwarnings("ignore", category=UserWarning)


def _open_repo(path: str, variant: int) -> icechunk.Repository:
    """Create the repository for ``variant``."""
    storage = icechunk.local_filesystem_storage(path)
    if variant == 1:
        config = icechunk.RepositoryConfig.default()
        config.inline_chunk_threshold_bytes = 64
        return icechunk.Repository.create(storage, config=config)
    return icechunk.Repository.create(storage)


def write(path: str, variant: int) -> dict[str, Any]:
    """Write the whole scenario; return a summary of ids by step name."""
    rng = np.random.default_rng(20250101 + variant)
    repo = _open_repo(path, variant)
    ids: dict[str, str] = {}

    # ---- commit 1 (main): hierarchy, many dtypes, inline and native chunks -------------
    session = repo.writable_session("main")
    root = zarr.group(
        store=session.store,
        attributes={
            "title": "Interop tëst ☃ — 測試",
            "nested": {"a": {"b": [1, 2, 3], "c": None}, "flag": True},
            "pi": 3.141592653589793,
            "small": 1e-300,
            "list": [1, "two", 3.5, None, False, {"k": "v"}],
            "variant": variant,
        },
    )
    g1 = root.create_group("group1", attributes={"level": 1})
    sub = g1.create_group("sub", attributes={"level": 2, "name": "sub-group"})
    g2 = root.create_group("group2")
    root.create_group("group3", attributes={"doomed": True})
    root.create_group("empty_group")

    a = g1.create_array("small_int8", shape=(10,), chunks=(5,), dtype="int8")
    a[:] = rng.integers(-128, 127, size=10, dtype="int8")

    a = g1.create_array(
        "big_int32",
        shape=(64, 64),
        chunks=(32, 32),
        dtype="int32",
        dimension_names=["row", "col"],
        attributes={"units": "counts", "scale": 2.5},
    )
    a[:] = rng.integers(-(2**31), 2**31 - 1, size=(64, 64), dtype="int32")

    a = sub.create_array("u16", shape=(100,), chunks=(30,), dtype="uint16", dimension_names=["x"])
    a[:] = rng.integers(0, 2**16 - 1, size=100, dtype="uint16")

    a = g2.create_array(
        "f32",
        shape=(20, 30),
        chunks=(10, 7),
        dtype="float32",
        dimension_names=["y", "x"],
        fill_value=-1.5,
    )
    a[:] = rng.standard_normal((20, 30)).astype("float32")

    a = g2.create_array("f64", shape=(1000,), chunks=(300,), dtype="float64")
    a[:] = rng.standard_normal(1000)

    a = root.create_array("bools", shape=(17,), chunks=(4,), dtype="bool")
    a[:] = rng.integers(0, 2, size=17).astype(bool)

    a = root.create_array("c64", shape=(8,), chunks=(3,), dtype="complex64")
    a[:] = (rng.standard_normal(8) + 1j * rng.standard_normal(8)).astype("complex64")

    a = root.create_array("i64", shape=(40,), chunks=(40,), dtype="int64")
    a[:] = rng.integers(-(2**62), 2**62, size=40, dtype="int64")

    a = root.create_array("vstrings", shape=(6,), chunks=(4,), dtype=str)
    a[:] = np.array(["", "a", "héllo", "☃☃", "longer string value", "x" * 40], dtype=object)

    a = root.create_array("fixed_u", shape=(5,), chunks=(2,), dtype="U6")
    a[:] = np.array(["ab", "cdé", "", "六字符串测试", "z"], dtype="U6")

    a = root.create_array("fixed_s", shape=(5,), chunks=(5,), dtype="S4")
    a[:] = np.array([b"ab", b"cd\x01", b"", b"wxyz", b"q"], dtype="S4")

    a = root.create_array("dt64", shape=(4,), chunks=(2,), dtype="datetime64[s]")
    a[:] = np.array(
        ["2020-01-01T00:00:00", "1970-01-01", "2038-01-19T03:14:07", "1900-06-15"],
        dtype="datetime64[s]",
    )

    a = root.create_array(
        "sparse", shape=(100, 100), chunks=(10, 10), dtype="float64", fill_value=np.nan
    )
    a[5:15, 5:15] = rng.standard_normal((10, 10))  # touches 4 chunks, the rest stay unwritten
    a[90:, 90:] = 0.0  # one non-fill chunk

    root.create_array(
        "unwritten",
        shape=(50,),
        chunks=(10,),
        dtype="int32",
        fill_value=7,
        dimension_names=["t"],
    )

    a = root.create_array("scalar", shape=(), dtype="float64", fill_value=0.0)
    a[...] = 2.5

    a = root.create_array(
        "sharded",
        shape=(64, 64),
        chunks=(8, 8),
        shards=(32, 32),
        dtype="int16",
        dimension_names=[None, "x"],
    )
    a[:] = rng.integers(-1000, 1000, size=(64, 64), dtype="int16")

    a = root.create_array("to_delete", shape=(10,), chunks=(5,), dtype="int16")
    a[:] = np.arange(10, dtype="int16")

    a = root.create_array("to_resize", shape=(10,), chunks=(4,), dtype="int32", fill_value=-1)
    a[:] = np.arange(10, dtype="int32") * 3

    ids["c1"] = session.commit(
        "initial hierarchy",
        metadata={
            "author": "interop",
            "n": 1,
            "ratio": 0.5,
            "neg": -7,
            "tags": ["a", "b"],
            "nested": {"k": {"deep": [1, {"x": None}, 2.25]}, "flag": False},
            "unicode": "ünï ☃",
        },
    )
    repo.create_tag("v1", snapshot_id=ids["c1"])
    repo.create_tag("temp", snapshot_id=ids["c1"])
    repo.delete_tag("temp")
    repo.create_branch("scratch", snapshot_id=ids["c1"])
    repo.delete_branch("scratch")

    # ---- commit 2 (main): data updates, resize, attribute changes ----------------------
    session = repo.writable_session("main")
    root = zarr.open_group(session.store, mode="r+")
    big = root["group1/big_int32"]
    big[0:10, 30:40] = np.arange(100, dtype="int32").reshape(10, 10)  # spans two chunks
    sparse = root["sparse"]
    sparse[50:60, 0:10] = rng.standard_normal((10, 10))
    sparse[90:, 90:] = np.nan  # back to fill value
    root["group2"].attrs.update({"updated": True, "history": ["c1", "c2"]})
    res = root["to_resize"]
    res.resize((20,))
    res[10:20] = np.arange(10, 20, dtype="int32") * -1
    root["bools"][3] = not bool(root["bools"][3])
    ids["c2"] = session.commit("update data", metadata={"n": 2, "kind": "update"})
    repo.create_tag("v2", snapshot_id=ids["c2"])

    # ---- dev branch from commit 2 -------------------------------------------------------
    repo.create_branch("dev", snapshot_id=ids["c2"])
    session = repo.writable_session("dev")
    root = zarr.open_group(session.store, mode="r+")
    a = root.create_array("dev_only", shape=(33,), chunks=(16,), dtype="float32")
    a[:] = rng.standard_normal(33).astype("float32")
    root["group2/f64"][100:700] = rng.standard_normal(600)
    root.attrs["branch"] = "dev"
    ids["dev1"] = session.commit("dev work", metadata={"branch": "dev"})

    # ---- commit 3 (main): deletions, shrink, array attrs -------------------------------
    session = repo.writable_session("main")
    root = zarr.open_group(session.store, mode="r+")
    del root["to_delete"]
    del root["group3"]
    root["to_resize"].resize((7,))
    root["group2/f32"].attrs["long_name"] = "thirty-two bit floats"
    root["group1/small_int8"][2:4] = np.array([0, 0], dtype="int8")
    ids["c3"] = session.commit("delete and shrink", metadata={"n": 3, "deleted": ["to_delete"]})

    # ---- commit 4 (main): no metadata, unicode message, new nested group ----------------
    session = repo.writable_session("main")
    root = zarr.open_group(session.store, mode="r+")
    deep = root.create_group("a/b/c", attributes={"deep": [1, [2, [3]]]})
    a = deep.create_array("leaf", shape=(3, 4, 5), chunks=(2, 2, 5), dtype="uint16")
    a[:] = np.arange(60, dtype="uint16").reshape(3, 4, 5)
    root["group1/sub/u16"][95:] = np.zeros(5, dtype="uint16")
    ids["c4"] = session.commit("ünïcode commit ✓")

    return {"variant": variant, "ids": ids}


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("path")
    parser.add_argument("--variant", type=int, default=0, choices=[0, 1])
    args = parser.parse_args(argv)
    summary = write(args.path, args.variant)
    json.dump(summary, sys.stdout, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

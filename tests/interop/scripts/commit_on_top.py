"""Add one commit on ``main`` of an existing scenario repository (see ``write_repo.py``).

Usage: ``python commit_on_top.py PATH [--label LABEL]``

Uses only the public API of icechunk 1.1, zarr 3.1 and numpy. Deterministic for a given
``LABEL`` and repository state: modifies a region of an existing array, adds a group and an
array, changes attributes, deletes one array, commits with message and metadata, then creates
branch ``on-top-LABEL`` and tag ``on-top-LABEL`` at the new commit. Run it several times with
different labels (e.g. once per implementation) to stack commits. Prints a JSON summary.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import warnings
from typing import Any

import numpy as np
import zarr

import icechunk

warnings.filterwarnings("ignore", message=".*does not have a Zarr V3 specification.*")
warnings.filterwarnings("ignore", category=UserWarning)


def commit_on_top(path: str, label: str) -> dict[str, Any]:
    """Make the commit, branch and tag for ``label``; return their ids."""
    seed = int.from_bytes(hashlib.sha256(label.encode()).digest()[:4], "little")
    rng = np.random.default_rng(seed)
    repo = icechunk.Repository.open(icechunk.local_filesystem_storage(path))
    parent = repo.lookup_branch("main")
    session = repo.writable_session("main")
    root = zarr.open_group(session.store, mode="r+")

    # modify a region of an existing array (spans chunk boundaries)
    big = root["group1/big_int32"]
    big[28:36, 28:36] = rng.integers(-1000, 1000, size=(8, 8), dtype="int32")
    # touch a previously unwritten (fill-value) chunk and rewrite part of a written one
    sparse = root["sparse"]
    sparse[30:32, 70:72] = np.array([[1.0, 2.0], [3.0, np.inf]])
    f32 = root["group2/f32"]
    f32[0, :] = rng.standard_normal(30).astype("float32")

    # new group and array
    grp = root.create_group(f"on_top_{label}", attributes={"label": label, "values": [1, 2.5]})
    arr = grp.create_array(
        "data",
        shape=(30, 4),
        chunks=(10, 4),
        dtype="float64",
        dimension_names=["time", "member"],
        attributes={"units": "K"},
    )
    arr[:] = rng.standard_normal((30, 4))
    small = grp.create_array("tiny", shape=(3,), chunks=(3,), dtype="uint8")
    small[:] = np.array([1, 2, 3], dtype="uint8")

    # attribute changes (root and an array)
    root.attrs[f"on_top_{label}"] = {"label": label, "nested": {"ok": True, "n": None}}
    root["group1/small_int8"].attrs["touched_by"] = label

    # delete something that exists in every scenario variant, once
    for victim in ("c64", "bools", "i64"):
        if victim in root:
            del root[victim]
            break

    snapshot_id = session.commit(
        f"commit on top: {label}",
        metadata={"label": label, "parent": parent, "numbers": [1, 2.5, -3], "ok": True},
    )
    repo.create_branch(f"on-top-{label}", snapshot_id=snapshot_id)
    repo.create_tag(f"on-top-{label}", snapshot_id=snapshot_id)
    return {"label": label, "parent": parent, "snapshot_id": snapshot_id}


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("path")
    parser.add_argument("--label", default="r1")
    args = parser.parse_args(argv)
    json.dump(commit_on_top(args.path, args.label), sys.stdout, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Quickstart: version-controlled Zarr on local disk.

Creates a repository in ./demo-repo (or the folder given as the first argument), writes arrays
with zarr, commits, branches, tags, travels back in time and prints the history.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import zarr

import icechunk


def main(path: Path) -> None:
    storage = icechunk.local_filesystem_storage(str(path))
    if icechunk.Repository.exists(storage):
        shutil.rmtree(path)  # a repository left by an earlier run: start afresh
    elif path.exists() and any(path.iterdir()):
        sys.exit(f"{path} exists and is not an Icechunk repository; choose another folder")
    repo = icechunk.Repository.create(storage)
    print(f"created repository at {path}")

    # 1. First commit: a group with two arrays.
    session = repo.writable_session("main")
    root = zarr.group(session.store, attributes={"title": "demo climate data"})
    temperature = root.create_array(
        "temperature", shape=(4, 90, 180), chunks=(1, 90, 180), dtype="float32",
        dimension_names=("time", "lat", "lon"),
    )
    temperature[:] = np.random.default_rng(0).normal(15, 8, size=(4, 90, 180))
    root.create_array("time", shape=(4,), chunks=(4,), dtype="int64")[:] = np.arange(4)
    first = session.commit("Initial data", metadata={"author": "demo"})
    print(f"committed {first}: initial data")

    # 2. Tag it as a release.
    repo.create_tag("v1.0", snapshot_id=first)

    # 3. A second commit on main changes one time step.
    session = repo.writable_session("main")
    temperature = zarr.open_array(session.store, path="temperature")
    temperature[0] = 0.0
    print("uncommitted changes:", session.status().updated_chunks)
    second = session.commit("Zero the first time step")
    print(f"committed {second}")

    # 4. An experiment on a branch, invisible from main.
    repo.create_branch("experiment", snapshot_id=second)
    with repo.transaction("experiment", message="Add humidity") as store:
        zarr.open_group(store).create_array("humidity", shape=(90, 180), dtype="float32")

    # 5. Time travel: the tag still shows the original values.
    old = zarr.open_group(repo.readonly_session(tag="v1.0").store, mode="r")
    new = zarr.open_group(repo.readonly_session(branch="main").store, mode="r")
    print(f"temperature[0] mean at v1.0: {float(old['temperature'][0].mean()):.2f}")
    print(f"temperature[0] mean on main: {float(new['temperature'][0].mean()):.2f}")
    exp = zarr.open_group(repo.readonly_session(branch="experiment").store, mode="r")
    print("arrays on main:", sorted(new.array_keys()))
    print("arrays on experiment:", sorted(exp.array_keys()))

    # 6. History.
    print("branches:", sorted(repo.list_branches()), "tags:", sorted(repo.list_tags()))
    for branch in ("main", "experiment"):
        print(f"history of {branch}:")
        for info in repo.ancestry(branch=branch):
            print(f"  {info.id}  {info.written_at:%Y-%m-%d %H:%M:%S}  {info.message}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "demo-repo"))

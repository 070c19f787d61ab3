"""Create a branch, commit on it, delete it, with the public API only.

Usage: cycle_branch.py PATH. The repository at PATH must exist (local filesystem).
"""

from __future__ import annotations

import sys

import zarr

import icechunk


def main(path: str) -> None:
    repo = icechunk.Repository.open(icechunk.local_filesystem_storage(path))
    repo.create_branch("cycle", snapshot_id=repo.lookup_branch("main"))
    session = repo.writable_session("cycle")
    zarr.open_group(session.store, mode="r+").attrs["cycle"] = True
    session.commit("cycle work")
    repo.delete_branch("cycle")


if __name__ == "__main__":
    main(sys.argv[1])

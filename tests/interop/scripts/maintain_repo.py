"""Expire all but the newest history and garbage-collect, with the public API only.

Usage: maintain_repo.py PATH. Prints the expired snapshot ids and the GC counts as JSON.
"""

from __future__ import annotations

import datetime as dt
import json
import sys

import icechunk


def main(path: str) -> None:
    repo = icechunk.Repository.open(icechunk.local_filesystem_storage(path))
    now = dt.datetime.now(dt.timezone.utc)
    expired = repo.expire_snapshots(older_than=now)
    summary = repo.garbage_collect(now + dt.timedelta(seconds=5))
    print(
        json.dumps(
            {
                "expired": sorted(expired),
                "snapshots_deleted": summary.snapshots_deleted,
                "manifests_deleted": summary.manifests_deleted,
                "chunks_deleted": summary.chunks_deleted,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1])

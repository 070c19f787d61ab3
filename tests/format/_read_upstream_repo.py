"""Reads a repository with upstream Icechunk and prints what it sees as JSON.

Usage: python _read_upstream_repo.py <repo dir> <virtual prefix>
"""

import json
import sys

import zarr

import icechunk

path, virtual_prefix = sys.argv[1], sys.argv[2]
repo = icechunk.Repository.open(
    icechunk.local_filesystem_storage(path),
    authorize_virtual_chunk_access={virtual_prefix: None},
)
out = []
snapshots = list(repo.ancestry(branch="main"))
for snap in snapshots:
    try:
        group = zarr.open_group(repo.readonly_session(snapshot_id=snap.id).store, mode="r")
    except zarr.errors.GroupNotFoundError:
        out.append({"id": snap.id, "parent": snap.parent_id, "message": snap.message})
        continue
    arrays = {}
    for name in ["big", "group1/small", "partial", "scalar"]:
        if name in group:
            arrays[name] = [group[name][...].tolist(), group[name].metadata.dimension_names]
    if "virtual" in group:
        arrays["virtual"] = group["virtual"][20:30].tolist()
    out.append(
        {
            "id": snap.id,
            "parent": snap.parent_id,
            "message": snap.message,
            "metadata": snap.metadata,
            "members": sorted(k for k, _ in group.members(max_depth=None)),
            "attrs": dict(group.attrs),
            "arrays": arrays,
        }
    )
diff = repo.diff(from_snapshot_id=snapshots[-1].id, to_branch="main")
out.append({"diff": repr(diff)})
# The last line of output is the result (upstream may log warnings to stdout).
print("\n" + json.dumps(out, sort_keys=True, default=str))

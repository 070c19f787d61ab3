"""Writes a small repository with upstream Icechunk (run by the upstream venv's Python).

Usage: python _make_upstream_repo.py <repo dir> <virtual data dir> <json summary path>
"""

import datetime
import json
import sys

import numpy as np
import zarr

import icechunk

path, virtual_dir, summary_path = sys.argv[1], sys.argv[2], sys.argv[3]
virtual_prefix = f"file://{virtual_dir}/"
with open(f"{virtual_dir}/data.bin", "wb") as f:
    f.write(bytes(range(64)))

config = icechunk.RepositoryConfig.default()
config.inline_chunk_threshold_bytes = 64
config.set_virtual_chunk_container(
    icechunk.VirtualChunkContainer(virtual_prefix, icechunk.local_filesystem_store(virtual_dir))
)
repo = icechunk.Repository.create(icechunk.local_filesystem_storage(path), config=config)

session = repo.writable_session("main")
root = zarr.group(session.store, attributes={"title": "upstream", "nested": {"a": [1, 2.5, None]}})
grp = root.create_group("group1", attributes={"kind": "group"})
small = grp.create_array(
    "small",
    shape=(4, 4),
    chunks=(2, 2),
    dtype="int8",
    dimension_names=["y", "x"],
    fill_value=0,
    compressors=None,
)
small[:] = np.arange(16, dtype="int8").reshape(4, 4)
big = root.create_array(
    "big",
    shape=(100,),
    chunks=(50,),
    dtype="float64",
    fill_value=float("nan"),
    attributes={"units": "m", "scale": 0.5},
    compressors=None,
)
big[:] = np.arange(100, dtype="float64")
partial = root.create_array(
    "partial",
    shape=(3, 5),
    chunks=(2, 5),
    dtype="int32",
    dimension_names=["t", None],
)
partial[0:2, :] = 7
root.create_array("scalar", shape=(), dtype="int16", fill_value=0)[()] = 42
root.create_array("virtual", shape=(30,), chunks=(10,), dtype="uint8", compressors=None)
store = session.store
data_bin = f"{virtual_prefix}data.bin"
store.set_virtual_ref("virtual/c/0", data_bin, offset=5, length=10, checksum="etag-123")
lm = datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
store.set_virtual_ref("virtual/c/1", data_bin, offset=15, length=10, checksum=lm)
store.set_virtual_ref("virtual/c/2", data_bin, offset=25, length=10)
root.create_group("to_delete")
first = session.commit(
    "first commit", metadata={"author": "test", "n": 1, "f": 1.5, "l": [1, "x"], "d": {"k": None}}
)

session = repo.writable_session("main")
root = zarr.open_group(session.store)
del root["to_delete"]
root["big"][0:50] = -1.0
root["group1/small"][0:2, 0:2] = 9
root.attrs["title"] = "updated"
second = session.commit("second commit")

with open(summary_path, "w") as f:
    json.dump(
        {
            "first": first,
            "second": second,
            "ancestry": [s.id for s in repo.ancestry(branch="main")],
            "messages": [s.message for s in repo.ancestry(branch="main")],
            "virtual_prefix": virtual_prefix,
            "last_modified": int(lm.timestamp()),
        },
        f,
    )

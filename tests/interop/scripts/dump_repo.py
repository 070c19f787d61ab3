"""Dump a repository as one canonical JSON document, with whichever ``icechunk`` is importable.

Usage: ``python dump_repo.py PATH [--out FILE]``

Uses only the public API of icechunk 1.1, zarr 3.1 and numpy, so the same script runs under
upstream Icechunk and under this package; for one repository both must print the same bytes.

The document holds: config presence and inline threshold; branches and tags with their tips;
the ancestry of every branch and tag (id, parent, message, metadata, written_at, manifests);
and for every reachable snapshot: the diff from its parent (transaction log), every store key
with the sha256 of its raw bytes, and every node (zarr.json, attributes, array metadata and data
hash, with full values for small arrays).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import math
import sys
import warnings
from typing import Any

import numpy as np
import zarr
from zarr.core.buffer import default_buffer_prototype

import icechunk

warnings.filterwarnings("ignore", message=".*does not have a Zarr V3 specification.*")
warnings.filterwarnings("ignore", category=UserWarning)

SMALL_ARRAY = 64  # arrays with at most this many elements are dumped value by value


def jsonable(value: Any) -> Any:
    """Convert ``value`` to plain JSON types; non-finite floats become strings."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((jsonable(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        return jsonable(value.item())
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return "float:NaN"
        if math.isinf(value):
            return "float:Infinity" if value > 0 else "float:-Infinity"
        return value
    if isinstance(value, complex):
        return {"complex": [jsonable(value.real), jsonable(value.imag)]}
    if isinstance(value, bytes):
        return {"bytes": value.hex()}
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return repr(value)


def sha256(data: bytes) -> str:
    """Hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def array_data(arr: zarr.Array) -> dict[str, Any]:
    """Hash (and for small arrays, list) the full contents of ``arr``."""
    data = arr[...]
    data = np.asarray(data)
    out: dict[str, Any] = {"dtype": str(data.dtype), "shape": list(data.shape)}
    if data.dtype.kind in "OTU":
        # object / StringDType / unicode: hash a canonical text form (bytes would be pointers)
        out["sha256"] = sha256(json.dumps(jsonable(data.tolist()), ensure_ascii=True).encode())
    else:
        out["sha256"] = sha256(np.ascontiguousarray(data).tobytes())
    if data.size <= SMALL_ARRAY:
        out["values"] = jsonable(data.tolist())
    else:
        flat = data.reshape(-1)
        out["first"] = jsonable(flat[:3].tolist())
        out["last"] = jsonable(flat[-3:].tolist())
    return out


def node_dump(node: zarr.Array | zarr.Group, raw_meta: bytes) -> dict[str, Any]:
    """Describe one node: its zarr.json, attributes and (for arrays) metadata and data."""
    out: dict[str, Any] = {
        "zarr_json": json.loads(raw_meta),
        "zarr_json_sha256": sha256(raw_meta),
        "attributes": jsonable(dict(node.attrs)),
    }
    if isinstance(node, zarr.Array):
        out["node_type"] = "array"
        out["shape"] = list(node.shape)
        out["chunks"] = list(node.chunks)
        out["shards"] = None if node.shards is None else list(node.shards)
        out["dtype"] = str(node.dtype)
        out["fill_value"] = jsonable(node.fill_value)
        out["dimension_names"] = (
            None if node.metadata.dimension_names is None else list(node.metadata.dimension_names)
        )
        out["data"] = array_data(node)
    else:
        out["node_type"] = "group"
    return out


async def store_keys(store: Any) -> dict[str, str]:
    """Every key in ``store`` with the sha256 of its raw value."""
    keys = sorted([k async for k in store.list()])
    proto = default_buffer_prototype()
    out: dict[str, str] = {}
    for key in keys:
        buf = await store.get(key, proto)
        out[key] = "MISSING" if buf is None else sha256(buf.to_bytes())
    return out


def snapshot_dump(repo: icechunk.Repository, snapshot_id: str) -> dict[str, Any]:
    """Describe the tree of one snapshot."""
    session = repo.readonly_session(snapshot_id=snapshot_id)
    assert session.snapshot_id == snapshot_id, (session.snapshot_id, snapshot_id)
    store = session.store
    keys = asyncio.run(store_keys(store))
    nodes: dict[str, Any] = {}
    if "zarr.json" in keys:
        root = zarr.open_group(store, mode="r")
        members: list[tuple[str, zarr.Array | zarr.Group]] = [("", root)]
        members.extend(root.members(max_depth=None))
        proto = default_buffer_prototype()
        for path, node in members:
            meta_key = f"{path}/zarr.json" if path else "zarr.json"
            buf = asyncio.run(store.get(meta_key, proto))
            assert buf is not None, meta_key
            nodes["/" + path] = node_dump(node, buf.to_bytes())
    return {"keys": keys, "nodes": nodes}


def diff_dump(diff: Any) -> dict[str, Any]:
    """Plain form of a :class:`icechunk.Diff`."""
    return {
        "new_groups": sorted(diff.new_groups),
        "new_arrays": sorted(diff.new_arrays),
        "deleted_groups": sorted(diff.deleted_groups),
        "deleted_arrays": sorted(diff.deleted_arrays),
        "updated_groups": sorted(diff.updated_groups),
        "updated_arrays": sorted(diff.updated_arrays),
        "updated_chunks": {
            path: sorted(list(c) for c in coords) for path, coords in diff.updated_chunks.items()
        },
    }


def info_dump(info: Any) -> dict[str, Any]:
    """Plain form of a :class:`icechunk.SnapshotInfo`."""
    return {
        "id": info.id,
        "parent_id": info.parent_id,
        "message": info.message,
        "metadata": jsonable(info.metadata),
        "written_at": info.written_at.isoformat(),
        "manifests": sorted([[m.id, m.size_bytes, m.num_chunk_refs] for m in info.manifests]),
    }


def dump(path: str) -> dict[str, Any]:
    """Build the canonical document for the repository at ``path``."""
    storage = icechunk.local_filesystem_storage(path)
    config = icechunk.Repository.fetch_config(storage)
    repo = icechunk.Repository.open(storage)
    branches = {b: repo.lookup_branch(b) for b in sorted(repo.list_branches())}
    tags = {t: repo.lookup_tag(t) for t in sorted(repo.list_tags())}

    ancestry: dict[str, list[dict[str, Any]]] = {}
    infos: dict[str, dict[str, Any]] = {}
    for kind, refs in (("branch", branches), ("tag", tags)):
        for name, tip in refs.items():
            if kind == "branch":
                chain = [info_dump(i) for i in repo.ancestry(branch=name)]
            else:
                chain = [info_dump(i) for i in repo.ancestry(tag=name)]
            assert chain and chain[0]["id"] == tip, (name, tip)
            assert chain[-1]["parent_id"] is None, name
            ancestry[f"{kind}:{name}"] = chain
            for info in chain:
                infos.setdefault(info["id"], info)
            by_id = [i.id for i in repo.ancestry(snapshot_id=tip)]
            assert by_id == [i["id"] for i in chain], name

    snapshots: dict[str, Any] = {}
    for sid in sorted(infos):
        entry = snapshot_dump(repo, sid)
        parent = infos[sid]["parent_id"]
        entry["diff_from_parent"] = (
            None
            if parent is None
            else diff_dump(repo.diff(from_snapshot_id=parent, to_snapshot_id=sid))
        )
        snapshots[sid] = entry

    for name, tip in branches.items():
        assert repo.readonly_session(branch=name).snapshot_id == tip, name
    for name, tip in tags.items():
        assert repo.readonly_session(tag=name).snapshot_id == tip, name

    return {
        "config": {
            "present": config is not None,
            "inline_chunk_threshold_bytes": (
                None if config is None else config.inline_chunk_threshold_bytes
            ),
        },
        "branches": branches,
        "tags": tags,
        "ancestry": ancestry,
        "snapshots": snapshots,
    }


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("path")
    parser.add_argument("--out", help="write the JSON here instead of stdout")
    args = parser.parse_args(argv)
    text = json.dumps(dump(args.path), sort_keys=True, indent=1, ensure_ascii=True) + "\n"
    if args.out:
        with open(args.out, "w", encoding="ascii") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Flip single bytes of metadata files and classify what a reader makes of each damaged file.

For one snapshot, one manifest, one transaction log and one (native) chunk object of a small
repository, every byte (or
every ``--step``-th byte) is XOR-ed with ``--mask``; the repository is then opened afresh and
read through the public API (ancestry, diff, every group, attribute and array value of the
tip). Each flip lands in one of four classes:

* ``unaffected``: the read succeeds and returns exactly what the undamaged repository returns
  (for example a flip in the implementation name of the header);
* ``typed``: an ``icechunk.IcechunkError`` subclass is raised;
* ``untyped``: any other exception (``ValueError``, ``JSONDecodeError``, zarr errors, ...);
* ``wrong``: the read succeeds but returns something else: silently wrong data.

The repository is written either by this package (``--writer ours``) or by upstream Icechunk
1.1.21 from ``.cache/upstream-venv`` (``--writer upstream``); the same builder function runs in
both, because the two share their Python API. Usage::

    .venv/bin/python scripts/byte_flip_sweep.py --writer ours --writer upstream [--step 1]

Results (every byte, XOR 0xFF; ``unaffected/typed/untyped/wrong``; sizes vary by a few bytes
between runs because ids are random):

==================  =======================  =====================  =====================
file                before (main b1d2e3c)    after, ours            after, upstream-written
==================  =======================  =====================  =====================
snapshot ~1010 B    27/810/162/12            24/990/0/0             27/968/0/17
manifest ~260 B     30/223/1/4               24/262/0/0             24/213/0/0
transaction ~205 B  24/179/0/1               24/183/0/0             24/183/0/0
chunk 80 B          0/0/0/80                 0/80/0/0               0/0/0/80
==================  =======================  =====================  =====================

Upstream-written files carry no checksum: what remains are flips that turn one valid value
into another (a letter of an attribute or message, a digit, a chunk byte).

Only the standard library is imported at module level: the upstream interpreter runs this file
with ``--build PATH`` to write its repository.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import shutil
import subprocess
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
UPSTREAM_PYTHON = REPO_ROOT / ".cache" / "upstream-venv" / "bin" / "python"
KINDS = ("snapshots", "manifests", "transactions", "chunks")
CLASSES = ("unaffected", "typed", "untyped", "wrong")


def build_repository(path: str) -> dict[str, str]:
    """Write the sample repository at ``path`` with whichever ``icechunk`` is importable.

    Returns the ids of the two commits (``{"first": ..., "second": ...}``).
    """
    import numpy as np
    import zarr

    import icechunk

    config = icechunk.RepositoryConfig.default()
    config.inline_chunk_threshold_bytes = 16
    repo = icechunk.Repository.create(icechunk.local_filesystem_storage(path), config=config)
    session = repo.writable_session("main")
    root = zarr.group(session.store, attributes={"title": "sweep", "nested": {"a": [1, 2.5]}})
    group = root.create_group("group1", attributes={"kind": "group"})
    small = group.create_array(
        "small", shape=(4, 4), chunks=(2, 2), dtype="int8", dimension_names=["y", "x"],
        fill_value=0, compressors=None,
    )
    small[:] = np.arange(16, dtype="int8").reshape(4, 4)
    big = root.create_array(
        "big", shape=(40,), chunks=(10,), dtype="float64", fill_value=-1.0,
        attributes={"units": "m"}, compressors=None,
    )
    big[:] = np.arange(40, dtype="float64")
    root.create_array("scalar", shape=(), dtype="int16", fill_value=0)[()] = 42
    root.create_group("to_delete")
    first = session.commit("first commit", metadata={"author": "sweep", "n": 1})
    session = repo.writable_session("main")
    root = zarr.open_group(session.store)
    del root["to_delete"]
    root["big"][0:10] = 5.0
    root["group1/small"][0:2, 0:2] = 9
    root.attrs["title"] = "updated"
    second = session.commit("second commit")
    return {"first": first, "second": second}


def read_everything(path: Path, ids: dict[str, str]) -> str:
    """Read the repository through the public API; return a digest of all that was read."""
    import numpy as np
    import zarr

    import icechunk

    repo = icechunk.Repository.open(icechunk.local_filesystem_storage(str(path)))
    parts: list[Any] = []
    for info in repo.ancestry(branch="main"):
        parts.append((info.id, info.parent_id, info.message, info.metadata, str(info.written_at)))
        parts.append(sorted((str(m.id), m.size_bytes) for m in (info.manifests or [])))
    diff = repo.diff(from_snapshot_id=ids["first"], to_snapshot_id=ids["second"])
    parts.append(repr(diff))
    session = repo.readonly_session(snapshot_id=ids["second"])
    root = zarr.open_group(session.store, mode="r")
    parts.append(dict(root.attrs))
    for name, node in sorted(root.members(max_depth=None)):
        parts.append((name, type(node).__name__, dict(node.attrs)))
        if isinstance(node, zarr.Array):
            data = np.asarray(node[...])
            parts.append((node.shape, node.chunks, str(data.dtype), data.tobytes().hex()))
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def classify(path: Path, ids: dict[str, str], expected: str) -> str:
    """Read the (damaged) repository and classify the outcome."""
    import icechunk

    try:
        digest = read_everything(path, ids)
    except icechunk.IcechunkError:
        return "typed"
    except Exception:
        return "untyped"
    return "unaffected" if digest == expected else "wrong"


def chosen_files(path: Path, ids: dict[str, str]) -> dict[str, Path]:
    """The snapshot and transaction log of the second commit, its largest manifest, and the
    first native chunk object that manifest points to."""
    import icechunk
    from icechunk._format._manifest_decode import decode_manifest
    from icechunk._format.header import FileType, decode_file
    from icechunk._format.ids import encode_id
    from icechunk._format.manifest import NativeChunk

    repo = icechunk.Repository.open(icechunk.local_filesystem_storage(str(path)))
    manifests = repo.lookup_snapshot(ids["second"]).manifests
    largest = max(manifests, key=lambda m: (m.size_bytes, str(m.id)))
    manifest_path = path / "manifests" / str(largest.id)
    raw = decode_file(manifest_path.read_bytes(), FileType.MANIFEST, what="manifest")
    native = [
        payload
        for table in decode_manifest(raw).arrays.values()
        for _, payload in table.items()
        if isinstance(payload, NativeChunk)
    ]
    return {
        "snapshots": path / "snapshots" / ids["second"],
        "manifests": manifest_path,
        "transactions": path / "transactions" / ids["second"],
        "chunks": path / "chunks" / encode_id(native[0].chunk_id),
    }


@dataclass
class SweepResult:
    """Counts per file kind and the positions of the worst outcomes."""

    counts: dict[str, Counter[str]] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)
    positions: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)


def sweep(path: Path, ids: dict[str, str], *, step: int = 1, mask: int = 0xFF) -> SweepResult:
    """Flip every ``step``-th byte of the three chosen files (one at a time) and classify."""
    import icechunk

    expected = read_everything(path, ids)
    result = SweepResult()
    for kind, file in chosen_files(path, ids).items():
        original = file.read_bytes()
        counts: Counter[str] = Counter()
        positions: dict[str, list[int]] = {"untyped": [], "wrong": []}
        errors: list[str] = []
        try:
            for pos in range(0, len(original), step):
                damaged = bytearray(original)
                damaged[pos] ^= mask
                file.write_bytes(bytes(damaged))
                outcome = classify(path, ids, expected)
                if outcome == "untyped" and len(errors) < 5:
                    try:
                        read_everything(path, ids)
                    except icechunk.IcechunkError:
                        pass
                    except Exception as error:
                        errors.append(f"{pos}: {type(error).__name__}: {error}"[:200])
                counts[outcome] += 1
                if outcome in positions:
                    positions[outcome].append(pos)
        finally:
            file.write_bytes(original)
        result.counts[kind] = counts
        result.sizes[kind] = len(original)
        result.positions[kind] = positions
        result.errors[kind] = errors
    return result


def make_repository(writer: str, path: Path) -> dict[str, str]:
    """Write the sample repository with this package (``ours``) or upstream (``upstream``)."""
    if writer == "ours":
        return build_repository(str(path))
    if not UPSTREAM_PYTHON.exists():
        raise RuntimeError(f"upstream venv not found at {UPSTREAM_PYTHON}")
    proc = subprocess.run(
        [str(UPSTREAM_PYTHON), __file__, "--build", str(path)],
        check=True,
        capture_output=True,
        text=True,
        cwd=tempfile.gettempdir(),
        env={"PATH": "/usr/bin:/bin", "RUST_LOG": "error", "PYTHONWARNINGS": "ignore"},
    )
    ids: dict[str, str] = json.loads(proc.stdout.strip().splitlines()[-1])
    return ids


def _report(writer: str, result: SweepResult, step: int, mask: int) -> None:
    print(f"\nwriter={writer} step={step} mask=0x{mask:02x}")
    print(f"{'file':<14}{'bytes':>7}{'flips':>7}" + "".join(f"{c:>12}" for c in CLASSES))
    for kind in KINDS:
        counts = result.counts[kind]
        total = sum(counts.values())
        cells = "".join(f"{counts.get(c, 0):>12}" for c in CLASSES)
        print(f"{kind:<14}{result.sizes[kind]:>7}{total:>7}{cells}")
    for kind in KINDS:
        for label, where in result.positions[kind].items():
            if where:
                print(f"  {kind} {label} at offsets {where[:40]}")
        for line in result.errors[kind]:
            print(f"  {kind} e.g. {line}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", help="only write the sample repository here (for upstream)")
    parser.add_argument("--writer", action="append", choices=("ours", "upstream"))
    parser.add_argument("--step", type=int, default=1, help="flip every n-th byte")
    parser.add_argument("--mask", type=lambda s: int(s, 0), default=0xFF, help="XOR mask")
    args = parser.parse_args(argv)
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)  # zarr's unretrieved task errors
    if args.build:
        print(json.dumps(build_repository(args.build)))
        return
    for writer in args.writer or ["ours", "upstream"]:
        base = Path(tempfile.mkdtemp(prefix=f"flip-{writer}-"))
        try:
            ids = make_repository(writer, base / "repo")
            _report(writer, sweep(base / "repo", ids, step=args.step, mask=args.mask), args.step, args.mask)
        finally:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()

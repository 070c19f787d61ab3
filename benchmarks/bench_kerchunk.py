"""Timing of ``icechunk.virtual.ingest_kerchunk`` on large kerchunk reference sets.

Run: ``.venv/bin/python benchmarks/bench_kerchunk.py [--refs 200000] [--repeats 3]``.

Prints a markdown table: for a version 1 reference set of N ``[{{u}}, offset, length]``
references (one templated file, one array of N chunks), the wall time of reading the set
(fsspec expands the templates), checking and placing the chunks, writing them with
``set_virtual_refs_arr``, and committing; best of ``--repeats``. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from typing import Any

import icechunk
from icechunk.virtual import ingest_kerchunk


def reference_set(n: int, url: str) -> dict[str, Any]:
    """N references to 400-byte chunks of one file, through a ``{{u}}`` template."""
    zarray = {
        "shape": [n, 100],
        "chunks": [1, 100],
        "dtype": "<f4",
        "fill_value": None,
        "order": "C",
        "filters": None,
        "compressor": None,
        "zarr_format": 2,
    }
    refs: dict[str, Any] = {
        ".zgroup": json.dumps({"zarr_format": 2}),
        "v/.zarray": json.dumps(zarray),
        "v/.zattrs": json.dumps({"_ARRAY_DIMENSIONS": ["t", "x"]}),
    }
    refs.update({f"v/{i}.0": ["{{u}}", i * 400, 400] for i in range(n)})
    return {"version": 1, "templates": {"u": url}, "refs": refs}


def run_once(n: int) -> tuple[float, float]:
    """(ingest seconds, commit seconds) for one fresh repository."""
    with tempfile.TemporaryDirectory() as tmp:
        config = icechunk.RepositoryConfig.default()
        config.set_virtual_chunk_container(
            icechunk.VirtualChunkContainer(f"file://{tmp}/", icechunk.local_filesystem_store(tmp))
        )
        repo = icechunk.Repository.create(
            icechunk.local_filesystem_storage(f"{tmp}/repo"), config=config
        )
        refs = reference_set(n, f"file://{tmp}/archive.bin")
        session = repo.writable_session("main")
        start = time.perf_counter()
        ingest_kerchunk(refs, session.store)
        ingested = time.perf_counter()
        session.commit(f"{n} references")
        return ingested - start, time.perf_counter() - ingested


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--refs", type=int, nargs="*", default=[10_000, 100_000, 200_000])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print("| references | ingest_kerchunk (s) | commit (s) | per reference (µs) |")
    print("| ---: | ---: | ---: | ---: |")
    for n in args.refs:
        runs = [run_once(n) for _ in range(args.repeats)]
        ingest = min(r[0] for r in runs)
        commit = min(r[1] for r in runs)
        print(f"| {n:,} | {ingest:.2f} | {commit:.2f} | {1e6 * (ingest + commit) / n:.1f} |")


if __name__ == "__main__":
    main()

"""Upstream Icechunk reads a repository whose metadata files were all re-encoded by us."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

from icechunk._format._codec_manifest import encode_manifest
from icechunk._format._codec_snapshot import decode_snapshot, encode_snapshot
from icechunk._format._codec_transaction_log import decode_transaction_log, encode_transaction_log
from icechunk._format._manifest_decode import decode_manifest
from icechunk._format.header import FileType, decode_file, encode_file, implementation_name
from icechunk._format.ids import encode_id
from icechunk._version import IMPLEMENTATION_NAME


def _reencode(repo: Path) -> None:
    sizes = {}
    for path in (repo / "manifests").iterdir():
        m = decode_manifest(decode_file(path.read_bytes(), FileType.MANIFEST, what=path.name))
        data = encode_file(FileType.MANIFEST, encode_manifest(m))
        sizes[path.name] = len(data)  # snapshots record each manifest's file size
        path.write_bytes(data)
    for path in (repo / "snapshots").iterdir():
        s = decode_snapshot(decode_file(path.read_bytes(), FileType.SNAPSHOT, what=path.name))
        files = tuple(
            dataclasses.replace(f, size_bytes=sizes[encode_id(f.manifest_id)])
            for f in s.manifest_files
        )
        s = dataclasses.replace(s, manifest_files=files)
        path.write_bytes(encode_file(FileType.SNAPSHOT, encode_snapshot(s)))
    for path in (repo / "transactions").iterdir():
        t = decode_transaction_log(
            decode_file(path.read_bytes(), FileType.TRANSACTION_LOG, what=path.name)
        )
        path.write_bytes(encode_file(FileType.TRANSACTION_LOG, encode_transaction_log(t)))


def test_upstream_reads_our_encoding(upstream_repo, read_with_upstream, tmp_path) -> None:  # type: ignore[no-untyped-def]
    prefix = upstream_repo.summary["virtual_prefix"]
    expected = read_with_upstream(upstream_repo.path, prefix)
    ours = tmp_path / "repo"
    shutil.copytree(upstream_repo.path, ours)
    _reencode(ours)
    for kind in ("snapshots", "manifests", "transactions"):
        for path in (ours / kind).iterdir():
            assert implementation_name(path.read_bytes()) == IMPLEMENTATION_NAME
    assert read_with_upstream(ours, prefix) == expected
    assert expected[0]["arrays"]["virtual"] == list(range(25, 35))
    assert "to_delete" in expected[1]["members"] and "to_delete" not in expected[0]["members"]

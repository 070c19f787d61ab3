"""Damaged objects read as typed errors, never as wrong data or untyped exceptions.

Byte flips in metadata files (snapshot, manifest, transaction log), truncated chunk objects,
and (opt-in) chunk checksums. The sweep helpers live in ``scripts/byte_flip_sweep.py``, which
runs the full sweep; the tests here sample every n-th byte.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import zstandard
from _helpers.upstream import run_upstream, upstream_python
from zarr.abc.store import RangeByteRequest

import icechunk
from icechunk._exceptions import ObjectTruncatedError
from icechunk._format.header import HEADER_SIZE, file_has_checksum
from icechunk._format.ids import decode_id
from icechunk.storage._backend import ByteRange

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLE_STEP = 9  # flip every 9th byte: about 160 flips in all, a few seconds


def _load_sweep() -> ModuleType:
    path = REPO_ROOT / "scripts" / "byte_flip_sweep.py"
    spec = importlib.util.spec_from_file_location("byte_flip_sweep", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


sweep_module = _load_sweep()


@pytest.fixture
def quiet_zarr() -> Iterator[None]:
    """zarr logs (and warns about) the errors of damaged metadata it reads concurrently."""
    logger = logging.getLogger("asyncio")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield
    logger.setLevel(level)


# --- point 8: metadata files carry a checksum; every damaged byte is a typed error ----------


def test_metadata_files_are_written_with_a_zstd_checksum(tmp_path: Path) -> None:
    ids = sweep_module.build_repository(str(tmp_path / "repo"))
    files = sweep_module.chosen_files(tmp_path / "repo", ids)
    for kind in ("snapshots", "manifests", "transactions"):
        data = files[kind].read_bytes()
        assert file_has_checksum(data), kind
        assert zstandard.get_frame_parameters(data[HEADER_SIZE:]).has_checksum


def test_byte_flips_in_our_files_never_read_as_wrong_or_untyped(
    tmp_path: Path, quiet_zarr: None
) -> None:
    path = tmp_path / "repo"
    ids = sweep_module.build_repository(str(path))
    result = sweep_module.sweep(path, ids, step=SAMPLE_STEP, mask=0xFF)
    for kind, counts in result.counts.items():
        assert counts["untyped"] == 0, (kind, result.errors[kind])
        assert counts["wrong"] == 0, (kind, result.positions[kind])
        assert counts["typed"] > 0, kind


def test_single_bit_flips_in_our_files_never_read_as_wrong_or_untyped(
    tmp_path: Path, quiet_zarr: None
) -> None:
    path = tmp_path / "repo"
    ids = sweep_module.build_repository(str(path))
    result = sweep_module.sweep(path, ids, step=SAMPLE_STEP + 2, mask=0x01)
    for kind, counts in result.counts.items():
        assert counts["untyped"] == 0, (kind, result.errors[kind])
        assert counts["wrong"] == 0, (kind, result.positions[kind])


def test_byte_flips_in_upstream_files_are_typed(tmp_path: Path, quiet_zarr: None) -> None:
    """Upstream writes no checksum: a damaged snapshot is cross-checked against its zarr
    metadata, and manifests and transaction logs decode defensively, so flips give typed
    errors. Residual risks (counted by the full sweep): wrong values where one valid value
    becomes another, and a flipped length of an inline chunk reaching zarr."""
    upstream_python()
    path = tmp_path / "repo"
    ids = sweep_module.make_repository("upstream", path)
    files = sweep_module.chosen_files(path, ids)
    assert not any(file_has_checksum(files[k].read_bytes()) for k in sweep_module.KINDS[:3])
    result = sweep_module.sweep(path, ids, step=SAMPLE_STEP, mask=0xFF)
    untyped = sum(result.counts[k]["untyped"] for k in sweep_module.KINDS)
    flips = sum(sum(result.counts[k].values()) for k in sweep_module.KINDS)
    assert untyped <= 1, result.errors
    assert flips > 150


def test_checksum_mismatch_names_the_object_and_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "repo"
    ids = sweep_module.build_repository(str(path))
    snapshot = sweep_module.chosen_files(path, ids)["snapshots"]
    data = bytearray(snapshot.read_bytes())
    data[-2] ^= 0x01  # inside the checksum itself
    snapshot.write_bytes(bytes(data))
    repo = icechunk.Repository.open(icechunk.local_filesystem_storage(str(path)))
    with pytest.raises(icechunk.IcechunkError, match=f"snapshot {ids['second']}.*restore"):
        list(repo.ancestry(snapshot_id=ids["second"]))


# --- point 6: a truncated or emptied chunk object is a typed error naming it ----------------


def _sync(coro):  # type: ignore[no-untyped-def]
    from icechunk._sync import sync

    return sync(coro)


@pytest.mark.parametrize("keep", [0, 7, 799])
def test_truncated_chunk_object_is_a_typed_error(
    storage: icechunk.Storage, keep: int
) -> None:
    import numpy as np
    import zarr

    repo = icechunk.Repository.create(storage)
    session = repo.writable_session("main")
    array = zarr.create_array(
        session.store, name="x", shape=(200,), chunks=(100,), dtype="f8", compressors=None
    )
    array[:] = np.arange(200.0)
    session.commit("two chunks of 800 bytes")
    backend = repo._core.backend
    keys = sorted(_sync(_collect(backend.list("chunks/"))))
    assert len(keys) == 2
    victim = keys[0]
    original = _sync(backend.get(victim))
    _sync(backend.put(victim, original[:keep]))

    read = zarr.open_array(repo.readonly_session("main").store, path="x", mode="r")
    with pytest.raises(ObjectTruncatedError, match=f"{victim}.*truncated.*restore"):
        read[:]
    store = repo.readonly_session("main").store
    failed = []
    for key in ("x/c/0", "x/c/1"):
        for byte_range in (None, RangeByteRequest(792, 800)):
            try:
                _sync(store.get(key, _prototype(), byte_range))
            except ObjectTruncatedError as error:
                assert victim in str(error)
                failed.append(key)
    assert len(failed) == 2 and len(set(failed)) == 1


async def _collect(iterator):  # type: ignore[no-untyped-def]
    return [info.key async for info in iterator]


def _prototype():  # type: ignore[no-untyped-def]
    from zarr.core.buffer import default_buffer_prototype

    return default_buffer_prototype()


# --- beyond upstream: chunk checksums in an extra manifest field ----------------------------


def _repo_with_two_chunks(storage: icechunk.Storage) -> tuple[icechunk.Repository, list[str]]:
    import numpy as np
    import zarr

    repo = icechunk.Repository.create(storage)
    session = repo.writable_session("main")
    array = zarr.create_array(
        session.store, name="x", shape=(200,), chunks=(100,), dtype="f8", compressors=None
    )
    array[:] = np.arange(200.0)
    session.commit("two chunks of 800 bytes")
    keys = sorted(_sync(_collect(repo._core.backend.list("chunks/"))))
    assert len(keys) == 2
    return repo, keys


def test_same_size_flip_in_a_chunk_is_a_checksum_error(storage: icechunk.Storage) -> None:
    import zarr

    from icechunk._exceptions import ChecksumMismatchError

    repo, keys = _repo_with_two_chunks(storage)
    backend = repo._core.backend
    original = _sync(backend.get(keys[0]))
    damaged = bytearray(original)
    damaged[100] ^= 0x01  # same size: a changed value without the checksum
    _sync(backend.put(keys[0], bytes(damaged)))
    read = zarr.open_array(repo.readonly_session("main").store, path="x", mode="r")
    with pytest.raises(ChecksumMismatchError, match=f"{keys[0]}.*damaged.*restore"):
        read[:]
    _sync(backend.put(keys[0], original))
    assert list(zarr.open_array(repo.readonly_session("main").store, path="x")[:3]) == [0, 1, 2]


def test_chunk_checksums_survive_fork_and_merge(storage: icechunk.Storage) -> None:
    import pickle

    import numpy as np
    import zarr

    repo = icechunk.Repository.create(storage)
    session = repo.writable_session("main")
    zarr.create_array(
        session.store, name="x", shape=(200,), chunks=(100,), dtype="f8", compressors=None
    )
    session.commit("empty array")
    session = repo.writable_session("main")
    fork = pickle.loads(pickle.dumps(session.fork()))
    zarr.open_array(fork.store, path="x")[:] = np.arange(200.0)
    session.merge(pickle.loads(pickle.dumps(fork)))
    session.commit("written by a fork")
    assets = repo._core.assets
    snapshot = _sync(assets.fetch_snapshot(decode_id(repo.lookup_branch("main"))))
    manifest = _sync(assets.fetch_manifest(snapshot.manifest_files[0].manifest_id))
    (table,) = manifest.arrays.values()
    assert (table.checksums >= 0).all() and len(table) == 2


_UPSTREAM_READS = """
import json, sys
import numpy as np, zarr, icechunk
repo = icechunk.Repository.open(icechunk.local_filesystem_storage(sys.argv[1]))
session = repo.writable_session("main")
x = zarr.open_array(session.store, path="x")
values = x[:].tolist()
x[0:100] = -1.0  # upstream rewrites the manifest (without our checksum field)
session.commit("written by upstream")
print(json.dumps({"version": icechunk.__version__, "values": values}))
"""


def test_upstream_reads_manifests_with_chunk_checksums(tmp_path: Path) -> None:
    import json

    import numpy as np
    import zarr

    upstream_python()
    path = tmp_path / "repo"
    repo, _ = _repo_with_two_chunks(icechunk.local_filesystem_storage(str(path)))
    assets = repo._core.assets
    snapshot = _sync(assets.fetch_snapshot(decode_id(repo.lookup_branch("main"))))
    manifest = _sync(assets.fetch_manifest(snapshot.manifest_files[0].manifest_id))
    (table,) = manifest.arrays.values()
    assert (table.checksums >= 0).all()  # the extra field is in the file upstream reads
    out = run_upstream(_UPSTREAM_READS, str(path))
    report = json.loads(out.strip().splitlines()[-1])
    assert report["version"] == "1.1.21"
    assert report["values"] == list(np.arange(200.0))
    again = icechunk.Repository.open(icechunk.local_filesystem_storage(str(path)))
    read = zarr.open_array(again.readonly_session("main").store, path="x", mode="r")[:]
    np.testing.assert_array_equal(read, np.r_[np.full(100, -1.0), np.arange(100.0, 200.0)])


async def test_chunk_checksums_can_be_switched_off() -> None:
    from icechunk._asset_manager import AssetManager, AssetSettings
    from icechunk._exceptions import ChecksumMismatchError
    from icechunk._format._payloads import NativeChunk, chunk_checksum
    from icechunk.storage._memory import MemoryBackend

    backend = MemoryBackend()
    on = AssetManager(backend)
    off = AssetManager(backend, AssetSettings(chunk_checksums=False))
    assert await on.write_chunk(b"a" * 12, b"chunk bytes") == chunk_checksum(b"chunk bytes")
    assert await off.write_chunk(b"b" * 12, b"chunk bytes") is None
    good = NativeChunk(b"a" * 12, 0, 11, chunk_checksum(b"chunk bytes"))
    assert await on.fetch_native_chunk(good) == b"chunk bytes"
    assert await on.fetch_native_chunk(NativeChunk(b"b" * 12, 0, 11)) == b"chunk bytes"
    bad = NativeChunk(b"a" * 12, 0, 11, good.checksum ^ 1)  # type: ignore[operator]
    with pytest.raises(ChecksumMismatchError, match="chunks/"):
        await on.fetch_native_chunk(bad)
    assert await on.fetch_native_chunk(bad, ByteRange(2, 5)) == b"unk"  # partial: unchecked


@pytest.mark.parametrize("kind", ["snapshots", "manifests", "transactions"])
def test_truncated_metadata_object_is_a_typed_error(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "repo"
    ids = sweep_module.build_repository(str(path))
    victim = sweep_module.chosen_files(path, ids)[kind]
    victim.write_bytes(victim.read_bytes()[:-20])
    with pytest.raises(ObjectTruncatedError, match=f"{victim.name} is truncated.*restore"):
        sweep_module.read_everything(path, ids)
    victim.write_bytes(b"")
    with pytest.raises(icechunk.IcechunkError, match=f"{victim.name}.*header"):
        sweep_module.read_everything(path, ids)


def test_newer_spec_version_is_not_reported_as_damage(tmp_path: Path) -> None:
    from icechunk._exceptions import UnsupportedSpecVersionError

    path = tmp_path / "repo"
    ids = sweep_module.build_repository(str(path))
    victim = sweep_module.chosen_files(path, ids)["snapshots"]
    data = bytearray(victim.read_bytes())
    data[36] = 2  # the spec version byte
    victim.write_bytes(bytes(data))
    with pytest.raises(UnsupportedSpecVersionError, match="spec version 2") as info:
        sweep_module.read_everything(path, ids)
    assert "damaged" not in str(info.value)

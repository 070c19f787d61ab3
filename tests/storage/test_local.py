"""The storage conformance suite against the local filesystem backend, plus its own guarantees:
atomic writes that survive a killed writer, conditional writes across processes, and keys that
can never leave the root directory."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import time
from datetime import timedelta
from pathlib import Path

import pytest

from icechunk._exceptions import InvalidKeyError, PreconditionFailedError
from icechunk.storage._backend import PutMode, StorageBackend
from icechunk.storage._local import LocalFilesystemBackend

from .conformance import StorageBackendTests, collect

PROCESSES = 8


class TestLocalFilesystemBackend(StorageBackendTests):
    @pytest.fixture
    def backend(self, tmp_path: Path) -> StorageBackend:
        return LocalFilesystemBackend(tmp_path / "repo")


# --- keys stay inside the root -------------------------------------------------------------


@pytest.mark.parametrize(
    "key", ["../outside", "a/../../outside", "/etc/passwd", "a\\..\\..\\outside", "..", "a/..//b"]
)
async def test_keys_cannot_escape_root(tmp_path: Path, key: str) -> None:
    root = tmp_path / "repo"
    backend = LocalFilesystemBackend(root)
    with pytest.raises(InvalidKeyError):
        await backend.put(key, b"x")
    with pytest.raises(InvalidKeyError):
        await backend.get(key)
    with pytest.raises(InvalidKeyError):
        await backend.delete([key])
    assert sorted(p.name for p in tmp_path.iterdir()) == []


async def test_relative_root_is_made_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    backend = LocalFilesystemBackend("rel")
    assert backend.root == tmp_path / "rel"
    await backend.put("k", b"v")
    assert (tmp_path / "rel" / "k").read_bytes() == b"v"


async def test_objects_are_plain_files(tmp_path: Path) -> None:
    backend = LocalFilesystemBackend(tmp_path)
    await backend.put("refs/branch.main/ref.json", b'{"snapshot":"X"}')
    assert (tmp_path / "refs" / "branch.main" / "ref.json").read_bytes() == b'{"snapshot":"X"}'
    (tmp_path / "chunks").mkdir()
    (tmp_path / "chunks" / "external").write_bytes(b"written by someone else")
    assert await backend.get("chunks/external") == b"written by someone else"


async def test_missing_root(tmp_path: Path) -> None:
    backend = LocalFilesystemBackend(tmp_path / "does" / "not" / "exist")
    assert await collect(backend) == {}
    assert not await backend.exists("k")
    await backend.delete(["k"])
    await backend.put("k", b"v", mode=PutMode.CREATE)
    assert await backend.get("k") == b"v"


async def test_directory_is_not_an_object(tmp_path: Path) -> None:
    backend = LocalFilesystemBackend(tmp_path)
    await backend.put("d/child", b"v")
    with pytest.raises(KeyError):
        await backend.get("d")
    await backend.delete(["d"])  # ignored like a missing key
    assert await backend.get("d/child") == b"v"


# --- bookkeeping files stay hidden ---------------------------------------------------------


def _all_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


async def test_no_temporary_files_left(tmp_path: Path) -> None:
    backend = LocalFilesystemBackend(tmp_path)
    version = await backend.put("a/b", b"1")
    await backend.put("a/b", b"2", if_match=version)
    await backend.put("a/c", b"3", mode=PutMode.CREATE)
    with pytest.raises(PreconditionFailedError):
        await backend.put("a/c", b"4", mode=PutMode.CREATE)
    with pytest.raises(PreconditionFailedError):
        await backend.put("a/b", b"5", if_match=version)
    await backend.put("big", os.urandom(3 * 1024 * 1024))
    assert _all_files(tmp_path) == ["a/.icechunk-lock-b", "a/b", "a/c", "big"]
    assert set(await collect(backend)) == {"a/b", "a/c", "big"}


async def test_leftover_temporary_files_are_hidden_and_removable(tmp_path: Path) -> None:
    backend = LocalFilesystemBackend(tmp_path)
    await backend.put("chunks/real", b"v")
    stale = tmp_path / "chunks" / ".icechunk-tmp-deadbeef"
    stale.write_bytes(b"partial")
    old = time.time() - 7200
    os.utime(stale, (old, old))
    fresh = tmp_path / ".icechunk-tmp-fresh"
    fresh.write_bytes(b"in progress")
    assert set(await collect(backend)) == {"chunks/real"}
    assert await backend.remove_stale_temporary_files(timedelta(hours=1)) == 1
    assert not stale.exists() and fresh.exists()


async def test_versions_survive_inode_reuse(tmp_path: Path) -> None:
    """Rapid same-size rewrites reuse inodes; the version must still change every time."""
    backend = LocalFilesystemBackend(tmp_path)
    first = await backend.put("k", b"A")
    seen = {first}
    for _ in range(200):
        version = await backend.put("k", b"A", if_match=(await backend.get_versioned("k")).version)
        assert version not in seen
        seen.add(version)
    with pytest.raises(PreconditionFailedError):
        await backend.put("k", b"A", if_match=first)


# --- across processes ----------------------------------------------------------------------


def _cas_increment_worker(root: str, increments: int, start: object) -> int:
    """Increment the counter object ``increments`` times with read + compare-and-swap."""

    async def run() -> int:
        backend = LocalFilesystemBackend(root)
        conflicts = 0
        for _ in range(increments):
            while True:
                current = await backend.get_versioned("counter")
                new = str(int(current.data) + 1).encode()
                try:
                    await backend.put("counter", new, if_match=current.version)
                    break
                except PreconditionFailedError:
                    conflicts += 1
        return conflicts

    start.wait()  # type: ignore[attr-defined]
    return asyncio.run(run())


def _create_worker(root: str, index: int, start: object) -> bool:
    async def run() -> bool:
        backend = LocalFilesystemBackend(root)
        try:
            await backend.put("refs/tag.v1/ref.json", f"{index}".encode(), mode=PutMode.CREATE)
        except PreconditionFailedError:
            return False
        return True

    start.wait()  # type: ignore[attr-defined]
    return asyncio.run(run())


@pytest.fixture(scope="module")
def spawn_pool():  # type: ignore[no-untyped-def]
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, context.Pool(PROCESSES) as pool:
        yield manager, pool


def test_processes_cas_counter(tmp_path: Path, spawn_pool) -> None:  # type: ignore[no-untyped-def]
    manager, pool = spawn_pool
    increments = 25
    asyncio.run(LocalFilesystemBackend(tmp_path).put("counter", b"0"))
    start = manager.Barrier(PROCESSES)
    results = pool.starmap(_cas_increment_worker, [(str(tmp_path), increments, start)] * PROCESSES)
    assert len(results) == PROCESSES
    print("compare-and-swap conflicts per process:", results)
    final = asyncio.run(LocalFilesystemBackend(tmp_path).get("counter"))
    assert final == str(PROCESSES * increments).encode()


def test_processes_race_create(tmp_path: Path, spawn_pool) -> None:  # type: ignore[no-untyped-def]
    manager, pool = spawn_pool
    for attempt in range(3):
        root = tmp_path / f"round{attempt}"
        start = manager.Barrier(PROCESSES)
        results = pool.starmap(_create_worker, [(str(root), i, start) for i in range(PROCESSES)])
        assert results.count(True) == 1, results
        winner = results.index(True)
        stored = asyncio.run(LocalFilesystemBackend(root).get("refs/tag.v1/ref.json"))
        assert stored == f"{winner}".encode()


# --- a writer killed mid-write -------------------------------------------------------------

_BIG = 8 * 1024 * 1024


def _pattern(index: int) -> bytes:
    return bytes([index % 251]) * _BIG


def _endless_writer(root: str, ready: object) -> None:
    async def run() -> None:
        backend = LocalFilesystemBackend(root, fsync=False)
        index = 0
        while True:
            await backend.put(f"chunks/c{index % 16}", _pattern(index))
            if index == 2:
                ready.set()  # type: ignore[attr-defined]
            index += 1

    asyncio.run(run())


def _kill_writer_after(root: Path, delay: float) -> None:
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    process = context.Process(target=_endless_writer, args=(str(root), ready))
    process.start()
    try:
        assert ready.wait(60), "writer never started"
        time.sleep(delay)
    finally:
        os.kill(process.pid, signal.SIGKILL)  # type: ignore[arg-type]
        process.join()
    assert process.exitcode == -signal.SIGKILL


def test_killed_writer_leaves_no_partial_object(tmp_path: Path) -> None:
    """SIGKILL a process that writes 8 MiB objects non-stop: every object under its final name is
    whole. At least one kill must land mid-write (a temporary file is left behind), or the test
    proved nothing."""
    killed_mid_write = 0
    for round_index, delay in enumerate([0.0, 0.05, 0.13, 0.31, 0.02, 0.21]):
        root = tmp_path / f"round{round_index}"
        _kill_writer_after(root, delay)
        backend = LocalFilesystemBackend(root)
        listed = asyncio.run(collect(backend))
        assert listed, "nothing was written"
        for key, info in listed.items():
            assert info.size == _BIG, key
            data = asyncio.run(backend.get(key))
            assert data == bytes([data[0]]) * _BIG, f"{key} is torn"
        leftovers = [p for p in root.rglob(".icechunk-tmp-*")]
        killed_mid_write += bool(leftovers)
        for path in root.rglob("*"):
            if path.is_file() and path not in leftovers:
                assert path.stat().st_size == _BIG, path
        if killed_mid_write >= 2:
            break
    assert killed_mid_write, "no kill landed in the middle of a write"


async def test_lock_files_sit_next_to_their_key_and_go_with_it(tmp_path: Path) -> None:
    backend = LocalFilesystemBackend(tmp_path)
    ref = "refs/branch.dev/ref.json"
    version = await backend.put(ref, b"1", mode=PutMode.CREATE)
    await backend.put(ref, b"2", if_match=version)
    assert (tmp_path / "refs/branch.dev/.icechunk-lock-ref.json").is_file()
    config = await backend.put("config.yaml", b"a")
    await backend.put("config.yaml", b"b", if_match=config)
    assert (tmp_path / "refs/branch.main/.icechunk-lock-config.yaml").is_file()
    assert sorted(os.listdir(tmp_path)) == ["config.yaml", "refs"]  # no lock folder on top
    await backend.delete([ref])
    assert os.listdir(tmp_path / "refs/branch.dev") == []  # the lock went with the key
    with pytest.raises(PreconditionFailedError):
        await backend.put(ref, b"3", if_match=version)
    assert os.listdir(tmp_path / "refs/branch.dev") == []


def test_repository_top_level_holds_only_spec_entries(tmp_path: Path) -> None:
    """Upstream Icechunk lists the folders under refs/ as refs: a deleted branch must leave none."""
    import zarr

    import icechunk

    root = tmp_path / "repo"
    repo = icechunk.Repository.create(icechunk.local_filesystem_storage(str(root)))
    for branch in ("main", "dev"):
        if branch != "main":
            repo.create_branch(branch, repo.lookup_branch("main"))
        session = repo.writable_session(branch)
        zarr.create_array(session.store, name=branch, shape=(2,), dtype="i4")[:] = 1
        session.commit(branch)
    repo.save_config()
    repo.delete_branch("dev")
    spec = {"config.yaml", "refs", "snapshots", "manifests", "chunks", "transactions"}
    assert set(os.listdir(root)) <= spec
    files = [p for p in (root / "refs").rglob("*") if p.is_file()]
    assert {p.relative_to(root / "refs").parts[0] for p in files} == {"branch.main"}
    reopened = icechunk.Repository.open(icechunk.local_filesystem_storage(str(root)))
    assert reopened.list_branches() == {"main"}

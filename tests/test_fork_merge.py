"""Fork sessions: pickling, writes in other processes, merging back."""

from __future__ import annotations

import multiprocessing as mp
import pickle
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import cloudpickle
import numpy as np
import pytest
import zarr

import icechunk
from icechunk._exceptions import ChunkWriteConflictError, ForkCommitError, ForkSessionError
from icechunk.distributed import merge_sessions

SHAPE = (64, 64)
CHUNKS = (16, 16)


def _init_repo(path: Path) -> icechunk.Repository:
    repo = icechunk.Repository.create(icechunk.local_filesystem_storage(str(path)))
    session = repo.writable_session("main")
    zarr.group(session.store).create_array("x", shape=SHAPE, chunks=CHUNKS, dtype="f8")
    session.commit("init")
    return repo


def _write_block(fork: icechunk.ForkSession, i: int, j: int) -> icechunk.ForkSession:
    arr = zarr.open_array(fork.store, path="x")
    block = np.full(CHUNKS, float(i * 10 + j))
    arr[i * 16 : (i + 1) * 16, j * 16 : (j + 1) * 16] = block
    return fork


def _expected() -> np.ndarray:
    out = np.zeros(SHAPE)
    for i in range(4):
        for j in range(4):
            out[i * 16 : (i + 1) * 16, j * 16 : (j + 1) * 16] = i * 10 + j
    return out


def test_sixteen_forks_in_spawned_processes(tmp_path: Path) -> None:
    repo = _init_repo(tmp_path / "repo")
    session = repo.writable_session("main")
    fork = session.fork()
    ctx = mp.get_context("spawn")
    with ProcessPoolExecutor(4, mp_context=ctx) as pool:
        futures = [pool.submit(_write_block, fork, i, j) for i in range(4) for j in range(4)]
        forks = [f.result(timeout=120) for f in futures]
    assert all(isinstance(f, icechunk.ForkSession) for f in forks)
    session.merge(*forks)
    assert session.status().updated_chunks == {"/x": [[i, j] for i in range(4) for j in range(4)]}
    session.commit("16 forks")
    arr = zarr.open_array(repo.readonly_session(branch="main").store, path="x")
    np.testing.assert_array_equal(arr[:], _expected())


def test_merge_order_does_not_matter_for_disjoint_chunks(tmp_path: Path) -> None:
    repo = _init_repo(tmp_path / "repo")
    results = []
    for order in (list(range(16)), list(reversed(range(16)))):
        session = repo.writable_session("main")
        fork = session.fork()
        forks = [pickle.loads(pickle.dumps(_write_block(pickle.loads(pickle.dumps(fork)), k // 4, k % 4))) for k in range(16)]
        session.merge(*[forks[k] for k in order])
        results.append(session.status())
    assert results[0] == results[1]


def test_same_chunk_with_different_bytes_in_two_forks_is_an_error(tmp_path: Path) -> None:
    """Two writers of one chunk: merging both would silently keep only one of the writes."""
    repo = _init_repo(tmp_path / "repo")
    session = repo.writable_session("main")
    base = session.fork()
    first = pickle.loads(pickle.dumps(base))
    second = pickle.loads(pickle.dumps(base))
    third = pickle.loads(pickle.dumps(base))
    zarr.open_array(first.store, path="x")[0:8, 0:16] = 1.0  # top half of chunk (0, 0)
    zarr.open_array(second.store, path="x")[8:16, 0:16] = 2.0  # bottom half of chunk (0, 0)
    zarr.open_array(third.store, path="x")[16:32, 0:16] = 3.0  # chunk (1, 0): its own
    session.merge(first, third)
    with pytest.raises(ChunkWriteConflictError) as info:
        session.merge(second)
    message = str(info.value)
    assert "'/x'" in message and "(0, 0)" in message and "chunk boundaries" in message
    assert "(16, 16)" in message  # the chunk shape to align to
    assert isinstance(info.value, ForkSessionError) and isinstance(info.value, ValueError)
    # nothing of the failed fork was merged; the others commit as they were
    session.commit("first and third")
    arr = zarr.open_array(repo.readonly_session(branch="main").store, path="x")[:]
    np.testing.assert_array_equal(arr[0:8, 0:16], 1.0)
    np.testing.assert_array_equal(arr[8:16, 0:16], 0.0)
    np.testing.assert_array_equal(arr[16:32, 0:16], 3.0)


def test_fork_and_session_writing_one_chunk_is_an_error(tmp_path: Path) -> None:
    repo = _init_repo(tmp_path / "repo")
    session = repo.writable_session("main")
    fork = pickle.loads(pickle.dumps(session.fork()))
    zarr.open_array(session.store, path="x")[0, 0] = 5.0
    zarr.open_array(fork.store, path="x")[1, 1] = 6.0
    with pytest.raises(ChunkWriteConflictError, match="chunk \\(0, 0\\)"):
        session.merge(fork)


def test_forks_merged_in_a_tree_detect_the_collision(tmp_path: Path) -> None:
    repo = _init_repo(tmp_path / "repo")
    session = repo.writable_session("main")
    base = session.fork()
    a, b = (pickle.loads(pickle.dumps(base)) for _ in range(2))
    zarr.open_array(a.store, path="x")[0, 0] = 1.0
    zarr.open_array(b.store, path="x")[0, 1] = 2.0
    with pytest.raises(ChunkWriteConflictError):
        merge_sessions(a, b)


@pytest.mark.parametrize("inline", [True, False], ids=["inline", "chunk-object"])
def test_identical_writes_of_one_chunk_are_not_a_conflict(tmp_path: Path, inline: bool) -> None:
    repo = _init_repo(tmp_path / "repo")
    config = icechunk.RepositoryConfig.default()
    config.inline_chunk_threshold_bytes = 4096 if inline else 0  # a chunk is 2048 bytes
    repo = icechunk.Repository.open(repo.storage, config=config)
    session = repo.writable_session("main")
    base = session.fork()
    first, second = (pickle.loads(pickle.dumps(base)) for _ in range(2))
    block = np.arange(256, dtype="f8").reshape(16, 16)
    for fork in (first, second):
        zarr.open_array(fork.store, path="x")[0:16, 0:16] = block
    session.merge(first, second)
    session.commit("same bytes twice")
    arr = zarr.open_array(repo.readonly_session(branch="main").store, path="x")
    np.testing.assert_array_equal(arr[0:16, 0:16], block)


def test_conflicting_metadata_in_forks_is_an_error(tmp_path: Path) -> None:
    repo = _init_repo(tmp_path / "repo")
    session = repo.writable_session("main")
    fork = session.fork()
    a = pickle.loads(pickle.dumps(fork))
    b = pickle.loads(pickle.dumps(fork))
    zarr.open_array(a.store, path="x").attrs["units"] = "K"
    zarr.open_array(b.store, path="x").attrs["units"] = "C"
    with pytest.raises(ForkSessionError, match="changed differently"):
        session.merge(a, b)
    # the session is untouched by the failed merge of b (a was merged)
    session.merge()


def test_fork_rules(tmp_path: Path) -> None:
    repo = _init_repo(tmp_path / "repo")
    session = repo.writable_session("main")
    zarr.open_array(session.store, path="x")[0, 0] = 1.0
    with pytest.raises(ForkSessionError, match="uncommitted changes"):
        session.fork()
    with pytest.raises(ForkSessionError, match="read-only"):
        repo.readonly_session(branch="main").fork()
    fresh = repo.writable_session("main")
    fork = fresh.fork()
    with pytest.raises(ForkCommitError, match="merge"):
        fork.commit("no")
    assert isinstance(ForkCommitError("x"), TypeError)
    with pytest.raises(TypeError):
        fresh.merge(repo.writable_session("main"))  # type: ignore[arg-type]


def test_fork_pickles_with_cloudpickle_and_keeps_changes(tmp_path: Path) -> None:
    repo = _init_repo(tmp_path / "repo")
    fork = repo.writable_session("main").fork()
    _write_block(fork, 1, 2)
    clone = cloudpickle.loads(cloudpickle.dumps(fork))
    assert clone.has_uncommitted_changes
    arr = zarr.open_array(clone.store, path="x")
    assert float(arr[16, 32]) == 12.0


def test_commit_after_fork_without_merge_warns(tmp_path: Path) -> None:
    repo = _init_repo(tmp_path / "repo")
    session = repo.writable_session("main")
    session.fork()
    zarr.open_array(session.store, path="x")[0, 0] = 3.0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        session.commit("forgot to merge")
    assert any("merge" in str(w.message) for w in caught)


def test_merge_forks_based_on_other_snapshot_fails(tmp_path: Path) -> None:
    repo = _init_repo(tmp_path / "repo")
    old_fork = repo.writable_session("main").fork()
    _write_block(old_fork, 0, 0)
    other = repo.writable_session("main")
    zarr.open_array(other.store, path="x")[0, 0] = 5.0
    other.commit("moves main")
    newer = repo.writable_session("main")
    with pytest.raises(ForkSessionError, match="forks must come from this session"):
        newer.merge(old_fork)

"""Commits racing from several processes on one local-disk repository."""

from __future__ import annotations

import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import zarr

import icechunk

N_PROCESSES = 8
ROUNDS = 4


def _attempt_commit(path: str, round_no: int, worker: int, barrier: object) -> str | None:
    repo = icechunk.Repository.open(icechunk.local_filesystem_storage(path))
    session = repo.writable_session("main")
    root = zarr.open_group(session.store, mode="a")
    arr = root.create_array(f"r{round_no}_w{worker}", shape=(8,), chunks=(4,), dtype="i8")
    arr[:] = np.full(8, round_no * 100 + worker)
    barrier.wait()  # type: ignore[attr-defined]
    try:
        return session.commit(f"round {round_no} worker {worker}")
    except icechunk.ConflictError:
        return None


def test_one_winner_per_round_across_processes(tmp_path: Path) -> None:
    path = str(tmp_path / "repo")
    repo = icechunk.Repository.create(icechunk.local_filesystem_storage(path))
    ctx = mp.get_context("spawn")
    winners: list[tuple[int, int, str]] = []
    with ctx.Manager() as manager, ProcessPoolExecutor(N_PROCESSES, mp_context=ctx) as pool:
        for round_no in range(ROUNDS):
            barrier = manager.Barrier(N_PROCESSES)
            futures = [
                pool.submit(_attempt_commit, path, round_no, w, barrier)
                for w in range(N_PROCESSES)
            ]
            results = [f.result(timeout=120) for f in futures]
            won = [(w, sid) for w, sid in enumerate(results) if sid is not None]
            assert len(won) == 1, f"round {round_no}: {len(won)} winners"
            winners.append((round_no, won[0][0], won[0][1]))

    history = list(repo.ancestry(branch="main"))
    assert len(history) == ROUNDS + 1
    assert [h.id for h in history[:-1]] == [sid for _, _, sid in reversed(winners)]
    root = zarr.open_group(repo.readonly_session(branch="main").store, mode="r")
    assert sorted(root.array_keys()) == sorted(f"r{r}_w{w}" for r, w, _ in winners)
    for r, w, _ in winners:
        np.testing.assert_array_equal(root[f"r{r}_w{w}"][:], r * 100 + w)

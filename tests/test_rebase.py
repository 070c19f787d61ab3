"""Conflict detection, solvers and rebase."""

from __future__ import annotations

import numpy as np
import pytest
import zarr

import icechunk
from icechunk import (
    BasicConflictSolver,
    ConflictDetector,
    ConflictType,
    RebaseFailedError,
    VersionSelection,
)


@pytest.fixture
def base_repo(repo: icechunk.Repository) -> icechunk.Repository:
    session = repo.writable_session("main")
    root = zarr.group(session.store)
    root.create_array("a", shape=(8,), chunks=(2,), dtype="i4", fill_value=0)[:] = 1
    root.create_array("b", shape=(8,), chunks=(2,), dtype="i4", fill_value=0)[:] = 1
    root.create_group("g")
    session.commit("base")
    return repo


def _array(session: icechunk.Session, name: str) -> zarr.Array:
    return zarr.open_array(session.store, path=name)


def _read(repo: icechunk.Repository, name: str) -> np.ndarray:
    return _array(repo.readonly_session(branch="main"), name)[:]


def test_disjoint_chunks_rebase_cleanly(base_repo: icechunk.Repository) -> None:
    ours = base_repo.writable_session("main")
    theirs = base_repo.writable_session("main")
    _array(theirs, "a")[0:2] = 5
    _array(ours, "a")[2:4] = 7
    _array(ours, "b")[:] = 9
    theirs.commit("theirs")
    with pytest.raises(icechunk.ConflictError):
        ours.commit("ours")
    ours.rebase(ConflictDetector())
    ours.commit("ours rebased")
    np.testing.assert_array_equal(_read(base_repo, "a"), [5, 5, 7, 7, 1, 1, 1, 1])
    np.testing.assert_array_equal(_read(base_repo, "b"), [9] * 8)
    assert [h.message for h in base_repo.ancestry(branch="main")][:3] == [
        "ours rebased",
        "theirs",
        "base",
    ]


def test_commit_with_rebase_with_retries(base_repo: icechunk.Repository) -> None:
    ours = base_repo.writable_session("main")
    for i in range(3):
        other = base_repo.writable_session("main")
        _array(other, "b")[i * 2 : i * 2 + 2] = 10 + i
        other.commit(f"other {i}")
    _array(ours, "a")[:] = 3
    ours.commit("ours", rebase_with=ConflictDetector())
    np.testing.assert_array_equal(_read(base_repo, "a"), [3] * 8)
    np.testing.assert_array_equal(_read(base_repo, "b"), [10, 10, 11, 11, 12, 12, 1, 1])


def test_same_chunk_conflict_detected(base_repo: icechunk.Repository) -> None:
    ours = base_repo.writable_session("main")
    theirs = base_repo.writable_session("main")
    _array(theirs, "a")[0] = 5
    _array(ours, "a")[1] = 7
    theirs.commit("theirs")
    with pytest.raises(RebaseFailedError) as info:
        ours.rebase(ConflictDetector())
    [conflict] = info.value.conflicts
    assert conflict.conflict_type == ConflictType.ChunkDoubleUpdate
    assert conflict.path == "/a"
    assert conflict.conflicted_chunks == [[0]]
    assert isinstance(info.value, icechunk.IcechunkError)


@pytest.mark.parametrize(
    ("selection", "expected"),
    [(VersionSelection.UseOurs, [5, 7]), (VersionSelection.UseTheirs, [5, 5])],
)
def test_basic_solver_chunk_selection(
    base_repo: icechunk.Repository, selection: VersionSelection, expected: list[int]
) -> None:
    ours = base_repo.writable_session("main")
    theirs = base_repo.writable_session("main")
    _array(theirs, "a")[0:2] = 5
    _array(ours, "a")[0:2] = [5, 7]
    _array(ours, "b")[0] = 4
    theirs.commit("theirs")
    ours.commit("ours", rebase_with=BasicConflictSolver(on_chunk_conflict=selection))
    assert _read(base_repo, "b")[0] == 4
    np.testing.assert_array_equal(_read(base_repo, "a")[:2], expected)


def test_basic_solver_fail_selection(base_repo: icechunk.Repository) -> None:
    ours = base_repo.writable_session("main")
    theirs = base_repo.writable_session("main")
    _array(theirs, "a")[0] = 5
    _array(ours, "a")[0] = 6
    theirs.commit("theirs")
    with pytest.raises(RebaseFailedError):
        ours.commit("ours", rebase_with=BasicConflictSolver(on_chunk_conflict=VersionSelection.Fail))


def test_metadata_double_update(base_repo: icechunk.Repository) -> None:
    ours = base_repo.writable_session("main")
    theirs = base_repo.writable_session("main")
    _array(theirs, "a").attrs["x"] = 1
    _array(ours, "a").attrs["x"] = 2
    theirs.commit("theirs")
    with pytest.raises(RebaseFailedError) as info:
        ours.rebase(BasicConflictSolver())
    assert [c.conflict_type for c in info.value.conflicts] == [ConflictType.ZarrMetadataDoubleUpdate]


def test_delete_of_updated_array(base_repo: icechunk.Repository) -> None:
    ours = base_repo.writable_session("main")
    theirs = base_repo.writable_session("main")
    _array(theirs, "a")[0] = 5
    del zarr.open_group(ours.store)["a"]
    theirs.commit("theirs")
    with pytest.raises(RebaseFailedError) as info:
        ours.rebase(ConflictDetector())
    assert info.value.conflicts[0].conflict_type == ConflictType.DeleteOfUpdatedArray
    with pytest.raises(RebaseFailedError):
        ours.rebase(BasicConflictSolver(fail_on_delete_of_updated_array=True))
    ours.rebase(BasicConflictSolver())
    ours.commit("delete wins")
    assert "a" not in zarr.open_group(base_repo.readonly_session(branch="main").store, mode="r")


def test_chunks_written_to_array_they_deleted(base_repo: icechunk.Repository) -> None:
    ours = base_repo.writable_session("main")
    theirs = base_repo.writable_session("main")
    del zarr.open_group(theirs.store)["a"]
    _array(ours, "a")[0] = 1
    theirs.commit("theirs")
    with pytest.raises(RebaseFailedError) as info:
        ours.rebase(BasicConflictSolver())
    assert info.value.conflicts[0].conflict_type == ConflictType.ChunksUpdatedInDeletedArray


def test_chunks_written_to_array_they_resized(base_repo: icechunk.Repository) -> None:
    ours = base_repo.writable_session("main")
    theirs = base_repo.writable_session("main")
    _array(theirs, "a").resize((4,))
    _array(ours, "a")[0] = 1
    theirs.commit("theirs")
    with pytest.raises(RebaseFailedError) as info:
        ours.rebase(ConflictDetector())
    assert info.value.conflicts[0].conflict_type == ConflictType.ChunksUpdatedInUpdatedArray


def test_new_node_at_same_path(base_repo: icechunk.Repository) -> None:
    ours = base_repo.writable_session("main")
    theirs = base_repo.writable_session("main")
    zarr.open_group(theirs.store).create_group("new")
    zarr.open_group(ours.store).create_array("new", shape=(1,), dtype="i4")
    theirs.commit("theirs")
    with pytest.raises(RebaseFailedError) as info:
        ours.rebase(ConflictDetector())
    assert info.value.conflicts[0].conflict_type == ConflictType.NewNodeConflictsWithExistingNode
    assert info.value.conflicts[0].path == "/new"


def test_new_node_in_group_they_deleted(base_repo: icechunk.Repository) -> None:
    ours = base_repo.writable_session("main")
    theirs = base_repo.writable_session("main")
    del zarr.open_group(theirs.store)["g"]
    zarr.open_group(ours.store)["g"].create_array("child", shape=(1,), dtype="i4")
    theirs.commit("theirs")
    with pytest.raises(RebaseFailedError) as info:
        ours.rebase(ConflictDetector())
    assert info.value.conflicts[0].conflict_type == ConflictType.NewNodeInInvalidGroup


def test_different_new_arrays_rebase(base_repo: icechunk.Repository) -> None:
    ours = base_repo.writable_session("main")
    theirs = base_repo.writable_session("main")
    zarr.open_group(theirs.store).create_array("t", shape=(2,), dtype="i4")[:] = 1
    zarr.open_group(ours.store).create_array("o", shape=(2,), dtype="i4")[:] = 2
    theirs.commit("theirs")
    ours.commit("ours", rebase_with=ConflictDetector())
    root = zarr.open_group(base_repo.readonly_session(branch="main").store, mode="r")
    assert {"a", "b", "o", "t"} <= set(root.array_keys())
    np.testing.assert_array_equal(root["o"][:], 2)
    np.testing.assert_array_equal(root["t"][:], 1)


def test_one_conflict_per_conflicting_thing(base_repo: icechunk.Repository) -> None:
    """Metadata and the same chunks changed on both sides: three conflicts, as upstream."""
    ours = base_repo.writable_session("main")
    theirs = base_repo.writable_session("main")
    for session, value in ((theirs, 1), (ours, 2)):
        array = _array(session, "a")
        array[:] = value
        array.attrs["by"] = value
    theirs.commit("theirs")
    with pytest.raises(RebaseFailedError) as info:
        ours.rebase(ConflictDetector())
    conflicts = info.value.conflicts
    assert [c.conflict_type for c in conflicts] == [
        ConflictType.ZarrMetadataDoubleUpdate,
        ConflictType.ChunksUpdatedInUpdatedArray,
        ConflictType.ChunkDoubleUpdate,
    ]
    assert {c.path for c in conflicts} == {"/a"}
    assert conflicts[2].conflicted_chunks == [[0], [1], [2], [3]]

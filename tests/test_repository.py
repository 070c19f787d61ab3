"""Repository lifecycle, refs, history and diffs through the public API."""

from __future__ import annotations

import datetime as dt
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import zarr

import icechunk
from icechunk._exceptions import (
    BadSnapshotChainError,
    BranchAlreadyExistsError,
    BranchMovedError,
    BranchNotFoundError,
    InvalidObjectIdError,
    LocationNotEmptyError,
    ProtectedBranchError,
    RepositoryAlreadyExistsError,
    RepositoryNotFoundError,
    SnapshotNotFoundError,
    TagAlreadyExistsError,
    TagNotFoundError,
)

INITIAL = "1CECHNKREP0F1RSTCMT0"


def _commit_array(repo: icechunk.Repository, branch: str, value: float, message: str) -> str:
    session = repo.writable_session(branch)
    root = zarr.open_group(session.store, mode="a")
    if "a" not in root:
        root.create_array("a", shape=(4,), chunks=(2,), dtype="f8")
    root["a"][:] = value
    return session.commit(message)


def test_create_refuses_existing_repository(storage: icechunk.Storage) -> None:
    icechunk.Repository.create(storage)
    with pytest.raises(RepositoryAlreadyExistsError, match="already exists"):
        icechunk.Repository.create(storage)


def test_create_refuses_a_folder_holding_other_files(tmp_path: Path) -> None:
    """A user's folder of data is not a place for a repository: GC would own it."""
    folder = tmp_path / "my-data"
    (folder / "chunks").mkdir(parents=True)
    (folder / "chunks" / "notes.txt").write_text("precious")
    (folder / "model.nc").write_bytes(b"netcdf")
    storage = icechunk.local_filesystem_storage(str(folder))
    for create in (icechunk.Repository.create, icechunk.Repository.open_or_create):
        with pytest.raises(LocationNotEmptyError, match="not empty") as info:
            create(storage)
        assert "empty folder" in str(info.value)
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")) == [
        "chunks", "chunks/notes.txt", "model.nc"
    ]
    assert not icechunk.Repository.exists(storage)
    # an existing but empty folder is fine
    (tmp_path / "empty").mkdir()
    icechunk.Repository.create(icechunk.local_filesystem_storage(str(tmp_path / "empty")))


def test_open_missing_repository_is_a_clear_error(tmp_path: Path) -> None:
    storage = icechunk.local_filesystem_storage(str(tmp_path / "nothing"))
    assert not icechunk.Repository.exists(storage)
    with pytest.raises(RepositoryNotFoundError, match="no Icechunk repository"):
        icechunk.Repository.open(storage)


def test_open_or_create_and_exists(storage: icechunk.Storage) -> None:
    assert not icechunk.Repository.exists(storage)
    repo = icechunk.Repository.open_or_create(storage)
    assert icechunk.Repository.exists(storage)
    sid = _commit_array(repo, "main", 1.0, "one")
    again = icechunk.Repository.open_or_create(storage)
    assert again.lookup_branch("main") == sid


def test_new_repository_has_initial_snapshot_on_main(repo: icechunk.Repository) -> None:
    assert repo.list_branches() == {"main"}
    assert repo.list_tags() == set()
    assert repo.lookup_branch("main") == INITIAL
    [info] = list(repo.ancestry(branch="main"))
    assert info.id == INITIAL
    assert info.parent_id is None
    assert info.message == "Repository initialized"
    assert info.written_at.tzinfo is not None


def test_ancestry_messages_metadata_and_parents(repo: icechunk.Repository) -> None:
    ids = []
    for i in range(3):
        session = repo.writable_session("main")
        root = zarr.open_group(session.store, mode="a")
        root.attrs["i"] = i
        ids.append(session.commit(f"commit {i}", metadata={"i": i, "nested": {"x": [1, 2.5]}}))
    history = list(repo.ancestry(branch="main"))
    assert [h.id for h in history] == [*reversed(ids), INITIAL]
    assert [h.message for h in history[:3]] == ["commit 2", "commit 1", "commit 0"]
    assert history[0].metadata == {"i": 2, "nested": {"x": [1, 2.5]}}
    assert [h.parent_id for h in history] == [ids[1], ids[0], INITIAL, None]
    assert history[0].written_at >= history[1].written_at
    assert [h.id for h in repo.ancestry(snapshot_id=ids[1])] == [ids[1], ids[0], INITIAL]
    assert repo.lookup_snapshot(ids[0]).message == "commit 0"


def test_branches(repo: icechunk.Repository) -> None:
    first = _commit_array(repo, "main", 1.0, "one")
    repo.create_branch("dev", snapshot_id=first)
    assert repo.list_branches() == {"main", "dev"}
    assert repo.lookup_branch("dev") == first
    dev_commit = _commit_array(repo, "dev", 2.0, "on dev")
    assert repo.lookup_branch("main") == first
    main_data = zarr.open_array(repo.readonly_session(branch="main").store, path="a", mode="r")
    dev_data = zarr.open_array(repo.readonly_session(branch="dev").store, path="a", mode="r")
    np.testing.assert_array_equal(main_data[:], 1.0)
    np.testing.assert_array_equal(dev_data[:], 2.0)
    with pytest.raises(BranchAlreadyExistsError):
        repo.create_branch("dev", snapshot_id=first)
    repo.delete_branch("dev")
    assert repo.list_branches() == {"main"}
    with pytest.raises(BranchNotFoundError):
        repo.lookup_branch("dev")
    assert isinstance(BranchNotFoundError("x"), KeyError)
    with pytest.raises(ProtectedBranchError):
        repo.delete_branch("main")
    # the commit made on the deleted branch is still reachable by id
    assert repo.lookup_snapshot(dev_commit).message == "on dev"


def test_create_branch_on_missing_snapshot_fails(repo: icechunk.Repository) -> None:
    with pytest.raises(SnapshotNotFoundError):
        repo.create_branch("x", snapshot_id="0" * 20)
    with pytest.raises(InvalidObjectIdError):
        repo.create_branch("x", snapshot_id="not-an-id")


def test_reset_branch_with_safety_check(repo: icechunk.Repository) -> None:
    one = _commit_array(repo, "main", 1.0, "one")
    two = _commit_array(repo, "main", 2.0, "two")
    with pytest.raises(BranchMovedError, match="^branch update conflict: .* look it up again"):
        repo.reset_branch("main", one, from_snapshot_id=one)
    assert repo.lookup_branch("main") == two
    repo.reset_branch("main", one, from_snapshot_id=two)
    assert repo.lookup_branch("main") == one
    arr = zarr.open_array(repo.readonly_session(branch="main").store, path="a", mode="r")
    np.testing.assert_array_equal(arr[:], 1.0)
    repo.reset_branch("main", two)
    assert repo.lookup_branch("main") == two


def test_tags_are_immutable_and_never_recreated(repo: icechunk.Repository) -> None:
    one = _commit_array(repo, "main", 1.0, "one")
    two = _commit_array(repo, "main", 2.0, "two")
    repo.create_tag("v1", snapshot_id=one)
    assert repo.lookup_tag("v1") == one
    assert repo.list_tags() == {"v1"}
    with pytest.raises(TagAlreadyExistsError):
        repo.create_tag("v1", snapshot_id=two)
    arr = zarr.open_array(repo.readonly_session(tag="v1").store, path="a", mode="r")
    np.testing.assert_array_equal(arr[:], 1.0)
    repo.delete_tag("v1")
    assert repo.list_tags() == set()
    with pytest.raises(TagNotFoundError, match="^ref not found: tag 'v1' was deleted"):
        repo.lookup_tag("v1")
    with pytest.raises(TagAlreadyExistsError, match="never be re-created"):
        repo.create_tag("v1", snapshot_id=two)
    with pytest.raises(TagNotFoundError, match="^ref not found"):
        repo.delete_tag("never-existed")


def test_dot_names_are_valid_refs(repo: icechunk.Repository) -> None:
    """Upstream only refuses '/' in ref names; '.' and '..' are ordinary names."""
    for name in (".", ".."):
        repo.create_branch(name, INITIAL)
        repo.create_tag(name, INITIAL)
        assert repo.lookup_branch(name) == repo.lookup_tag(name) == INITIAL
    assert repo.list_branches() == {"main", ".", ".."}
    assert repo.list_tags() == {".", ".."}


def test_readonly_session_by_snapshot_and_as_of(repo: icechunk.Repository) -> None:
    one = _commit_array(repo, "main", 1.0, "one")
    mid = dt.datetime.now(dt.UTC)
    _commit_array(repo, "main", 2.0, "two")
    session = repo.readonly_session(snapshot_id=one)
    assert session.read_only and session.snapshot_id == one
    np.testing.assert_array_equal(zarr.open_array(session.store, path="a")[:], 1.0)
    as_of = repo.readonly_session("main", as_of=mid)
    assert as_of.snapshot_id == one


def test_diff_between_versions(repo: icechunk.Repository) -> None:
    session = repo.writable_session("main")
    root = zarr.group(session.store)
    root.create_group("g")
    root.create_array("a", shape=(4,), chunks=(2,), dtype="i4")[:] = 1
    one = session.commit("one")
    session = repo.writable_session("main")
    root = zarr.open_group(session.store)
    root["a"][0] = 5
    root.attrs["x"] = 1
    del root["g"]
    root.create_array("b", shape=(2,), chunks=(2,), dtype="i4")
    two = session.commit("two")
    diff = repo.diff(from_snapshot_id=one, to_snapshot_id=two)
    assert diff.new_arrays == {"/b"}
    assert diff.deleted_groups == {"/g"}
    assert diff.updated_groups == {"/"}
    assert diff.updated_chunks == {"/a": [[0]]}
    full = repo.diff(from_snapshot_id=INITIAL, to_branch="main")
    assert full.new_arrays == {"/a", "/b"}
    assert full.new_groups == {"/"}
    assert repr(diff) == (
        "Arrays created:\n    /b\n\n"
        "Group definitions updated:\n    /\n\n"
        "Groups deleted:\n    /g\n\n"
        "Chunks updated:\n    /a:\n        [0]\n"
    )
    assert str(diff) == repr(diff)


@pytest.mark.parametrize("damage", ["deleted", "ref-edited"])
def test_session_on_a_missing_snapshot_fails_at_open(tmp_path: Path, damage: str) -> None:
    """Not zarr's "No group found" later: a typed error naming the snapshot and the ref."""
    storage = icechunk.local_filesystem_storage(str(tmp_path / "repo"))
    repo = icechunk.Repository.create(storage)
    sid = _commit_array(repo, "main", 1.0, "one")
    repo.create_tag("v1", snapshot_id=sid)
    root = tmp_path / "repo"
    if damage == "deleted":
        (root / "snapshots" / sid).unlink()
        missing = sid
    else:
        missing = "0" * 20
        for ref in ("branch.main", "tag.v1"):
            (root / "refs" / ref / "ref.json").write_text(f'{{"snapshot":"{missing}"}}')
    fresh = icechunk.Repository.open(storage)
    opens = {
        "branch 'main'": lambda: fresh.readonly_session("main"),
        "branch 'main' ": lambda: fresh.writable_session("main"),
        "tag 'v1'": lambda: fresh.readonly_session(tag="v1"),
    }
    for ref, open_session in opens.items():
        with pytest.raises(SnapshotNotFoundError) as info:
            open_session()
        message = str(info.value)
        assert ref.strip() in message and missing in message, message
    with pytest.raises(SnapshotNotFoundError, match=missing):
        fresh.readonly_session(snapshot_id=missing)


def test_diff_in_the_wrong_direction_says_so(repo: icechunk.Repository) -> None:
    one = _commit_array(repo, "main", 1.0, "one")
    two = _commit_array(repo, "main", 2.0, "two")
    repo.create_branch("side", snapshot_id=one)
    side = _commit_array(repo, "side", 3.0, "side")
    for source, target in ((two, one), (side, two), (two, INITIAL)):
        with pytest.raises(BadSnapshotChainError, match="doesn't include") as info:
            repo.diff(from_snapshot_id=source, to_snapshot_id=target)
        message = str(info.value)
        assert source in message and target in message and "swap" in message
        assert "transaction" not in message  # not reported as a damaged repository
    assert repo.diff(from_snapshot_id=two, to_snapshot_id=two).updated_chunks == {}


def test_diff_repr_lists_ten_chunks_per_array() -> None:
    chunks = [[i, j] for i in (1, 0) for j in range(6)]
    diff = icechunk.Diff(updated_chunks={"/x": chunks})
    lines = repr(diff).splitlines()
    assert lines[:4] == ["Chunks updated:", "    /x:", "        [0, 0]", "        [0, 1]"]
    assert lines[-1] == "        ... 2 more"
    assert len(lines) == 2 + 10 + 1
    assert repr(icechunk.Diff()) == ""


def test_status_chunks_are_plain_sorted_lists(repo: icechunk.Repository) -> None:
    """The chunk indices of a status are made into lists when read; they are a real dict."""
    session = repo.writable_session("main")
    arr = zarr.create_array(session.store, name="x", shape=(30, 4), chunks=(1, 1), dtype="i1")
    for i in range(29, -1, -3):  # written from the last row backwards
        arr[i, :2] = 1
    diff = session.status()
    chunks = diff.updated_chunks
    expected = [[i, j] for i in range(2, 30, 3) for j in (0, 1)]
    assert type(chunks) is dict and chunks == {"/x": expected}
    assert all(type(c) is list and all(type(i) is int for i in c) for c in chunks["/x"])
    assert json.loads(json.dumps(chunks)) == chunks
    assert diff.updated_chunks is chunks  # converted once
    again = pickle.loads(pickle.dumps(diff))
    assert again == diff and again.updated_chunks == chunks and again.new_arrays == {"/x"}
    assert diff != icechunk.Diff(new_arrays={"/x"})
    assert session.status() == diff


def test_config_persistence(storage: icechunk.Storage) -> None:
    config = icechunk.RepositoryConfig.default()
    config.inline_chunk_threshold_bytes = 64
    repo = icechunk.Repository.create(storage, config=config)
    fetched = icechunk.Repository.fetch_config(storage)
    assert fetched is not None and fetched.inline_chunk_threshold_bytes == 64
    reopened = icechunk.Repository.open(storage)
    assert reopened.config.inline_chunk_threshold_bytes == 64
    config.inline_chunk_threshold_bytes = 128
    repo.save_config(config)
    assert icechunk.Repository.fetch_config(storage).inline_chunk_threshold_bytes == 128


def test_repository_pickles(repo: icechunk.Repository, storage: icechunk.Storage) -> None:
    import pickle

    sid = _commit_array(repo, "main", 3.0, "x")
    clone = pickle.loads(pickle.dumps(repo))
    assert clone.lookup_branch("main") == sid


def test_create_validates_virtual_chunk_containers(storage: icechunk.Storage) -> None:
    from icechunk._exceptions import ConfigError

    config = icechunk.RepositoryConfig.default()
    config._virtual_chunk_containers = {  # bypasses set_virtual_chunk_container's own check
        "s3://no-trailing-slash": icechunk.VirtualChunkContainer(
            "s3://no-trailing-slash", icechunk.s3_store(region="us-east-1")
        )
    }
    with pytest.raises(ConfigError):
        icechunk.Repository.create(storage, config=config)
    assert not icechunk.Repository.exists(storage)

"""The repository engine (``_core.repository``, ``_core.diff``) driven directly, on a memory
backend: creation, refs with public ids, versions, history, diffs and manifest rewrites."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from _engine import GROUP_JSON, new_repository, with_array

import icechunk
from icechunk._asset_manager import AssetSettings
from icechunk._config.defaults import INLINE_CHUNK_THRESHOLD_BYTES
from icechunk._core.commit import commit
from icechunk._core.repository import EngineSettings, RepositoryCore
from icechunk._core.store import StoreCore
from icechunk._exceptions import (
    BadSnapshotChainError,
    BranchMovedError,
    IcechunkError,
    LocationNotEmptyError,
    ProtectedBranchError,
    RepositoryAlreadyExistsError,
    RepositoryNotFoundError,
    SnapshotNotFoundError,
)
from icechunk._format.ids import INITIAL_SNAPSHOT_ID, encode_id
from icechunk.storage._memory import MemoryBackend

INITIAL = encode_id(INITIAL_SNAPSHOT_ID)


async def _commit_array(repo: RepositoryCore, chunk: bytes = b"ab", message: str = "c") -> str:
    session = await repo.writable_session("main")
    store = await with_array(session)
    await store.set("a/c/0", chunk)
    return await commit(session, message)


async def test_a_repository_is_created_once_and_only_in_an_empty_place() -> None:
    backend = MemoryBackend()
    with pytest.raises(RepositoryNotFoundError):
        await RepositoryCore(backend).open_config_yaml()
    await RepositoryCore(backend).initialize(b"inline_chunk_threshold_bytes: 9\n")
    assert await RepositoryCore(backend).open_config_yaml() == b"inline_chunk_threshold_bytes: 9\n"
    assert await RepositoryCore(backend).lookup_branch("main") == INITIAL
    with pytest.raises(RepositoryAlreadyExistsError):
        await RepositoryCore(backend).initialize(None)
    other = MemoryBackend()
    await other.put("stray.txt", b"x")
    with pytest.raises(LocationNotEmptyError, match="'stray.txt'"):
        await RepositoryCore(other).initialize(None)


async def test_a_version_is_exactly_one_of_branch_tag_or_snapshot() -> None:
    repo = await new_repository()
    await repo.create_tag("v0", INITIAL)
    for version in [("main", None, None), (None, "v0", None), (None, None, INITIAL)]:
        assert await repo.resolve_version(*version) == INITIAL_SNAPSHOT_ID
    for version in [(None, None, None), ("main", "v0", None)]:
        with pytest.raises(IcechunkError, match="exactly one"):
            await repo.resolve_version(*version)


async def test_branch_operations_speak_public_ids() -> None:
    repo = await new_repository()
    snapshot = await _commit_array(repo)
    await repo.create_branch("dev", INITIAL)
    assert await repo.list_branches() == {"main", "dev"}
    with pytest.raises(BranchMovedError, match=f"points to {INITIAL}, not {snapshot}"):
        await repo.reset_branch("dev", snapshot, from_snapshot_id=snapshot)
    await repo.reset_branch("dev", snapshot, from_snapshot_id=INITIAL)
    assert await repo.lookup_branch("dev") == snapshot
    with pytest.raises(ProtectedBranchError):
        await repo.delete_branch("main")
    await repo.delete_branch("dev")
    assert await repo.list_branches() == {"main"}


async def test_history_and_diff_between_versions() -> None:
    repo = await new_repository()
    first = await _commit_array(repo, message="one")
    session = await repo.writable_session("main")
    store = await with_array(session)  # the same metadata: no node change
    await store.set("a/c/1", b"cd")
    second = await commit(session, "two")
    history = [info async for info in repo.history("main", None, None)]
    assert [i.id for i in history] == [second, first, INITIAL]
    assert [i.message for i in history][:2] == ["two", "one"]
    diff = await repo.diff((None, None, first), ("main", None, None))
    assert diff.updated_chunks == {"/a": [[1]]} and diff.new_arrays == set()
    whole = await repo.diff((None, None, INITIAL), (None, None, second))
    assert whole.new_arrays == {"/a"} and whole.updated_chunks == {"/a": [[0], [1]]}
    with pytest.raises(BadSnapshotChainError, match="swap the two versions"):
        await repo.diff((None, None, second), (None, None, first))


async def test_as_of_picks_the_last_snapshot_written_by_then() -> None:
    repo = await new_repository()
    first = await _commit_array(repo)
    first_time = (await repo.lookup_snapshot(first)).written_at
    await _commit_array(repo, b"xy")
    at_first = await repo.readonly_session("main", None, None, first_time)
    assert at_first.snapshot_name == first
    before = first_time.replace(year=2000)
    with pytest.raises(SnapshotNotFoundError, match="at or before"):
        await repo.readonly_session("main", None, None, before)


async def test_a_ref_to_a_missing_snapshot_is_named_in_the_error() -> None:
    repo = await new_repository()
    await repo.backend.put("refs/branch.lost/ref.json", b'{"snapshot":"' + b"0" * 20 + b'"}')
    with pytest.raises(SnapshotNotFoundError, match="branch 'lost' points to snapshot"):
        await repo.writable_session("lost")


async def test_rewrite_manifests_commits_new_manifests_with_its_metadata() -> None:
    repo = await new_repository()
    repo.default_commit_metadata = {"author": "me"}
    first = await _commit_array(repo)
    rewritten = await repo.rewrite_manifests("compact", "main", {"why": "test"}, False)
    assert await repo.lookup_branch("main") == rewritten
    info = await repo.lookup_snapshot(rewritten)
    assert info.metadata == {"author": "me", "splitting_config": None, "why": "test"}
    old = json.loads(await repo.inspect_snapshot(first, pretty=False))
    new = json.loads(await repo.inspect_snapshot(rewritten, pretty=True))
    assert new["parent_id"] == first and new["commit_message"] == "compact"
    [old_array] = [n for n in old["nodes"] if n["path"] == "/a"]
    [new_array] = [n for n in new["nodes"] if n["path"] == "/a"]
    assert old_array["manifest_refs"][0]["id"] != new_array["manifest_refs"][0]["id"]
    assert new_array["manifest_refs"][0]["extents"] == [[0, 1]]


def test_engine_settings_follow_the_config_and_default_the_rest() -> None:
    assert EngineSettings.from_config(icechunk.RepositoryConfig()) == EngineSettings(
        inline_threshold=INLINE_CHUNK_THRESHOLD_BYTES, assets=AssetSettings()
    )
    config = icechunk.RepositoryConfig(
        inline_chunk_threshold_bytes=7,
        compression=icechunk.CompressionConfig(level=9),
        caching=icechunk.CachingConfig(num_snapshot_nodes=11),
    )
    settings = EngineSettings.from_config(config)
    assert settings.inline_threshold == 7
    assert settings.assets.compression_level == 9
    assert settings.assets.snapshot_cache_nodes == 11
    assert settings.assets.manifest_cache_refs == AssetSettings().manifest_cache_refs


async def test_a_group_only_commit_keeps_the_metadata_bytes() -> None:
    repo = await new_repository()
    session = await repo.writable_session("main")
    await StoreCore(session).set("zarr.json", GROUP_JSON)
    snapshot = await commit(session, "root")
    reader = await repo.readonly_session(None, None, snapshot, None)
    assert await StoreCore(reader).get("zarr.json") == GROUP_JSON
    assert dt.datetime.now(dt.UTC) >= (await repo.lookup_snapshot(snapshot)).written_at

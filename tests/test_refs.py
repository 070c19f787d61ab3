"""Branches and tags at the level of ref files (``icechunk._refs``), on a real memory backend."""

from __future__ import annotations

import json

import pytest

from icechunk import _refs
from icechunk._exceptions import (
    BranchAlreadyExistsError,
    BranchNotFoundError,
    FormatError,
    InvalidRefNameError,
    PreconditionFailedError,
    TagAlreadyExistsError,
    TagNotFoundError,
)
from icechunk._format.ids import encode_id, new_id12
from icechunk.storage._memory import MemoryBackend

ONE, TWO = new_id12(), new_id12()


@pytest.fixture
def backend() -> MemoryBackend:
    return MemoryBackend()


def test_ref_files_have_the_spec_layout() -> None:
    assert _refs.branch_key("main") == "refs/branch.main/ref.json"
    assert _refs.tag_key("v1") == "refs/tag.v1/ref.json"
    assert _refs.tag_tombstone_key("v1") == "refs/tag.v1/ref.json.deleted"
    assert json.loads(_refs.encode_ref(ONE)) == {"snapshot": encode_id(ONE)}
    assert _refs.encode_ref(ONE) == b'{"snapshot":"' + encode_id(ONE).encode() + b'"}'
    assert _refs.decode_ref(_refs.encode_ref(ONE), "ref") == ONE


@pytest.mark.parametrize("data", [b"{}", b"not json", b'{"snapshot": "short"}', b"[1]"])
def test_a_corrupt_ref_file_is_a_format_error(data: bytes) -> None:
    with pytest.raises(FormatError, match="ref of branch 'x' is corrupt"):
        _refs.decode_ref(data, "ref of branch 'x'")


@pytest.mark.parametrize("name", ["", "a/b", "a\\b", "tab\there"])
async def test_invalid_names_are_refused(backend: MemoryBackend, name: str) -> None:
    with pytest.raises(InvalidRefNameError):
        await _refs.create_branch(backend, name, ONE)
    with pytest.raises(InvalidRefNameError):
        await _refs.create_tag(backend, name, ONE)


async def test_branch_create_read_and_compare_and_swap(backend: MemoryBackend) -> None:
    await _refs.create_branch(backend, "dev", ONE)
    with pytest.raises(BranchAlreadyExistsError):
        await _refs.create_branch(backend, "dev", TWO)
    first = await _refs.read_branch(backend, "dev")
    assert first.snapshot_id == ONE
    await _refs.update_branch(backend, "dev", TWO, first.version)
    assert (await _refs.read_branch(backend, "dev")).snapshot_id == TWO
    # the version read before the update is stale now: the swap must fail
    with pytest.raises(PreconditionFailedError):
        await _refs.update_branch(backend, "dev", ONE, first.version)
    assert (await _refs.read_branch(backend, "dev")).snapshot_id == TWO


async def test_deleted_branch_is_not_found(backend: MemoryBackend) -> None:
    await _refs.create_branch(backend, "dev", ONE)
    await _refs.delete_branch(backend, "dev")
    with pytest.raises(BranchNotFoundError, match="'dev' does not exist"):
        await _refs.read_branch(backend, "dev")
    await _refs.create_branch(backend, "dev", TWO)  # branch names can be reused
    assert (await _refs.read_branch(backend, "dev")).snapshot_id == TWO


async def test_tags_are_immutable_and_never_recreated(backend: MemoryBackend) -> None:
    await _refs.create_tag(backend, "v1", ONE)
    assert await _refs.read_tag(backend, "v1") == ONE
    with pytest.raises(TagAlreadyExistsError, match="already exists"):
        await _refs.create_tag(backend, "v1", TWO)
    await _refs.delete_tag(backend, "v1")
    assert await backend.exists(_refs.tag_tombstone_key("v1"))
    with pytest.raises(TagNotFoundError, match="was deleted"):
        await _refs.read_tag(backend, "v1")
    with pytest.raises(TagNotFoundError):
        await _refs.delete_tag(backend, "v1")
    with pytest.raises(TagAlreadyExistsError, match="never be re-created"):
        await _refs.create_tag(backend, "v1", TWO)


async def test_missing_tag_is_not_found(backend: MemoryBackend) -> None:
    with pytest.raises(TagNotFoundError, match="'nope' does not exist"):
        await _refs.read_tag(backend, "nope")
    with pytest.raises(TagNotFoundError):
        await _refs.delete_tag(backend, "nope")


async def test_listing_leaves_out_deleted_tags_and_other_files(backend: MemoryBackend) -> None:
    await _refs.create_branch(backend, "main", ONE)
    await _refs.create_branch(backend, "dev", ONE)
    await _refs.create_tag(backend, "v1", ONE)
    await _refs.create_tag(backend, "v2", TWO)
    await _refs.delete_tag(backend, "v2")
    await backend.put("refs/branch.dev/ref.json.lock", b"")  # not a ref file
    assert await _refs.list_refs(backend) == ({"main", "dev"}, {"v1"})

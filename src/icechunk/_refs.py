"""Branches and tags: ``refs/branch.<name>/ref.json`` and ``refs/tag.<name>/ref.json``.

A ref file holds ``{"snapshot":"<id>"}``. Branch updates are compare-and-swap on the object
version; tags are create-if-absent, and deleting a tag writes a ``ref.json.deleted`` tombstone
so that the name can never be used again.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass

from ._exceptions import (
    BranchAlreadyExistsError,
    BranchNotFoundError,
    FormatError,
    InvalidRefNameError,
    ObjectNotFoundError,
    PreconditionFailedError,
    TagAlreadyExistsError,
    TagNotFoundError,
)
from ._format.ids import decode_id, encode_id
from .storage._backend import PutMode, StorageBackend

_log = logging.getLogger(__name__)

REFS_PREFIX = "refs/"
_BRANCH = "branch."
_TAG = "tag."
_REF_FILE = "ref.json"
_TOMBSTONE = "ref.json.deleted"
_VALID_NAME = re.compile(r"^[^/\\\x00-\x1f]+$")


@dataclass(frozen=True)
class RefValue:
    """The snapshot a ref points to and the storage version of its file."""

    snapshot_id: bytes
    version: str


def validate_ref_name(name: str, kind: str) -> None:
    """Raise InvalidRefNameError unless ``name`` can be stored as a ref."""
    if not isinstance(name, str) or not name or not _VALID_NAME.match(name):
        raise InvalidRefNameError(
            f"invalid ref name {name!r}: a {kind} name must be non-empty, without '/', '\\' or "
            "control characters"
        )


def branch_key(name: str) -> str:
    return f"{REFS_PREFIX}{_BRANCH}{name}/{_REF_FILE}"


def tag_key(name: str) -> str:
    return f"{REFS_PREFIX}{_TAG}{name}/{_REF_FILE}"


def tag_tombstone_key(name: str) -> str:
    return f"{REFS_PREFIX}{_TAG}{name}/{_TOMBSTONE}"


def encode_ref(snapshot_id: bytes) -> bytes:
    return json.dumps({"snapshot": encode_id(snapshot_id)}, separators=(",", ":")).encode()


def decode_ref(data: bytes, what: str) -> bytes:
    try:
        return decode_id(json.loads(data)["snapshot"])
    except (ValueError, KeyError, TypeError) as e:
        raise FormatError(f"{what} is corrupt: expected {{\"snapshot\": \"<id>\"}}, got {data[:80]!r}") from e


async def read_branch(backend: StorageBackend, name: str) -> RefValue:
    """The current tip of branch ``name``; BranchNotFoundError if there is none."""
    try:
        obj = await backend.get_versioned(branch_key(name))
    except ObjectNotFoundError:
        raise BranchNotFoundError(f"ref not found: branch {name!r} does not exist") from None
    return RefValue(decode_ref(obj.data, f"ref of branch {name!r}"), obj.version)


async def read_tag(backend: StorageBackend, name: str) -> bytes:
    """The snapshot tag ``name`` points to; TagNotFoundError if missing or deleted."""
    try:
        data = await backend.get(tag_key(name))
    except ObjectNotFoundError:
        raise TagNotFoundError(f"ref not found: tag {name!r} does not exist") from None
    if await backend.exists(tag_tombstone_key(name)):
        raise TagNotFoundError(f"ref not found: tag {name!r} was deleted")
    return decode_ref(data, f"ref of tag {name!r}")


async def create_branch(backend: StorageBackend, name: str, snapshot_id: bytes) -> None:
    """Create branch ``name``; BranchAlreadyExistsError if it exists."""
    validate_ref_name(name, "branch")
    _log.debug("Creating branch %r at snapshot %s", name, encode_id(snapshot_id))
    try:
        await backend.put(branch_key(name), encode_ref(snapshot_id), mode=PutMode.CREATE)
    except PreconditionFailedError:
        raise BranchAlreadyExistsError(f"branch {name!r} already exists") from None


async def update_branch(
    backend: StorageBackend, name: str, snapshot_id: bytes, if_match: str
) -> str:
    """Point branch ``name`` at ``snapshot_id`` if its ref file still has version ``if_match``.

    Raises PreconditionFailedError when the branch moved meanwhile.
    """
    _log.debug("Updating branch %r to snapshot %s", name, encode_id(snapshot_id))
    return await backend.put(branch_key(name), encode_ref(snapshot_id), if_match=if_match)


async def delete_branch(backend: StorageBackend, name: str) -> None:
    _log.debug("Deleting branch %r", name)
    await backend.delete([branch_key(name)])


async def create_tag(backend: StorageBackend, name: str, snapshot_id: bytes) -> None:
    """Create tag ``name``; TagAlreadyExistsError if it exists or ever existed."""
    validate_ref_name(name, "tag")
    if await backend.exists(tag_tombstone_key(name)):
        raise TagAlreadyExistsError(
            f"tag {name!r} was deleted and tags can never be re-created; choose another name"
        )
    _log.debug("Creating tag %r at snapshot %s", name, encode_id(snapshot_id))
    try:
        await backend.put(tag_key(name), encode_ref(snapshot_id), mode=PutMode.CREATE)
    except PreconditionFailedError:
        raise TagAlreadyExistsError(f"tag {name!r} already exists") from None


async def delete_tag(backend: StorageBackend, name: str) -> None:
    """Delete tag ``name`` by writing its tombstone; TagNotFoundError if it does not exist."""
    await read_tag(backend, name)
    _log.debug("Deleting tag %r", name)
    try:
        await backend.put(tag_tombstone_key(name), b"", mode=PutMode.CREATE)
    except PreconditionFailedError:
        raise TagNotFoundError(f"ref not found: tag {name!r} was deleted") from None


async def list_refs(backend: StorageBackend) -> tuple[set[str], set[str]]:
    """All branch names and live tag names."""
    branches: set[str] = set()
    tags: set[str] = set()
    deleted: set[str] = set()
    async for info in backend.list(REFS_PREFIX):
        rest = info.key[len(REFS_PREFIX) :]
        ref_dir, _, file = rest.partition("/")
        if ref_dir.startswith(_BRANCH) and file == _REF_FILE:
            branches.add(ref_dir[len(_BRANCH) :])
        elif ref_dir.startswith(_TAG) and file == _REF_FILE:
            tags.add(ref_dir[len(_TAG) :])
        elif ref_dir.startswith(_TAG) and file == _TOMBSTONE:
            deleted.add(ref_dir[len(_TAG) :])
    return branches, tags - deleted

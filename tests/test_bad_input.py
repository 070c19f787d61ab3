"""Bad input and damaged repositories: typed errors with clear messages, data left intact.

Every case must raise an :class:`icechunk.IcechunkError` subclass (not-found errors are also
``KeyError``, invalid arguments also ``ValueError``) whose message names what is wrong, and the
last good commit must still open and read afterwards from a freshly opened repository.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr
from zarr.core.buffer import cpu, default_buffer_prototype

import icechunk
from icechunk import _exceptions as exc
from icechunk._asset_manager import AssetManager
from icechunk._format.header import HEADER_SIZE, MAGIC

FIRST = np.arange(20, dtype="int32")
SECOND = np.where(FIRST < 5, -1, FIRST).astype("int32")


@dataclass
class Repo:
    """A local repository with two commits on ``main`` and a tag on the first."""

    root: Path
    first: str
    second: str

    def storage(self) -> icechunk.Storage:
        return icechunk.local_filesystem_storage(str(self.root))

    def open(self) -> icechunk.Repository:
        return icechunk.Repository.open(self.storage())

    def snapshot_file(self, snapshot_id: str) -> Path:
        return self.root / "snapshots" / snapshot_id

    def manifest_of(self, snapshot_id: str) -> Path:
        """The manifest file that holds array ``x`` in ``snapshot_id``."""
        repo = self.open()
        session = repo.readonly_session(snapshot_id=snapshot_id)
        node = session._core  # the engine's view of the snapshot
        snap = _run(node.base_snapshot())
        (array,) = [n for n in snap.nodes if n.path == "/x"]
        assert array.array is not None
        (mref,) = array.array.manifests
        from icechunk._format.ids import encode_id

        return self.root / "manifests" / encode_id(mref.manifest_id)

    def ref_file(self, branch: str = "main") -> Path:
        return self.root / "refs" / f"branch.{branch}" / "ref.json"


def _run(coro: Any) -> Any:
    from icechunk._sync import sync

    return sync(coro)


def read_x(session: icechunk.Session) -> np.ndarray:
    return zarr.open_array(session.store, path="x", mode="r")[:]


def assert_intact(repo: Repo, *, second: bool = True) -> None:
    """A fresh repository reads the first commit (and the second, if it should be intact)."""
    fresh = repo.open()
    np.testing.assert_array_equal(read_x(fresh.readonly_session(snapshot_id=repo.first)), FIRST)
    np.testing.assert_array_equal(read_x(fresh.readonly_session(tag="v1")), FIRST)
    if second:
        assert fresh.lookup_branch("main") == repo.second
        np.testing.assert_array_equal(read_x(fresh.readonly_session(branch="main")), SECOND)


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    root = tmp_path / "repo"
    config = icechunk.RepositoryConfig.default()
    config.inline_chunk_threshold_bytes = 0  # every chunk is an object under chunks/
    r = icechunk.Repository.create(icechunk.local_filesystem_storage(str(root)), config=config)
    s = r.writable_session("main")
    zarr.create_group(s.store, path="g")
    arr = zarr.create_array(s.store, name="x", shape=(20,), chunks=(5,), dtype="int32")
    arr[:] = FIRST
    first = s.commit("first")
    r.create_tag("v1", first)
    s = r.writable_session("main")
    zarr.open_array(s.store, path="x")[:5] = -1
    second = s.commit("second")
    return Repo(root, first, second)


def raises(
    kind: type[BaseException], *words: str, also: type[BaseException] | None = None
) -> Any:
    """pytest.raises for an IcechunkError subclass whose message mentions every word."""

    class _Checker:
        def __enter__(self) -> Any:
            self._ctx = pytest.raises(kind)
            self._info = self._ctx.__enter__()
            return self._info

        def __exit__(self, *args: object) -> bool:
            handled = self._ctx.__exit__(*args)  # type: ignore[arg-type]
            if not handled:  # another exception type: let it propagate
                return False
            err = self._info.value
            assert isinstance(err, icechunk.IcechunkError), f"{type(err)} is not IcechunkError"
            if also is not None:
                assert isinstance(err, also), f"{type(err).__name__} is not a {also.__name__}"
            text = str(err)
            assert text, "empty error message"
            for word in words:
                assert word.lower() in text.lower(), f"{word!r} not in message {text!r}"
            return bool(handled)

    return _Checker()


# --- corrupt snapshot files ------------------------------------------------------------------


def _garbage(data: bytes) -> bytes:
    return bytes(range(256)) * 4


def _truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _header_only(data: bytes) -> bytes:
    return data[:HEADER_SIZE]


def _short_header(data: bytes) -> bytes:
    return data[:20]


def _empty(data: bytes) -> bytes:
    return b""


def _wrong_magic(data: bytes) -> bytes:
    return b"NOTICECHUNK!" + data[len(MAGIC) :]


def _spec_version(data: bytes) -> bytes:
    pos = len(MAGIC) + 24
    return data[:pos] + bytes([9]) + data[pos + 1 :]


def _unknown_compression(data: bytes) -> bytes:
    pos = len(MAGIC) + 24 + 2
    return data[:pos] + bytes([7]) + data[pos + 1 :]


def _payload_flipped(data: bytes) -> bytes:
    body = bytearray(data)
    for i in range(HEADER_SIZE + 4, len(body)):
        body[i] ^= 0x5A
    return bytes(body)


def _garbage_flatbuffer(data: bytes) -> bytes:
    import zstandard

    return data[:HEADER_SIZE] + zstandard.ZstdCompressor().compress(b"\x07" * 50)


CORRUPTIONS = {
    "garbage": (_garbage, exc.FormatError, ["snapshot"]),
    "truncated": (_truncated, exc.FormatError, ["truncated"]),
    "header-only": (_header_only, exc.FormatError, []),
    "short-header": (_short_header, exc.InvalidHeaderError, ["header"]),
    "empty": (_empty, exc.InvalidHeaderError, ["header"]),
    "wrong-magic": (_wrong_magic, exc.InvalidHeaderError, ["magic"]),
    "spec-version": (_spec_version, exc.UnsupportedSpecVersionError, ["spec version", "9"]),
    "unknown-compression": (_unknown_compression, exc.InvalidHeaderError, ["compression"]),
    "payload-flipped": (_payload_flipped, exc.FormatError, []),
    "garbage-flatbuffer": (_garbage_flatbuffer, exc.FormatError, ["corrupt"]),
}


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_corrupt_tip_snapshot(repo: Repo, corruption: str) -> None:
    mutate, kind, words = CORRUPTIONS[corruption]
    path = repo.snapshot_file(repo.second)
    original = path.read_bytes()
    path.write_bytes(mutate(original))

    r = repo.open()
    with raises(kind, repo.second, *words):
        read_x(r.readonly_session(branch="main"))
    with raises(kind, repo.second):
        s = r.writable_session("main")
        read_x(s)
    with raises(kind, repo.second):
        list(r.ancestry(branch="main"))
    # a corrupt snapshot is not remembered as good or bad: the same repository object reads
    # the previous commit, then the repaired one
    np.testing.assert_array_equal(read_x(r.readonly_session(snapshot_id=repo.first)), FIRST)
    assert_intact(repo, second=False)
    path.write_bytes(original)
    np.testing.assert_array_equal(read_x(r.readonly_session(branch="main")), SECOND)
    assert_intact(repo)


@pytest.mark.parametrize("kind", ["snapshot", "manifest", "transaction log"])
def test_corrupt_flatbuffer_error_names_the_object(repo: Repo, kind: str) -> None:
    paths = {
        "snapshot": repo.snapshot_file(repo.second),
        "manifest": repo.manifest_of(repo.second),
        "transaction log": repo.root / "transactions" / repo.second,
    }
    path = paths[kind]
    path.write_bytes(_garbage_flatbuffer(path.read_bytes()))
    r = repo.open()
    with raises(exc.FormatError, kind, path.name, "corrupt"):
        if kind == "transaction log":
            r.diff(from_snapshot_id=repo.first, to_snapshot_id=repo.second)
        else:
            read_x(r.readonly_session(branch="main"))
    assert_intact(repo, second=kind == "transaction log")


def test_manifest_copied_over_snapshot(repo: Repo) -> None:
    path = repo.snapshot_file(repo.second)
    shutil.copyfile(repo.manifest_of(repo.second), path)
    with raises(exc.InvalidHeaderError, repo.second, "file type", "snapshot", "manifest"):
        read_x(repo.open().readonly_session(branch="main"))
    assert_intact(repo, second=False)


def test_corrupt_snapshot_blocks_commit_but_not_history(repo: Repo) -> None:
    """A session started before the damage cannot commit on a corrupt tip; the ref stays."""
    r = repo.open()
    s = r.writable_session("main")
    zarr.open_array(s.store, path="x")[0] = 99
    repo.snapshot_file(repo.second).write_bytes(b"junk")
    fresh = repo.open()
    with raises(exc.FormatError):
        read_x(fresh.writable_session("main"))
    assert fresh.lookup_branch("main") == repo.second
    assert_intact(repo, second=False)


# --- corrupt manifests -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "corruption",
    ["garbage", "truncated", "wrong-magic", "spec-version", "payload-flipped", "empty"],
)
def test_corrupt_manifest(repo: Repo, corruption: str) -> None:
    mutate, kind, _ = CORRUPTIONS[corruption]
    path = repo.manifest_of(repo.second)
    manifest_id = path.name
    original = path.read_bytes()
    path.write_bytes(mutate(original))
    r = repo.open()
    session = r.readonly_session(branch="main")
    # metadata does not need the manifest
    assert zarr.open_array(session.store, path="x", mode="r").shape == (20,)
    with raises(kind, manifest_id):
        read_x(session)
    assert_intact(repo, second=False)
    path.write_bytes(original)
    assert_intact(repo)


def test_snapshot_copied_over_manifest(repo: Repo) -> None:
    path = repo.manifest_of(repo.second)
    shutil.copyfile(repo.snapshot_file(repo.second), path)
    with raises(exc.InvalidHeaderError, path.name, "file type", "manifest", "snapshot"):
        read_x(repo.open().readonly_session(branch="main"))
    assert_intact(repo, second=False)


def test_missing_manifest(repo: Repo) -> None:
    path = repo.manifest_of(repo.second)
    path.unlink()
    with raises(exc.IcechunkError, path.name, "missing"):
        read_x(repo.open().readonly_session(branch="main"))
    assert_intact(repo, second=False)


# --- refs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"not json",
        b"[]",
        b'{"snapshot": 5}',
        b'{"snap": "1CECHNKREP0F1RSTCMT0"}',
        b'{"snapshot": "TOO-SHORT"}',
        b'{"snapshot": "1CECHNKREP0F1RSTCMT0XX"}',
        b"\xff\xfe\x00garbage",
    ],
)
def test_corrupt_ref_json(repo: Repo, content: bytes) -> None:
    ref = repo.ref_file("main")
    original = ref.read_bytes()
    ref.write_bytes(content)
    try:
        r = repo.open()
    except icechunk.IcechunkError as e:  # upstream refuses to open: also acceptable
        assert isinstance(e, exc.FormatError) and "main" in str(e), repr(e)
        ref.write_bytes(original)
        assert_intact(repo)
        return
    with raises(exc.FormatError, "main"):
        r.lookup_branch("main")
    with raises(exc.FormatError, "main"):
        r.readonly_session(branch="main")
    with raises(exc.FormatError, "main"):
        r.writable_session("main")
    with raises(exc.FormatError, "main"):
        list(r.ancestry(branch="main"))
    # everything not reached through the damaged ref still works
    assert "main" in r.list_branches()
    assert r.lookup_tag("v1") == repo.first
    assert_intact(repo, second=False)
    np.testing.assert_array_equal(
        read_x(r.readonly_session(snapshot_id=repo.second)), SECOND
    )
    with raises(exc.FormatError, "main"):
        r.reset_branch("main", repo.first)
    assert ref.read_bytes() == content
    # nothing was cached: repairing the file repairs the repository
    ref.write_bytes(original)
    assert r.lookup_branch("main") == repo.second
    assert_intact(repo)


def test_corrupt_tag_ref(repo: Repo) -> None:
    (repo.root / "refs" / "tag.v1" / "ref.json").write_bytes(b"{")
    r = repo.open()
    with raises(exc.FormatError, "v1"):
        r.lookup_tag("v1")
    with raises(exc.FormatError, "v1"):
        r.readonly_session(tag="v1")
    np.testing.assert_array_equal(read_x(r.readonly_session(branch="main")), SECOND)


def test_branch_pointing_to_missing_snapshot(repo: Repo) -> None:
    repo.snapshot_file(repo.second).unlink()
    r = repo.open()
    with raises(exc.SnapshotNotFoundError, repo.second, also=KeyError):
        read_x(r.readonly_session(branch="main"))
    with raises(exc.SnapshotNotFoundError, repo.second, also=KeyError):
        list(r.ancestry(branch="main"))
    with raises(exc.SnapshotNotFoundError, repo.second, also=KeyError):
        r.create_branch("other", repo.second)
    assert r.list_branches() == {"main"}
    assert_intact(repo, second=False)
    r.reset_branch("main", repo.first)
    np.testing.assert_array_equal(read_x(repo.open().readonly_session(branch="main")), FIRST)


def test_missing_parent_snapshot(repo: Repo) -> None:
    repo.snapshot_file(repo.first).unlink()
    r = repo.open()
    np.testing.assert_array_equal(read_x(r.readonly_session(branch="main")), SECOND)
    with raises(exc.SnapshotNotFoundError, repo.first, also=KeyError):
        list(r.ancestry(branch="main"))


def test_missing_chunk_object(repo: Repo) -> None:
    chunks = sorted((repo.root / "chunks").iterdir())
    assert len(chunks) == 5  # 4 chunks of the first commit, 1 rewritten by the second
    session = repo.open().readonly_session(branch="main")
    manifest = _run(session._core.assets.fetch_manifest(_manifest_id(repo, repo.second)))
    (table,) = manifest.arrays.values()
    payload = table.lookup((0,))
    from icechunk._format.ids import encode_id

    victim = repo.root / "chunks" / encode_id(payload.chunk_id)
    original = victim.read_bytes()
    victim.unlink()
    fresh = repo.open().readonly_session(branch="main")
    arr = zarr.open_array(fresh.store, path="x", mode="r")
    np.testing.assert_array_equal(arr[5:], SECOND[5:])  # other chunks still read
    with raises(exc.StorageError, victim.name, "missing"):
        arr[:5]
    with raises(exc.StorageError, victim.name):
        _run(fresh.store.get("x/c/0", default_buffer_prototype()))
    assert_intact(repo, second=False)
    victim.write_bytes(original)
    assert_intact(repo)


def _manifest_id(repo: Repo, snapshot_id: str) -> bytes:
    from icechunk._format.ids import decode_id

    return decode_id(repo.manifest_of(snapshot_id).name)


# --- invalid ids and names -------------------------------------------------------------------

BAD_IDS = ["", "nope", "1CECHNKREP0F1RSTCMT", "1CECHNKREP0F1RSTCMT00", "1CECHNKREP0F1RSTCMT!", "U" * 20]


@pytest.mark.parametrize("bad", BAD_IDS)
def test_invalid_snapshot_id_strings(repo: Repo, bad: str) -> None:
    r = repo.open()
    calls = [
        lambda: r.readonly_session(snapshot_id=bad),
        lambda: r.create_branch("b", bad),
        lambda: r.create_tag("t", bad),
        lambda: r.reset_branch("main", bad),
        lambda: list(r.ancestry(snapshot_id=bad)),
        lambda: r.lookup_snapshot(bad),
    ]
    for call in calls:
        with raises(exc.IcechunkError, bad or "id", also=ValueError):
            call()
    assert r.list_branches() == {"main"}
    assert r.list_tags() == {"v1"}
    assert_intact(repo)


def test_well_formed_but_unknown_snapshot_id(repo: Repo) -> None:
    r = repo.open()
    unknown = "0" * 20
    for call in [
        lambda: r.readonly_session(snapshot_id=unknown),
        lambda: r.create_branch("b", unknown),
        lambda: r.create_tag("t", unknown),
        lambda: r.reset_branch("main", unknown),
        lambda: list(r.ancestry(snapshot_id=unknown)),
        lambda: r.lookup_snapshot(unknown),
    ]:
        with raises(exc.SnapshotNotFoundError, unknown, also=KeyError):
            call()
    assert r.list_branches() == {"main"}
    assert r.list_tags() == {"v1"}
    assert_intact(repo)


def test_missing_branch(repo: Repo) -> None:
    r = repo.open()
    for call in [
        lambda: r.lookup_branch("nope"),
        lambda: r.readonly_session(branch="nope"),
        lambda: r.writable_session("nope"),
        lambda: r.delete_branch("nope"),
        lambda: r.reset_branch("nope", repo.first),
        lambda: list(r.ancestry(branch="nope")),
    ]:
        with raises(exc.BranchNotFoundError, "nope", also=KeyError):
            call()
    assert r.list_branches() == {"main"}
    assert_intact(repo)


def test_missing_tag(repo: Repo) -> None:
    r = repo.open()
    for call in [
        lambda: r.lookup_tag("nope"),
        lambda: r.readonly_session(tag="nope"),
        lambda: r.delete_tag("nope"),
        lambda: list(r.ancestry(tag="nope")),
    ]:
        with raises(exc.TagNotFoundError, "nope", also=KeyError):
            call()
    r.delete_tag("v1")
    with raises(exc.TagNotFoundError, "v1", also=KeyError):
        r.lookup_tag("v1")
    with raises(exc.TagNotFoundError, "v1", also=KeyError):
        r.delete_tag("v1")
    with raises(exc.TagAlreadyExistsError, "v1"):
        r.create_tag("v1", repo.first)


BAD_NAMES = ["", "a/b", "/", "a/", "/a", "a/b/c"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_invalid_ref_names(repo: Repo, name: str) -> None:
    r = repo.open()
    with raises(exc.InvalidRefNameError, "name", also=ValueError):
        r.create_branch(name, repo.first)
    with raises(exc.InvalidRefNameError, "name", also=ValueError):
        r.create_tag(name, repo.first)
    assert r.list_branches() == {"main"}
    assert r.list_tags() == {"v1"}
    assert sorted(p.name for p in (repo.root / "refs").iterdir()) == ["branch.main", "tag.v1"]
    assert_intact(repo)


def test_existing_refs_are_not_overwritten(repo: Repo) -> None:
    r = repo.open()
    with raises(exc.BranchAlreadyExistsError, "main"):
        r.create_branch("main", repo.first)
    with raises(exc.TagAlreadyExistsError, "v1"):
        r.create_tag("v1", repo.second)
    assert r.lookup_tag("v1") == repo.first
    with raises(exc.ProtectedBranchError, "main"):
        r.delete_branch("main")
    assert_intact(repo)


# --- repositories ----------------------------------------------------------------------------


def test_open_non_repository(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    with raises(exc.RepositoryNotFoundError, "repository"):
        icechunk.Repository.open(icechunk.local_filesystem_storage(str(empty)))
    assert not icechunk.Repository.exists(icechunk.local_filesystem_storage(str(empty)))
    other = tmp_path / "other"
    (other / "data").mkdir(parents=True)
    (other / "data" / "zarr.json").write_text("{}")
    (other / "refs").mkdir()
    with raises(exc.RepositoryNotFoundError, "repository"):
        icechunk.Repository.open(icechunk.local_filesystem_storage(str(other)))
    with raises(exc.RepositoryNotFoundError, "repository"):
        icechunk.Repository.open(icechunk.in_memory_storage())
    assert (other / "data" / "zarr.json").read_text() == "{}"


def test_create_where_repository_exists(repo: Repo) -> None:
    with raises(exc.RepositoryAlreadyExistsError, "exists"):
        icechunk.Repository.create(repo.storage())
    assert_intact(repo)
    assert [s.id for s in repo.open().ancestry(branch="main")][:2] == [repo.second, repo.first]


def test_create_with_unsupported_spec_version(tmp_path: Path) -> None:
    storage = icechunk.local_filesystem_storage(str(tmp_path / "r"))
    with raises(exc.IcechunkError, "spec"):
        icechunk.Repository.create(storage, spec_version=99)
    assert not icechunk.Repository.exists(storage)


# --- read-only sessions and stores -----------------------------------------------------------


def _buf(data: bytes) -> Any:
    return cpu.Buffer.from_bytes(data)


def _read_only_stores(repo: Repo) -> dict[str, icechunk.IcechunkStore]:
    r = repo.open()
    committed = r.writable_session("main")
    zarr.open_array(committed.store, path="x")[0] = 0
    committed.commit("third")
    writable = r.writable_session("main")
    return {
        "readonly-branch": r.readonly_session(branch="main").store,
        "readonly-snapshot": r.readonly_session(snapshot_id=repo.first).store,
        "readonly-tag": r.readonly_session(tag="v1").store,
        "after-commit": committed.store,
        "with_read_only": writable.store.with_read_only(True),
    }


@pytest.mark.parametrize(
    "which",
    ["readonly-branch", "readonly-snapshot", "readonly-tag", "after-commit", "with_read_only"],
)
def test_writes_through_read_only_stores(repo: Repo, which: str) -> None:
    store = _read_only_stores(repo)[which]
    tip = repo.open().lookup_branch("main")
    assert store.read_only
    meta = _run(store.get("x/zarr.json", default_buffer_prototype())).to_bytes()
    for op in [
        lambda: store.set("x/c/0", _buf(b"\0" * 20)),
        lambda: store.set("x/zarr.json", _buf(meta)),
        lambda: store.set("new/zarr.json", _buf(b'{"zarr_format":3,"node_type":"group"}')),
        lambda: store.delete("x/c/0"),
        lambda: store.delete("x/zarr.json"),
        lambda: store.delete_dir("x"),
        lambda: store.clear(),
        lambda: store.set_if_not_exists("y/zarr.json", _buf(meta)),
    ]:
        with raises(exc.ReadOnlySessionError, "read-only", also=ValueError):
            _run(op())
    with pytest.raises(ValueError, match="read-only"):
        zarr.open_array(store, path="x", mode="r+")[:] = 5
    with pytest.raises(ValueError, match="read-only"):
        zarr.open_array(store, path="x", mode="r")[:] = 5
    with pytest.raises(ValueError, match="read-only"):
        zarr.create_group(store, path="nope")
    assert repo.open().lookup_branch("main") == tip
    assert_intact(repo, second=False)


def test_read_only_session_cannot_commit(repo: Repo) -> None:
    r = repo.open()
    session = r.readonly_session(branch="main")
    with raises(exc.ReadOnlySessionError, "read-only"):
        session.commit("nope")
    session.discard_changes()  # nothing to discard: a no-op, as upstream
    assert not session.has_uncommitted_changes
    writable = r.writable_session("main")
    zarr.open_array(writable.store, path="x")[0] = 7
    writable.commit("ok")
    with raises(exc.ReadOnlySessionError, "read-only"):
        writable.commit("again")
    with raises(exc.ReadOnlySessionError, "read-only"):
        _run(writable.store.set("x/c/0", _buf(b"\0" * 20)))
    with pytest.raises(ValueError, match="read-only"):
        zarr.open_array(writable.store, path="x", mode="r+")[0] = 8


def test_commit_without_changes(repo: Repo) -> None:
    session = repo.open().writable_session("main")
    with raises(exc.NoChangesToCommitError, "no changes"):
        session.commit("empty")
    assert_intact(repo)


# --- non-Zarr keys ---------------------------------------------------------------------------

BAD_KEYS = [
    "",
    "/x/zarr.json",
    "x//c/0",
    "../zarr.json",
    "x/./c/0",
    "a\\b/zarr.json",
]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_malformed_keys(repo: Repo, key: str) -> None:
    session = repo.open().writable_session("main")
    with raises(exc.InvalidKeyError, also=ValueError):
        _run(session.store.set(key, _buf(b"\0" * 20)))
    assert not session.has_uncommitted_changes


@pytest.mark.parametrize(
    "key",
    [
        "foo",  # not a metadata key, no array at the root
        "g/foo",  # inside a group
        "g/c/0",  # chunk key of a group
        "nothere/c/0",  # chunk of a missing array
        "x/foo",  # not a chunk key of the array
        "x/c/0/0",  # too many dimensions
        "x/c/a",  # not an index
        "x/c/4",  # outside the chunk grid
        "x/c/-1",
        # (a node below an array, "x/c/0/zarr.json", is valid: upstream allows it)
    ],
)
def test_non_zarr_keys(repo: Repo, key: str) -> None:
    session = repo.open().writable_session("main")
    payload = b'{"zarr_format":3,"node_type":"group"}' if key.endswith("zarr.json") else b"\0" * 20
    with raises(exc.InvalidKeyError, also=ValueError):
        _run(session.store.set(key, _buf(payload)))
    assert not session.has_uncommitted_changes
    assert _run(session.store.get(key, default_buffer_prototype())) is None
    if key.rsplit("/", 1)[-1] in ("foo", "a", "-1"):  # never a key: exists() says so, as upstream
        with raises(exc.InvalidKeyError, also=ValueError):
            _run(session.store.exists(key))
    else:
        assert not _run(session.store.exists(key))


def _array_doc(**changes: Any) -> bytes:
    import json

    doc: dict[str, Any] = {
        "zarr_format": 3,
        "node_type": "array",
        "shape": [4],
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [2]}},
    }
    doc.update(changes)
    return json.dumps(doc).encode()


BAD_METADATA = {
    "not-json": b"not json",
    "list": b"[]",
    "unknown-node-type": b'{"zarr_format": 3, "node_type": "banana"}',
    "no-node-type": b'{"zarr_format": 3}',
    "array-without-shape": b'{"zarr_format": 3, "node_type": "array"}',
    "grid-not-object": _array_doc(chunk_grid=5),
    "grid-not-regular": _array_doc(chunk_grid={"name": "rectilinear"}),
    "shape-not-list": _array_doc(shape=4),
    "shape-not-ints": _array_doc(shape=["a"]),
    "shape-negative": _array_doc(shape=[-4]),
    "grid-configuration-not-object": _array_doc(
        chunk_grid={"name": "regular", "configuration": 7}
    ),
    "chunk-shape-rank": _array_doc(
        chunk_grid={"name": "regular", "configuration": {"chunk_shape": [2, 2]}}
    ),
    "dimension-names-not-list": _array_doc(dimension_names=5),
    "chunk-key-encoding-not-object": _array_doc(chunk_key_encoding=1),
}


@pytest.mark.parametrize("case", sorted(BAD_METADATA))
def test_invalid_metadata_documents(repo: Repo, case: str) -> None:
    payload = BAD_METADATA[case]
    session = repo.open().writable_session("main")
    with raises(exc.IcechunkError, also=ValueError):
        _run(session.store.set("bad/zarr.json", _buf(payload)))
    assert not session.has_uncommitted_changes
    assert _run(session.store.get("bad/zarr.json", default_buffer_prototype())) is None


# --- crashes in the middle of a commit ------------------------------------------------------


class Crash(OSError):
    pass


def _stage_change(r: icechunk.Repository, value: int) -> icechunk.Session:
    session = r.writable_session("main")
    arr = zarr.open_array(session.store, path="x")
    arr[:] = np.full(20, value, dtype="int32")
    zarr.create_group(session.store, path=f"g{value}")
    return session


def _crash_on_put(monkeypatch: pytest.MonkeyPatch, prefix: str, r: icechunk.Repository) -> None:
    backend = type(r._core.backend)
    original = backend.put

    async def put(self: Any, key: str, *args: Any, **kwargs: Any) -> Any:
        if key.startswith(prefix):
            raise Crash(f"simulated crash writing {key}")
        return await original(self, key, *args, **kwargs)

    monkeypatch.setattr(backend, "put", put)


def _crash_after_partial_put(
    monkeypatch: pytest.MonkeyPatch, prefix: str, r: icechunk.Repository
) -> None:
    """The object is written, but only its first half, before the crash."""
    backend = type(r._core.backend)
    original = backend.put

    async def put(self: Any, key: str, data: bytes, *args: Any, **kwargs: Any) -> Any:
        if key.startswith(prefix):
            await original(self, key, data[: len(data) // 2], *args, **kwargs)
            raise Crash(f"simulated crash after partly writing {key}")
        return await original(self, key, data, *args, **kwargs)

    monkeypatch.setattr(backend, "put", put)


def _crash_in_asset_manager(
    monkeypatch: pytest.MonkeyPatch, method: str, r: icechunk.Repository
) -> None:
    async def boom(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise Crash(f"simulated crash in {method}")

    monkeypatch.setattr(AssetManager, method, boom)


CRASHES = {
    "put-snapshot": lambda mp, r: _crash_on_put(mp, "snapshots/", r),
    "put-manifest": lambda mp, r: _crash_on_put(mp, "manifests/", r),
    "put-transaction-log": lambda mp, r: _crash_on_put(mp, "transactions/", r),
    "put-ref": lambda mp, r: _crash_on_put(mp, "refs/", r),
    "partial-snapshot": lambda mp, r: _crash_after_partial_put(mp, "snapshots/", r),
    "partial-manifest": lambda mp, r: _crash_after_partial_put(mp, "manifests/", r),
    "write_snapshot": lambda mp, r: _crash_in_asset_manager(mp, "write_snapshot", r),
    "write_manifest": lambda mp, r: _crash_in_asset_manager(mp, "write_manifest", r),
    "write_transaction_log": lambda mp, r: _crash_in_asset_manager(
        mp, "write_transaction_log", r
    ),
}


@pytest.mark.parametrize("where", sorted(CRASHES))
def test_crash_during_commit(repo: Repo, where: str, monkeypatch: pytest.MonkeyPatch) -> None:
    r = repo.open()
    session = _stage_change(r, 42)
    with monkeypatch.context() as mp:
        CRASHES[where](mp, r)
        with pytest.raises(Crash, match="simulated crash"):
            session.commit("doomed")
    # the branch did not move; the repository opens and reads the previous commit
    fresh = repo.open()
    assert fresh.lookup_branch("main") == repo.second
    assert [s.id for s in fresh.ancestry(branch="main")] == [
        repo.second,
        repo.first,
        "1CECHNKREP0F1RSTCMT0",
    ]
    assert_intact(repo)
    assert "g42" not in zarr.open_group(fresh.readonly_session(branch="main").store, mode="r")
    # a new session retries and succeeds
    retry = _stage_change(fresh, 43)
    third = retry.commit("retry")
    after = repo.open().readonly_session(branch="main")
    assert after.snapshot_id == third
    np.testing.assert_array_equal(read_x(after), np.full(20, 43, dtype="int32"))
    assert "g43" in zarr.open_group(after.store, mode="r")
    assert "g42" not in zarr.open_group(after.store, mode="r")
    assert [s.id for s in repo.open().ancestry(branch="main")][:3] == [
        third,
        repo.second,
        repo.first,
    ]


@pytest.mark.parametrize("where", ["put-snapshot", "put-ref", "write_manifest"])
def test_same_session_can_retry_after_crash(
    repo: Repo, where: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failed commit leaves the session's changes staged, so committing again works."""
    r = repo.open()
    session = _stage_change(r, 42)
    with monkeypatch.context() as mp:
        CRASHES[where](mp, r)
        with pytest.raises(Crash):
            session.commit("doomed")
    assert session.has_uncommitted_changes
    assert not session.read_only
    np.testing.assert_array_equal(read_x(session), np.full(20, 42, dtype="int32"))
    snapshot = session.commit("second try")
    fresh = repo.open()
    assert fresh.lookup_branch("main") == snapshot
    np.testing.assert_array_equal(
        read_x(fresh.readonly_session(branch="main")), np.full(20, 42, dtype="int32")
    )
    parent = next(iter(fresh.ancestry(branch="main")))
    assert parent.parent_id == repo.second


def test_crash_writing_chunk(repo: Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failing chunk write surfaces from the zarr write and leaves the branch alone."""
    r = repo.open()
    session = r.writable_session("main")
    with monkeypatch.context() as mp:
        _crash_on_put(mp, "chunks/", r)
        with pytest.raises(Crash):
            zarr.open_array(session.store, path="x")[:] = np.full(20, 5, dtype="int32")
    assert_intact(repo)


# --- fuzzed metadata files -------------------------------------------------------------------


def _real_metadata_files() -> dict[str, tuple[bytes, Any]]:
    """Decompressed flatbuffers of a real snapshot, manifest and transaction log."""
    from icechunk._format._codec_snapshot import decode_snapshot
    from icechunk._format._codec_transaction_log import decode_transaction_log
    from icechunk._format._manifest_decode import decode_manifest
    from icechunk._format.header import FileType, decode_file

    storage = icechunk.in_memory_storage()
    r = icechunk.Repository.create(storage)
    s = r.writable_session("main")
    zarr.create_group(s.store, path="g", attributes={"a": 1})
    arr = zarr.create_array(
        s.store, name="g/x", shape=(6, 4), chunks=(2, 2), dtype="int8", dimension_names=["t", None]
    )
    arr[:] = 1
    snap = s.commit("fuzz", metadata={"k": [1, 2]})
    backend = r._core.backend

    def raw(key: str) -> bytes:
        return _run(backend.get(key))

    manifest_key = next(
        info.key for info in _run(_alist(backend.list("manifests/")))
    )
    return {
        "snapshot": (
            decode_file(raw(f"snapshots/{snap}"), FileType.SNAPSHOT, what="s"),
            decode_snapshot,
        ),
        "manifest": (decode_file(raw(manifest_key), FileType.MANIFEST, what="m"), decode_manifest),
        "transaction-log": (
            decode_file(raw(f"transactions/{snap}"), FileType.TRANSACTION_LOG, what="t"),
            decode_transaction_log,
        ),
    }


async def _alist(it: Any) -> list[Any]:
    return [x async for x in it]


_FILES = _real_metadata_files()


@pytest.mark.parametrize("kind", sorted(_FILES))
def test_fuzzed_flatbuffers_raise_format_error(kind: str) -> None:
    """Any damage to a flatbuffer decodes to something or raises FormatError, nothing else."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    good, decode = _FILES[kind]
    decode(good)

    @settings(max_examples=150, derandomize=True, database=None)
    @given(
        flips=st.lists(
            st.tuples(st.integers(0, len(good) - 1), st.integers(1, 255)), min_size=1, max_size=4
        ),
        cut=st.one_of(st.none(), st.integers(0, len(good))),
    )
    def check(flips: list[tuple[int, int]], cut: int | None) -> None:
        data = bytearray(good)
        for pos, mask in flips:
            data[pos] ^= mask
        if cut is not None:
            del data[cut:]
        try:
            decode(bytes(data))
        except exc.FormatError as e:
            assert str(e)

    check()

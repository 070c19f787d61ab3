"""Bulk chunk references: ``set_virtual_refs_arr``, ``array_chunk_iterator`` and the
no-credentials authorization sentinels."""

from __future__ import annotations

import asyncio
import datetime as dt
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr

import icechunk
from icechunk._exceptions import InvalidKeyError, VirtualChunkError
from icechunk.credentials import HttpAccess, LocalFileSystemAccess

GRID = (4, 5)  # chunks
CHUNK = (2, 3)  # elements per chunk
NBYTES = 2 * 3 * 8  # one f8 chunk


def _source(folder: Path, name: str = "blocks.bin", shift: float = 0.0) -> tuple[Path, np.ndarray]:
    """A file holding the 20 chunks of an (8, 15) f8 array, one after another, C order."""
    folder.mkdir(parents=True, exist_ok=True)
    values = np.arange(8 * 15, dtype="<f8").reshape(8, 15) * 1.5 + shift
    blocks = [
        values[i * 2 : (i + 1) * 2, j * 3 : (j + 1) * 3].tobytes()
        for i in range(GRID[0])
        for j in range(GRID[1])
    ]
    path = folder / name
    path.write_bytes(b"HEADER!!" + b"".join(blocks))
    return path, values


def _repo(tmp_path: Path, prefix: str, auth: Any = None) -> icechunk.Repository:
    config = icechunk.RepositoryConfig.default()
    config.set_virtual_chunk_container(
        icechunk.VirtualChunkContainer(prefix, icechunk.local_filesystem_store(prefix[7:]))
    )
    return icechunk.Repository.create(
        icechunk.local_filesystem_storage(str(tmp_path / "repo")),
        config,
        authorize_virtual_chunk_access={prefix: auth},
    )


def _array(session: icechunk.Session, shape: tuple[int, ...] = (8, 15)) -> zarr.Array:
    return zarr.create_array(
        session.store, name="v", shape=shape, chunks=CHUNK, dtype="<f8", compressors=None,
        fill_value=np.nan,
    )


def _columns(url: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    n = GRID[0] * GRID[1]
    offsets = 8 + np.arange(n, dtype=np.uint64) * NBYTES
    return [url] * n, offsets, np.full(n, NBYTES, dtype=np.uint64)


def test_set_virtual_refs_arr_reads_back(tmp_path: Path) -> None:
    path, values = _source(tmp_path / "src")
    prefix = f"file://{path.parent}/"
    repo = _repo(tmp_path, prefix)
    session = repo.writable_session("main")
    _array(session)
    locations, offsets, lengths = _columns(prefix + path.name)
    locations[7] = ""  # a missing chunk stays missing
    checksum = dt.datetime.now() + dt.timedelta(seconds=5)  # naive: local time
    assert session.store.set_virtual_refs_arr(
        "v", GRID, locations, offsets, lengths, checksum=checksum
    ) is None
    session.commit("bulk")
    got = zarr.open_array(repo.readonly_session("main").store, path="v", mode="r")[:]
    expected = values.copy()
    expected[2:4, 6:9] = np.nan  # chunk 7 = (1, 2)
    np.testing.assert_array_equal(got, expected)


def test_set_virtual_refs_arr_offset_validation_and_errors(tmp_path: Path) -> None:
    path, values = _source(tmp_path / "src")
    prefix = f"file://{path.parent}/"
    repo = _repo(tmp_path, prefix)
    session = repo.writable_session("main")
    _array(session, shape=(16, 15))  # room for two blocks along the first axis
    locations, offsets, lengths = _columns(prefix + path.name)
    locations[0] = "file:///elsewhere/not-declared.bin"
    failed = session.store.set_virtual_refs_arr(
        "v", GRID, locations, offsets, lengths, arr_offset=(4, 0)
    )
    assert failed == [(4, 0)]
    session.commit("second block")
    got = zarr.open_array(repo.readonly_session("main").store, path="v", mode="r")[:]
    assert np.isnan(got[:8]).all()
    np.testing.assert_array_equal(got[10:16], values[2:8])
    np.testing.assert_array_equal(got[8:10, 3:], values[0:2, 3:])
    assert np.isnan(got[8:10, :3]).all()

    session = repo.writable_session("main")
    with pytest.raises(InvalidKeyError, match="outside the chunk grid"):
        session.store.set_virtual_refs_arr("v", GRID, *_columns("x"), arr_offset=(5, 0))
    with pytest.raises(ValueError, match="one location, offset and length per chunk"):
        session.store.set_virtual_refs_arr("v", (2, 2), *_columns("x"))
    with pytest.raises(icechunk.IcechunkError, match="no array"):
        session.store.set_virtual_refs_arr("nothing", GRID, *_columns("x"))
    assert not session.has_uncommitted_changes
    with pytest.raises(icechunk.IcechunkError):
        repo.readonly_session("main").store.set_virtual_refs_arr("v", GRID, *_columns("x"))


def test_array_chunk_iterator_lists_every_kind(tmp_path: Path) -> None:
    path, values = _source(tmp_path / "src")
    prefix = f"file://{path.parent}/"
    repo = _repo(tmp_path, prefix)
    session = repo.writable_session("main")
    arr = _array(session)
    arr[0:2, 0:3] = 7.0  # chunk (0, 0): 48 bytes, inline
    config = icechunk.RepositoryConfig.default()
    config.inline_chunk_threshold_bytes = 0
    session.commit("inline")
    repo = icechunk.Repository.open(
        repo.storage, config, authorize_virtual_chunk_access={prefix: None}
    )
    session = repo.writable_session("main")
    zarr.open_array(session.store, path="v")[2:4, 0:3] = 8.0  # chunk (1, 0): native
    session.store.set_virtual_ref("v/c/3/4", prefix + path.name, offset=8, length=NBYTES)

    async def collect() -> list[Any]:
        return [b async for b in session.store.array_chunk_iterator("v", batch_size=2)]

    batches = asyncio.run(collect())
    assert [len(b[1]) for b in batches] == [2, 1]
    coords = np.concatenate([b[0] for b in batches])
    kinds = np.concatenate([b[1] for b in batches])
    paths = [p for b in batches for p in b[2]]
    offsets = np.concatenate([b[3] for b in batches])
    lengths = np.concatenate([b[4] for b in batches])
    assert coords.dtype == np.uint32 and coords.tolist() == [[0, 0], [1, 0], [3, 4]]
    assert kinds.tolist() == [3, 1, 2]  # inline, native, virtual (ChunkType values)
    assert batches[0][5] == {0: np.full((2, 3), 7.0).tobytes()}
    assert paths[0] == "" and len(paths[1]) == 20 and paths[2] == prefix + path.name
    assert (tmp_path / "repo" / "chunks" / paths[1]).exists()
    assert offsets.tolist()[2] == 8 and lengths.tolist() == [NBYTES] * 3


def test_sentinels_authorize_containers_that_need_no_credentials(tmp_path: Path) -> None:
    path, values = _source(tmp_path / "src")
    prefix = f"file://{path.parent}/"
    repo = _repo(tmp_path, prefix, auth=LocalFileSystemAccess)
    session = repo.writable_session("main")
    _array(session)
    session.store.set_virtual_refs_arr("v", GRID, *_columns(prefix + path.name))
    session.commit("bulk")
    read = zarr.open_array(repo.readonly_session("main").store, path="v", mode="r")
    np.testing.assert_array_equal(read[:], values)
    assert icechunk.containers_credentials({prefix: LocalFileSystemAccess}) == {
        prefix: LocalFileSystemAccess
    }
    assert pickle.loads(pickle.dumps(LocalFileSystemAccess)) is LocalFileSystemAccess

    wrong = icechunk.Repository.open(repo.storage, authorize_virtual_chunk_access={prefix: HttpAccess})
    with pytest.raises(VirtualChunkError, match="LocalFileSystemAccess"):
        zarr.open_array(wrong.readonly_session("main").store, path="v", mode="r")[:]


# --- set_virtual_refs with many VirtualChunkSpec objects (read as columns) ------------------------


def _spec_values(repo: icechunk.Repository) -> np.ndarray:
    return zarr.open_array(repo.readonly_session("main").store, path="v", mode="r")[:]


def _spec_setup(
    tmp_path: Path,
) -> tuple[icechunk.Repository, icechunk.Session, str, np.ndarray]:
    """A repository with the (8, 15) array ``v`` in a writable session, the URL of its source
    file and the values that file holds."""
    path, values = _source(tmp_path / "src")
    prefix = f"file://{path.parent}/"
    repo = _repo(tmp_path, prefix)
    session = repo.writable_session("main")
    _array(session)
    return repo, session, prefix + path.name, values


def test_many_specs_later_spec_wins_and_reads_back(tmp_path: Path) -> None:
    repo, session, url, values = _spec_setup(tmp_path)
    specs = [
        icechunk.VirtualChunkSpec([i, j], url, 8 + (i * GRID[1] + j) * NBYTES, NBYTES)
        for i in range(GRID[0])
        for j in range(GRID[1])
    ]
    specs.append(icechunk.VirtualChunkSpec([0, 0], url, 8 + 19 * NBYTES, NBYTES))  # wins
    assert session.store.set_virtual_refs("v", specs) is None
    session.commit("specs")
    expected = values.copy()
    expected[0:2, 0:3] = values[6:8, 12:15]
    np.testing.assert_array_equal(_spec_values(repo), expected)


def test_specs_of_another_rank_or_duck_typed_are_checked(tmp_path: Path) -> None:
    repo, session, url, values = _spec_setup(tmp_path)
    good = [icechunk.VirtualChunkSpec([0, j], url, 8 + j * NBYTES, NBYTES) for j in range(5)]
    for odd in ([1], [1, 2, 3], []):
        specs = good + [icechunk.VirtualChunkSpec(odd, url, 8, NBYTES)] + good
        with pytest.raises(InvalidKeyError, match="dimensions|rank|index|coordinates"):
            session.store.set_virtual_refs("v", specs)
    assert session.status().updated_chunks == {}  # nothing staged from the refused calls

    class Spec:  # any object with the fields works (no packed form to read)
        def __init__(self, index: list[int], offset: int) -> None:
            self.index, self.location, self.offset, self.length = index, url, offset, NBYTES
            self.etag_checksum = self.last_updated_at_checksum = None

    ducks = [Spec([1, j], 8 + (GRID[1] + j) * NBYTES) for j in range(GRID[1])]
    assert session.store.set_virtual_refs("v", ducks) is None
    session.commit("ducks")
    got = _spec_values(repo)
    np.testing.assert_array_equal(got[2:4], values[2:4])
    assert np.isnan(got[:2]).all() and np.isnan(got[4:]).all()


def test_one_spec_with_a_checksum_keeps_it(tmp_path: Path) -> None:
    repo, session, url, _ = _spec_setup(tmp_path)
    past = dt.datetime(2001, 1, 1, tzinfo=dt.UTC)  # the file changed since: reads must fail
    specs = [icechunk.VirtualChunkSpec([0, j], url, 8 + j * NBYTES, NBYTES) for j in range(4)]
    specs.append(icechunk.VirtualChunkSpec([0, 4], url, 8, NBYTES, last_updated_at_checksum=past))
    session.store.set_virtual_refs("v", specs)
    session.commit("checksum")
    arr = zarr.open_array(repo.readonly_session("main").store, path="v", mode="r")
    assert not np.isnan(arr[0:2, 0:12]).any()
    with pytest.raises(VirtualChunkError):
        arr[0:2, 12:15]


def test_specs_of_older_location_generations_keep_their_locations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Specs carry small location codes; when the code table starts a new generation, older
    specs must still read from their own file, not from the one that took their code."""
    from icechunk._config.virtual import SPEC_LOCATIONS

    repo, session, url, values = _spec_setup(tmp_path)
    folder = Path(url[len("file://") :]).parent
    monkeypatch.setattr(SPEC_LOCATIONS, "limit", 2)
    rows, specs = [], []
    for i in range(GRID[0]):  # chunk row i from file i: generations change on the way
        path, shifted = _source(folder, f"row{i}.bin", shift=1000.0 * (i + 1))
        rows.append(shifted[2 * i : 2 * i + 2])
        url = f"file://{path}"
        offsets = [8 + (i * GRID[1] + j) * NBYTES for j in range(GRID[1])]
        specs.append(
            [icechunk.VirtualChunkSpec([i, j], url, o, NBYTES) for j, o in enumerate(offsets)]
        )
        session.store.set_virtual_refs("v", specs[-1])  # one generation at a time
    session.store.set_virtual_refs("v", specs[1] + specs[3])  # two generations at once
    session.commit("rows from four files")
    np.testing.assert_array_equal(_spec_values(repo), np.concatenate(rows))
    assert values.shape == (8, 15)

"""A naive datetime means local time everywhere it enters the API.

Each scenario runs in a child process with ``TZ`` set to a zone east of UTC (UTC+10) and one
west of it (UTC-8): reading a naive datetime as UTC shifts every cutoff by hours, which in the
east deletes recent history and in the west keeps what should go.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# POSIX TZ strings: the sign is the offset *to* UTC, so "ICT-10" is UTC+10.
ZONES = {"east (UTC+10)": "ICT-10", "west (UTC-8)": "PST+8"}

_PRELUDE = """
import datetime, os, time
from datetime import timedelta
import numpy as np
import zarr
import icechunk

assert time.localtime().tm_gmtoff != 0, "TZ did not take effect"
root = os.environ["WORKDIR"]
"""


def _run(script: str, tz: str, workdir: Path) -> None:
    env = {**os.environ, "TZ": tz, "WORKDIR": str(workdir)}
    code = _PRELUDE + textwrap.dedent(script)
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(params=sorted(ZONES), ids=sorted(ZONES))
def tz(request: pytest.FixtureRequest) -> str:
    return ZONES[request.param]


def test_expiry_and_gc_keep_the_last_hour(tz: str, tmp_path: Path) -> None:
    """The reference's own idiom: ``datetime.now() - timedelta(...)`` keeps recent snapshots."""
    _run(
        """
        repo = icechunk.Repository.create(icechunk.local_filesystem_storage(root + "/repo"))
        s = repo.writable_session("main")
        # chunks of 800 bytes: stored as chunk objects, not inline
        arr = zarr.create_array(s.store, name="a", shape=(4, 200), chunks=(1, 200), dtype="i4")
        rng = np.random.default_rng(0)
        arr[:] = rng.integers(0, 2**31, size=(4, 200))
        first = s.commit("first")
        s = repo.writable_session("main")
        zarr.open_array(s.store, path="a")[:] = rng.integers(0, 2**31, size=(4, 200))
        second = s.commit("second")
        # an unreachable, recent commit: written, then the branch is reset past it
        s = repo.writable_session("main")
        latest = rng.integers(0, 2**31, size=(4, 200))
        zarr.open_array(s.store, path="a")[:] = latest
        third = s.commit("third")
        repo.reset_branch("main", second)

        hour_ago = datetime.datetime.now() - timedelta(hours=1)
        assert repo.expire_snapshots(hour_ago) == set()
        summary = repo.garbage_collect(hour_ago)
        assert summary.snapshots_deleted == 0 and summary.chunks_deleted == 0, summary
        assert [i.id for i in repo.ancestry(branch="main")][:2] == [second, first]
        np.testing.assert_array_equal(
            zarr.open_array(repo.readonly_session(snapshot_id=third).store, path="a")[:], latest
        )

        # and a naive cutoff just ahead of now does reach the unreachable commit
        soon = datetime.datetime.now() + timedelta(minutes=5)
        summary = repo.garbage_collect(soon, dry_run=True)
        assert summary.snapshots_deleted == 1 and summary.chunks_deleted == 4, summary
        """,
        tz,
        tmp_path,
    )


def test_as_of_picks_the_version_at_that_local_time(tz: str, tmp_path: Path) -> None:
    _run(
        """
        repo = icechunk.Repository.create(icechunk.local_filesystem_storage(root + "/repo"))
        s = repo.writable_session("main")
        zarr.create_array(s.store, name="a", shape=(2,), chunks=(2,), dtype="i4")[:] = 1
        first = s.commit("first")
        time.sleep(0.05)
        between = datetime.datetime.now()
        time.sleep(0.05)
        s = repo.writable_session("main")
        zarr.open_array(s.store, path="a")[:] = 2
        second = s.commit("second")

        assert repo.readonly_session("main", as_of=between).snapshot_id == first
        aware = between.astimezone(datetime.UTC)
        assert repo.readonly_session("main", as_of=aware).snapshot_id == first
        later = datetime.datetime.now()
        assert repo.readonly_session("main", as_of=later).snapshot_id == second
        """,
        tz,
        tmp_path,
    )


def test_virtual_last_updated_at_checksum_is_local_time(tz: str, tmp_path: Path) -> None:
    """A naive ``last_updated_at_checksum`` of now: unchanged reads, a later change refused."""
    _run(
        """
        src = os.path.join(root, "src")
        os.makedirs(src)
        data = np.arange(8, dtype="<i4")
        path = os.path.join(src, "data.bin")
        with open(path, "wb") as f:
            f.write(data.tobytes())
        past = time.time() - 60
        os.utime(path, (past, past))
        prefix = f"file://{src}/"
        config = icechunk.RepositoryConfig.default()
        config.set_virtual_chunk_container(
            icechunk.VirtualChunkContainer(prefix, icechunk.local_filesystem_store(src))
        )
        repo = icechunk.Repository.create(
            icechunk.local_filesystem_storage(root + "/repo"), config,
            authorize_virtual_chunk_access={prefix: None},
        )
        s = repo.writable_session("main")
        arr = zarr.create_array(
            s.store, name="v", shape=(8,), chunks=(8,), dtype="<i4", compressors=None,
            fill_value=0,
        )
        now = datetime.datetime.now()
        s.store.set_virtual_refs("v", [icechunk.VirtualChunkSpec(
            [0], prefix + "data.bin", 0, 32, last_updated_at_checksum=now)])
        s.commit("virtual")
        read = zarr.open_array(repo.readonly_session("main").store, path="v", mode="r")
        np.testing.assert_array_equal(read[:], data)
        later = time.time() + 120
        os.utime(path, (later, later))
        try:
            read[:]
        except icechunk.IcechunkError as e:
            assert "changed" in str(e) or "modified" in str(e), e
        else:
            raise AssertionError("a source modified after the checksum time was read")
        """,
        tz,
        tmp_path,
    )


def test_credential_expiry_is_local_time(tz: str, tmp_path: Path) -> None:
    _run(
        """
        naive = datetime.datetime.now() + timedelta(minutes=30)
        creds = icechunk.S3StaticCredentials(
            access_key_id="a", secret_access_key="b", expires_after=naive
        )
        assert creds.expires_after.tzinfo is not None
        assert creds.expires_after.timestamp() == naive.timestamp()
        bearer = icechunk.GcsBearerCredential("t", expires_after=naive)
        assert bearer.expires_after.timestamp() == naive.timestamp()
        """,
        tz,
        tmp_path,
    )

"""The ``icechunk`` command line: through click's runner, as a subprocess, on local storage and
on the S3 server of the tests (moto)."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import zarr
from _require import require_that
from click.testing import CliRunner, Result
from http_server import serve_directory
from storage.test_azure import ACCOUNT as AZURE_ACCOUNT
from storage.test_azure import KEY as AZURE_KEY
from storage.test_azure import azurite_endpoint, container  # noqa: F401  (shared fixtures)
from storage.test_gcs import create_bucket, gcs_endpoint  # noqa: F401  (shared fixtures)
from storage.test_s3 import REGION, bucket, moto_endpoint  # noqa: F401  (shared fixtures)

import icechunk
from icechunk._cli import cli
from icechunk._cli._address import LocationError, StorageOptions, storage_for
from icechunk._cli._util import DateTime
from icechunk._exceptions import IcechunkError

BIN = Path(sys.executable).parent


def run(*args: str, ok: bool = True) -> Result:
    result = CliRunner().invoke(cli, list(args))
    if ok:
        assert result.exit_code == 0, (result.output, result.exception)
    return result


def _populate(repo: icechunk.Repository) -> dict[str, str]:
    """Two commits on main, a branch and a tag at the first; the snapshot ids by name."""
    s = repo.writable_session("main")
    root = zarr.group(s.store)
    root.create_group("sub").create_array(
        "temp", shape=(10, 4), chunks=(5, 2), dtype="f4", fill_value=0
    )[:] = 1.0
    first = s.commit("first commit", metadata={"author": "ana"})
    s = repo.writable_session("main")
    root = zarr.open_group(s.store)
    root["sub/temp"][0, 0] = 5.0
    root.attrs["title"] = "t"
    root.create_array("extra", shape=(3,), chunks=(3,), dtype="i8", fill_value=0)
    second = s.commit("second commit")
    repo.create_branch("dev", first)
    repo.create_tag("v1", first)
    return {"first": first, "second": second}


@pytest.fixture
def local(tmp_path: Path) -> tuple[str, icechunk.Repository, dict[str, str]]:
    path = str(tmp_path / "repo")
    repo = icechunk.Repository.create(icechunk.local_filesystem_storage(path))
    return path, repo, _populate(repo)


# --- log, show, diff, ls ---------------------------------------------------------------------


def test_log_text_shows_history_with_refs(local) -> None:
    path, _, ids = local
    out = run("-r", path, "log").output
    assert out.index("second commit") < out.index("first commit") < out.index("initialized")
    assert f"snapshot {ids['second']} (main)" in out
    assert f"snapshot {ids['first']} (dev, tag: v1)" in out
    assert 'author: "ana"' in out


def test_log_json_limit_and_versions(local) -> None:
    path, _, ids = local
    entries = json.loads(run("-r", path, "log", "-n", "1", "--json").output)
    assert [e["id"] for e in entries] == [ids["second"]]
    assert entries[0]["parent_id"] == ids["first"] and entries[0]["message"] == "second commit"
    for option in (["--tag", "v1"], ["--branch", "dev"], ["--snapshot", ids["first"]]):
        entries = json.loads(run("-r", path, "log", "--json", *option).output)
        assert [e["message"] for e in entries] == ["first commit", "Repository initialized"]
    bad = run("-r", path, "log", "--tag", "v1", "--branch", "dev", ok=False)
    assert bad.exit_code == 2


def test_show_lists_message_metadata_and_nodes(local) -> None:
    path, _, ids = local
    out = run("-r", path, "show", "v1").output
    assert ids["first"] in out and "first commit" in out and "author" in out
    assert "array  /sub/temp" in out and "group  /sub" in out and "/extra" not in out
    described = json.loads(run("-r", path, "show", ids["second"], "--json").output)
    assert {n["path"] for n in described["nodes"]} == {"/", "/sub", "/sub/temp", "/extra"}


def test_diff_text_and_json(local) -> None:
    path, repo, ids = local
    out = run("-r", path, "diff", "v1", "main").output
    assert out == str(repo.diff(from_tag="v1", to_branch="main"))
    data = json.loads(run("-r", path, "diff", ids["first"], "main", "--json").output)
    assert data["new_arrays"] == ["/extra"]
    assert data["updated_groups"] == ["/"]
    assert data["updated_chunks"] == {"/sub/temp": [[0, 0]], "/extra": [[0]]} or data[
        "updated_chunks"
    ] == {"/sub/temp": [[0, 0]]}
    assert run("-r", path, "diff", "main", "main").output == "No changes.\n"


def test_ls_tree_with_shapes_dtypes_chunks(local) -> None:
    path, _, ids = local
    lines = run("-r", path, "ls").output.splitlines()
    assert lines[0] == "/"
    assert "/sub/" in lines
    assert "/sub/temp  (10, 4) float32 chunks=(5, 2)" in lines
    assert "/extra  (3,) int64 chunks=(3,)" in lines
    old = run("-r", path, "ls", "--snapshot", ids["first"]).output
    assert "/extra" not in old and "/sub/temp" in old
    rows = json.loads(run("-r", path, "ls", "sub/temp", "--json").output)
    assert rows == [
        {
            "path": "/sub/temp",
            "type": "array",
            "shape": [10, 4],
            "dtype": "float32",
            "chunks": [5, 2],
            "shards": None,
        }
    ]
    missing = run("-r", path, "ls", "nope", ok=False)
    assert missing.exit_code == 1 and "no group or array at 'nope'" in missing.output


# --- branches and tags -----------------------------------------------------------------------


def test_branch_list_create_delete(local) -> None:
    path, repo, ids = local
    assert run("-r", path, "branch").output.splitlines() == [
        f"dev  {ids['first']}",
        f"main  {ids['second']}",
    ]
    run("-r", path, "branch", "create", "feature", "v1")
    assert repo.lookup_branch("feature") == ids["first"]
    run("-r", path, "branch", "create", "tip")
    assert repo.lookup_branch("tip") == ids["second"]
    run("-r", path, "branch", "delete", "feature")
    assert "feature" not in repo.list_branches()
    assert json.loads(run("-r", path, "branch", "list", "--json").output)["tip"] == ids["second"]
    protected = run("-r", path, "branch", "delete", "main", ok=False)
    assert protected.exit_code == 1 and "main" in protected.output


def test_branch_reset_with_safety_check(local) -> None:
    path, repo, ids = local
    wrong = run("-r", path, "branch", "reset", "dev", "main", "--from", ids["second"], ok=False)
    assert wrong.exit_code == 1
    assert "Traceback" not in wrong.output and len(wrong.output.strip().splitlines()) == 1
    assert repo.lookup_branch("dev") == ids["first"]  # untouched
    out = run("-r", path, "branch", "reset", "dev", "main", "--from", ids["first"]).output
    assert repo.lookup_branch("dev") == ids["second"]
    assert ids["first"] in out and ids["second"] in out
    run("-r", path, "branch", "reset", "dev", ids["first"])  # default check: the tip now
    assert repo.lookup_branch("dev") == ids["first"]


def test_tag_list_create_delete(local) -> None:
    path, repo, ids = local
    run("-r", path, "tag", "create", "v2")
    assert repo.lookup_tag("v2") == ids["second"]
    assert run("-r", path, "tag").output.splitlines() == [
        f"v1  {ids['first']}",
        f"v2  {ids['second']}",
    ]
    run("-r", path, "tag", "delete", "v2")
    assert repo.list_tags() == {"v1"}
    again = run("-r", path, "tag", "create", "v2", ok=False)
    assert again.exit_code == 1 and "v2" in again.output


# --- maintenance -----------------------------------------------------------------------------


def test_expire_dry_run_then_yes(local) -> None:
    path, repo, ids = local
    time.sleep(0.01)
    dry = run("-r", path, "expire", "--older-than", "now").output
    assert "Would expire 2 snapshots" in dry and ids["first"] in dry and "--yes" in dry
    assert len(list(repo.ancestry(branch="main"))) == 3  # nothing changed
    data = json.loads(run("-r", path, "expire", "--older-than", "now", "--json").output)
    assert data == {
        "dry_run": True,
        "expired": sorted([ids["first"], ids["second"]]),
        "deleted_refs": [],
    }
    with_refs = run(
        "-r", path, "expire", "--older-than", "now", "--delete-expired-branches", "--json"
    ).output
    assert json.loads(with_refs)["deleted_refs"] == [{"kind": "branch", "name": "dev"}]
    assert "dev" in repo.list_branches()
    done = run("-r", path, "expire", "--older-than", "now", "--yes").output
    assert "Expired 2 snapshots" in done and "Dry run" not in done
    fresh = icechunk.Repository.open(repo.storage)  # `repo` caches the snapshots it read
    assert next(fresh.ancestry(branch="main")).id == ids["second"]
    assert len(list(fresh.ancestry(branch="main"))) == 2


def test_gc_dry_run_then_yes(local) -> None:
    path, repo, ids = local
    repo.reset_branch("main", ids["first"])
    repo.delete_tag("v1")
    expected = repo.garbage_collect(dt.datetime.now(dt.UTC), dry_run=True)
    assert expected.snapshots_deleted == 1
    dry = json.loads(run("-r", path, "gc", "--older-than", "now", "--json").output)
    assert dry == {
        "dry_run": True,
        "snapshots": 1,
        "transaction_logs": expected.transaction_logs_deleted,
        "manifests": expected.manifests_deleted,
        "chunks": expected.chunks_deleted,
        "bytes": expected.bytes_deleted,
    }
    text = run("-r", path, "gc", "--older-than", "now", "--yes").output
    assert text.startswith("Deleted:") and "snapshots        1" in text
    assert repo.garbage_collect(dt.datetime.now(dt.UTC), dry_run=True).snapshots_deleted == 0
    with pytest.raises(IcechunkError):
        icechunk.Repository.open(repo.storage).lookup_snapshot(ids["second"])


def test_dates_absolute_relative_and_naive_is_local() -> None:
    parse = DateTime().convert
    naive = parse("2024-05-01T12:30", None, None)
    assert naive == dt.datetime(2024, 5, 1, 12, 30) and naive.tzinfo is None
    assert parse("2024-05-01T12:30Z", None, None).tzinfo is not None
    cutoff = parse("30d", None, None)
    age = dt.datetime.now(dt.UTC) - cutoff
    assert dt.timedelta(days=30) <= age < dt.timedelta(days=30, minutes=1)
    bad = run("-r", ".", "gc", "--older-than", "yesterday", ok=False)
    assert bad.exit_code == 2 and "not a date" in bad.output


@pytest.mark.skipif(sys.platform == "win32", reason="TZ is POSIX")
def test_naive_date_is_local_time_end_to_end(local) -> None:
    """In a zone east of UTC a naive cutoff read as UTC would expire recent snapshots."""
    path, repo, ids = local
    written = repo.lookup_snapshot(ids["second"]).written_at
    tokyo = dt.timezone(dt.timedelta(hours=9))
    before = (written - dt.timedelta(minutes=1)).astimezone(tokyo).replace(tzinfo=None)
    after = (written + dt.timedelta(minutes=1)).astimezone(tokyo).replace(tzinfo=None)
    env = {**os.environ, "TZ": "Asia/Tokyo"}

    def expire(cutoff: dt.datetime) -> str:
        command = ["-m", "icechunk", "-r", path, "expire", "--older-than", cutoff.isoformat()]
        return subprocess.run(
            [sys.executable, *command], env=env, capture_output=True, text=True, check=True
        ).stdout

    assert ids["second"] not in expire(before)
    assert ids["second"] in expire(after)


# --- init, config, info ----------------------------------------------------------------------


def test_init_with_config_and_refuses_existing(tmp_path: Path) -> None:
    path = str(tmp_path / "new")
    config_file = tmp_path / "config.yaml"
    config = icechunk.RepositoryConfig.default()
    config.inline_chunk_threshold_bytes = 77
    from icechunk._config import config_to_yaml

    config_file.write_bytes(config_to_yaml(config))
    out = run("-r", path, "init", "--config", str(config_file)).output
    assert "Initialized empty Icechunk repository" in out
    repo = icechunk.Repository.open(icechunk.local_filesystem_storage(path))
    assert repo.config.inline_chunk_threshold_bytes == 77
    again = run("-r", path, "init", ok=False)
    assert again.exit_code == 1 and "Traceback" not in again.output


def test_config_show_and_set(local) -> None:
    path, _, _ = local
    assert "inline_chunk_threshold_bytes: null" in run("-r", path, "config", "show").output
    run("-r", path, "config", "set", "inline_chunk_threshold_bytes", "99")
    run("-r", path, "config", "set", "compression.level", "4")
    fetched = icechunk.Repository.fetch_config(icechunk.local_filesystem_storage(path))
    assert fetched is not None and fetched.inline_chunk_threshold_bytes == 99
    assert fetched.compression is not None and fetched.compression.level == 4
    shown = json.loads(run("-r", path, "config", "show", "--json").output)
    assert shown["inline_chunk_threshold_bytes"] == 99
    for key in ("bogus", "compression.levle"):
        bad = run("-r", path, "config", "set", key, "1", ok=False)
        assert bad.exit_code == 1 and "unknown setting" in bad.output
    bad = run("-r", path, "config", "set", "inline_chunk_threshold_bytes", "abc", ok=False)
    assert bad.exit_code == 1 and "integer" in bad.output


def test_info_counts_and_chunk_stats(local) -> None:
    path, repo, _ = local
    data = json.loads(run("-r", path, "info", "--json").output)
    stats = repo.chunk_storage_stats()
    assert data["spec_version"] == 1 and data["branches"] == 2 and data["tags"] == 1
    assert data["objects"]["snapshots"]["objects"] == 3
    assert data["chunk_storage"] == {
        "native_bytes": stats.native_bytes,
        "inline_bytes": stats.inlined_bytes,
        "virtual_bytes": stats.virtual_bytes,
    }
    text = run("-r", path, "info").output
    assert "Spec version:  1" in text and "Reachable chunks:" in text


# --- errors and exit codes -------------------------------------------------------------------


def test_user_errors_one_line_exit_1_and_debug_traceback(tmp_path: Path) -> None:
    missing = str(tmp_path / "none")
    result = run("-r", missing, "log", ok=False)
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and len(result.output.strip().splitlines()) == 1
    assert "icechunk -r" in result.output and "init" in result.output
    debug = run("--debug", "-r", missing, "log", ok=False)
    assert isinstance(debug.exception, IcechunkError)
    assert run("nonsense-command", ok=False).exit_code == 2
    assert run("-r", missing, "diff", ok=False).exit_code == 2  # missing argument
    unknown = run("-r", "ftp://host/x", "log", ok=False)
    assert unknown.exit_code == 1 and "unknown repository URL scheme" in unknown.output


def test_progress_flag_shows_bars(local) -> None:
    path, _, _ = local
    result = CliRunner().invoke(cli, ["--progress", "-r", path, "gc", "--older-than", "now"])
    assert result.exit_code == 0
    assert "Walking history" in result.output and "Scanning chunks" in result.output
    quiet = run("-r", path, "gc", "--older-than", "now").output  # not a terminal: no bars
    assert "Walking history" not in quiet


# --- addresses -------------------------------------------------------------------------------


def test_locations_map_onto_storage_factories(tmp_path: Path) -> None:
    opts = StorageOptions(endpoint_url="http://127.0.0.1:1", region="eu-west-1")
    s3 = repr(storage_for("s3://bkt/some/prefix", opts))
    assert "bkt" in s3 and "some/prefix" in s3 and "http://127.0.0.1:1" in s3
    assert "bkt" in repr(storage_for("gs://bkt/p", StorageOptions(anonymous=True)))
    azure = repr(storage_for("az://cont/p", StorageOptions(account="acct")))
    assert "acct" in azure and "cont" in azure
    assert "example.com" in repr(storage_for("https://example.com/r", StorageOptions()))
    local = repr(storage_for(str(tmp_path), StorageOptions()))
    assert str(tmp_path) in local
    assert str(tmp_path) in repr(storage_for(f"file://{tmp_path}", StorageOptions()))
    with pytest.raises(LocationError, match="--account"):
        storage_for("az://cont/p", StorageOptions())
    with pytest.raises(LocationError, match="bucket"):
        storage_for("s3:///p", StorageOptions())


# --- as a subprocess ---------------------------------------------------------------------------


def test_subprocess_module_and_console_script(local) -> None:
    path, _, ids = local
    module = subprocess.run(
        [sys.executable, "-m", "icechunk", "-r", path, "log", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(module.stdout)[0]["id"] == ids["second"]
    script = BIN / "icechunk"
    require_that(script.exists(), "the icechunk console script is not installed (pip install -e .)")
    tags = subprocess.run(
        [str(script), "-r", path, "tag"], capture_output=True, text=True, check=True
    )
    assert tags.stdout == f"v1  {ids['first']}\n"
    error = subprocess.run(
        [str(script), "-r", path, "branch", "delete", "main"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert error.returncode == 1 and "Traceback" not in error.stderr, error.stderr
    assert error.stderr.startswith("Error: ") and error.stderr.count("\n") == 1, error.stderr
    usage = subprocess.run([str(script), "--bogus"], capture_output=True, text=True, check=False)
    assert usage.returncode == 2


# --- on S3 (moto) ------------------------------------------------------------------------------


def _s3_args(endpoint: str, bucket_name: str) -> list[str]:
    return [
        "-r",
        f"s3://{bucket_name}/repo",
        "--endpoint-url",
        endpoint,
        "--region",
        REGION,
        "--force-path-style",
    ]


def test_s3_init_write_and_inspect(moto_endpoint: str, bucket: str) -> None:  # noqa: F811
    args = _s3_args(moto_endpoint, bucket)
    run(*args, "init")
    storage = icechunk.s3_storage(
        bucket=bucket,
        prefix="repo",
        region=REGION,
        endpoint_url=moto_endpoint,
        allow_http=True,
        access_key_id="testing",
        secret_access_key="testing",
        force_path_style=True,
    )
    ids = _populate(icechunk.Repository.open(storage))
    out = run(*args, "log").output
    assert f"snapshot {ids['second']} (main)" in out
    run(*args, "branch", "create", "feature", "v1")
    assert icechunk.Repository.open(storage).lookup_branch("feature") == ids["first"]
    assert "/sub/temp  (10, 4) float32 chunks=(5, 2)" in run(*args, "ls").output
    gc = json.loads(run(*args, "gc", "--older-than", "now", "--json").output)
    assert gc["dry_run"] is True
    proc = subprocess.run(
        [sys.executable, "-m", "icechunk", *args, "tag", "list", "--json"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ},
    )
    assert json.loads(proc.stdout) == {"v1": ids["first"]}


def test_s3_missing_repository_is_one_line_error(moto_endpoint: str, bucket: str) -> None:  # noqa: F811
    args = _s3_args(moto_endpoint, bucket)
    result = run(*args, "log", ok=False)
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1
    assert "Traceback" not in result.output


# --- on GCS (fake-gcs-server) and Azure (Azurite) ------------------------------------------------


def test_gcs_url(gcs_endpoint: str) -> None:  # noqa: F811
    name = f"cli-{uuid.uuid4().hex[:12]}"
    create_bucket(gcs_endpoint, name)
    args = ["-r", f"gs://{name}/repo", "--endpoint-url", gcs_endpoint, "--anonymous"]
    run(*args, "init")
    run(*args, "tag", "create", "start")
    assert json.loads(run(*args, "log", "--json").output)[0]["message"] == (
        "Repository initialized"
    )
    assert "start" in run(*args, "tag").output


def test_azure_url_with_credentials_from_env(
    azurite_endpoint: str,  # noqa: F811
    container: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_KEY", AZURE_KEY)
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_NAME", AZURE_ACCOUNT)
    args = ["-r", f"az://{container}/repo", "--endpoint-url", azurite_endpoint]
    run(*args, "init")
    run(*args, "branch", "create", "dev")
    assert json.loads(run(*args, "branch", "list", "--json").output).keys() == {"dev", "main"}


def test_http_url_reads_and_refuses_writes(local) -> None:
    path, _, ids = local
    with serve_directory(Path(path)) as url:
        assert json.loads(run("-r", url, "log", "--json").output)[0]["id"] == ids["second"]
        assert "/sub/temp  (10, 4) float32" in run("-r", url, "ls").output
        refused = run("-r", url, "tag", "create", "v9", ok=False)
        assert refused.exit_code == 1 and "Traceback" not in refused.output


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_progress_by_default_on_a_terminal(local) -> None:
    import fcntl
    import pty
    import struct
    import termios

    path, _, _ = local
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # 100 columns
    try:
        done = subprocess.run(
            [sys.executable, "-m", "icechunk", "-r", path, "gc", "--older-than", "now"],
            stdout=subprocess.PIPE,
            stderr=slave,
            check=True,
        )
        os.close(slave)
        chunks = []
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:  # the terminal closed
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(master)
    terminal = b"".join(chunks).decode(errors="replace")
    assert "Walking history" in terminal and "Scanning chunks" in terminal
    assert b"Would delete:" in done.stdout

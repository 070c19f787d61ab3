"""Log filter directives (upstream's syntax) and the records the engine writes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from unittest import mock

import pytest

import icechunk as ic


@pytest.fixture(autouse=True)
def _restore_default_filter() -> Iterator[None]:
    yield
    ic.set_logs_filter("warn")


def _create_and_commit() -> None:
    import zarr

    repo = ic.Repository.create(ic.in_memory_storage())
    session = repo.writable_session("main")
    zarr.group(session.store)
    session.commit("group")


@pytest.mark.parametrize(
    "directive", ["debug", "icechunk=debug", "icechunk:debug", "warn,icechunk::_core=trace,icechunk::_refs:debug"]
)
def test_debug_directives_print_engine_records_on_stdout(
    directive: str, capfd: pytest.CaptureFixture[str]
) -> None:
    ic.set_logs_filter(directive)
    _create_and_commit()
    out = capfd.readouterr().out
    assert "DEBUG" in out and "Creating Repository" in out
    assert "Committing session to branch 'main'" in out and "Updating branch 'main'" in out


@pytest.mark.parametrize("directive", ["false", "0", "", "warn", "debug,icechunk=off"])
def test_quiet_directives_print_nothing(directive: str, capfd: pytest.CaptureFixture[str]) -> None:
    ic.set_logs_filter(directive)
    _create_and_commit()
    assert capfd.readouterr().out == ""


def test_none_reads_the_environment(capfd: pytest.CaptureFixture[str]) -> None:
    with mock.patch.dict(os.environ, {"ICECHUNK_LOG": "debug"}):
        ic.set_logs_filter(None)
    ic.Repository.create(ic.in_memory_storage())
    assert "Creating Repository" in capfd.readouterr().out
    with mock.patch.dict(os.environ, {"ICECHUNK_LOG": "icechunk=nonsense"}):
        ic.set_logs_filter(None)  # malformed: a warning, never an exception
    captured = capfd.readouterr()
    assert "WARNING" in captured.err and "nonsense" in captured.err


@pytest.mark.parametrize("target", ["icehunk", "icecunk", "iecchunk", "ichunk", "icehunk::repository"])
def test_misspelled_targets_warn_on_stderr(target: str, capfd: pytest.CaptureFixture[str]) -> None:
    ic.set_logs_filter(f"debug,{target}:trace,tokio::io:warn")
    err = capfd.readouterr().err
    assert "WARNING" in err and target in err and "tokio" not in err


@pytest.mark.parametrize(
    "directive", ["icechunk:debug", "icechunk::repository:trace", "trace", "tokio:debug", "ice:debug", "chunk:info"]
)
def test_correct_or_unrelated_targets_do_not_warn(
    directive: str, capfd: pytest.CaptureFixture[str]
) -> None:
    ic.set_logs_filter(directive)
    assert "WARNING" not in capfd.readouterr().err


def test_a_later_filter_replaces_target_levels(capfd: pytest.CaptureFixture[str]) -> None:
    ic.set_logs_filter("icechunk::_core::repository=debug")
    ic.Repository.create(ic.in_memory_storage())
    assert "Creating Repository" in capfd.readouterr().out
    ic.set_logs_filter("warn")
    ic.Repository.create(ic.in_memory_storage())
    assert capfd.readouterr().out == ""


def test_caches_too_small_for_an_object_warn_once_each(capfd: pytest.CaptureFixture[str]) -> None:
    import zarr

    ic.set_logs_filter("warn")
    config = ic.RepositoryConfig(caching=ic.CachingConfig(num_chunk_refs=0, num_snapshot_nodes=0))
    repo = ic.Repository.create(ic.in_memory_storage(), config=config)
    session = repo.writable_session("main")
    for name in ("a", "b"):
        zarr.create_array(session.store, name=name, shape=(10,), chunks=(2,), dtype="i8")[:] = 1
    session.commit("two arrays")
    out = capfd.readouterr().out
    assert out.count("WARN") == 2
    assert "A manifest with 5 chunk references" in out and "keep 0 references" in out
    assert "A snapshot with 3 nodes" in out and "keep 0 nodes" in out
    assert "CachingConfig.num_chunk_refs" in out


def test_expiry_and_gc_write_debug_records(capfd: pytest.CaptureFixture[str]) -> None:
    import datetime as dt

    ic.set_logs_filter("icechunk=debug")
    repo = ic.Repository.create(ic.in_memory_storage())
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    repo.expire_snapshots(later)
    repo.garbage_collect(later)
    out = capfd.readouterr().out
    assert "Expiring snapshots" in out and "Expiry done" in out
    assert "Garbage collection started" in out and "Garbage collection done" in out

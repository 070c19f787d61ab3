"""Helpers of the command line: the shared state, dates, revisions, JSON and tables."""

from __future__ import annotations

import datetime as _dt
import json
import re
import sys
from dataclasses import dataclass, field
from typing import Any

import click

from .._exceptions import IcechunkError, RefNotFoundError, RepositoryNotFoundError
from .._format.ids import is_object_id
from .._snapshots import DIFF_PATH_FIELDS, Diff, SnapshotInfo
from ..repository import Repository
from ..storage import Storage
from ._address import StorageOptions, storage_for


class RevisionError(IcechunkError, ValueError):
    """A revision names no branch, tag or snapshot."""


@dataclass
class State:
    """What the global options of ``icechunk`` decided, shared by every command."""

    location: str
    storage_options: StorageOptions
    debug: bool = False
    progress: bool | None = None
    _repo: Repository | None = field(default=None, repr=False)

    def storage(self) -> Storage:
        """The storage the repository location names."""
        return storage_for(self.location, self.storage_options)

    def repo(self) -> Repository:
        """The repository at the location, opened once."""
        if self._repo is None:
            try:
                self._repo = Repository.open(self.storage())
            except RepositoryNotFoundError:
                raise RepositoryNotFoundError(
                    f"no Icechunk repository at {self.location!r}: create one with "
                    f"'icechunk -r {self.location} init', or name another with --repo"
                ) from None
        return self._repo

    def show_progress(self) -> bool:
        """Progress bars: as asked, else when standard error is a terminal."""
        return sys.stderr.isatty() if self.progress is None else self.progress


_RELATIVE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class DateTime(click.ParamType):
    """A date: ISO 8601 (``2024-05-01``, ``2024-05-01T12:00``, ``...+02:00``), ``now``, or an age
    such as ``30d``, ``12h``, ``2w`` (before now). A date without a zone is local time."""

    name = "DATE"

    def convert(self, value: Any, param: Any, ctx: Any) -> _dt.datetime:
        if isinstance(value, _dt.datetime):
            return value
        text = str(value).strip()
        if text.lower() == "now":
            return _dt.datetime.now(_dt.UTC)
        age = _RELATIVE.match(text.lower())
        if age:
            delta = _dt.timedelta(**{_UNITS[age.group(2)]: int(age.group(1))})
            return _dt.datetime.now(_dt.UTC) - delta
        try:
            # naive results stay naive: the API reads them as local time (icechunk._time)
            return _dt.datetime.fromisoformat(text)
        except ValueError:
            self.fail(
                f"{value!r} is not a date: use ISO 8601 (2024-05-01 or 2024-05-01T12:00:00, "
                "local time unless a zone is given), 'now', or an age such as 30d, 12h, 2w",
                param,
                ctx,
            )


def resolve(repo: Repository, revision: str) -> str:
    """The snapshot id a revision names: a branch, a tag (``tag:`` to force), or an id.

    Raises
    ------
    RevisionError
        When it names nothing in the repository.
    """
    if revision.startswith("tag:"):
        return repo.lookup_tag(revision[4:])
    if revision.startswith("branch:"):
        return repo.lookup_branch(revision[7:])
    for lookup in (repo.lookup_branch, repo.lookup_tag):
        try:
            return lookup(revision)
        except (RefNotFoundError, ValueError):
            pass
    if is_object_id(revision):
        repo.lookup_snapshot(revision)  # fails clearly when missing
        return revision
    raise RevisionError(
        f"{revision!r} is not a branch, a tag or a snapshot id; list them with "
        "'icechunk branch', 'icechunk tag' and 'icechunk log'"
    )


def pick_version(
    repo: Repository, branch: str | None, tag: str | None, snapshot: str | None
) -> dict[str, str]:
    """The ``branch=``/``tag=``/``snapshot_id=`` keywords of ``--branch/--tag/--snapshot``.

    ``--snapshot`` takes any revision. With none of them: the ``main`` branch.
    """
    given = [x for x in (branch, tag, snapshot) if x is not None]
    if len(given) > 1:
        raise click.UsageError("give at most one of --branch, --tag and --snapshot")
    if tag is not None:
        return {"tag": tag}
    if snapshot is not None:
        return {"snapshot_id": resolve(repo, snapshot)}
    return {"branch": branch or "main"}


def iso(when: _dt.datetime) -> str:
    """A UTC time in ISO 8601 with a ``Z``."""
    return when.astimezone(_dt.UTC).isoformat().replace("+00:00", "Z")


def snapshot_json(info: SnapshotInfo) -> dict[str, Any]:
    """A snapshot as JSON-ready data."""
    return {
        "id": info.id,
        "parent_id": info.parent_id,
        "written_at": iso(info.written_at),
        "message": info.message,
        "metadata": info.metadata,
    }


def diff_json(diff: Diff) -> dict[str, Any]:
    """A diff as JSON-ready data (paths sorted)."""
    data: dict[str, Any] = {name: sorted(getattr(diff, name)) for name in DIFF_PATH_FIELDS}
    data["updated_chunks"] = {
        path: sorted(list(map(int, c)) for c in chunks)
        for path, chunks in sorted(diff.updated_chunks.items())
    }
    return data


def echo_json(data: Any) -> None:
    """Print ``data`` as indented JSON."""
    click.echo(json.dumps(data, indent=2, default=str))


def human_bytes(n: int) -> str:
    """``1536`` as ``1.5 KiB``."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")

"""Rich display in notebooks: the HTML of ``_repr_html_`` for every public object, in one place.

Every function returns a well-formed fragment (each tag closed, every value escaped), so the
output also parses as XML. Long lists are cut after :data:`MAX_ROWS` rows, with a row saying
how many more there are. Also :class:`History`, the ancestry of a version as a list that shows
as a table.
"""

from __future__ import annotations

import datetime as _dt
import html
import itertools
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._snapshots import Diff, SnapshotInfo
    from .repository import Repository
    from .session import Session

__all__ = ["History", "diff_html", "repository_html", "session_html", "snapshot_info_html"]

MAX_ROWS = 50  # rows of one table before "... N more"
SHOWN_COORDS = 5  # chunk coordinates listed per array of a Diff

_STYLE = "font-family: monospace; border-collapse: collapse; text-align: left"


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _time(when: _dt.datetime) -> str:
    return when.astimezone(_dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]], limit: int = MAX_ROWS) -> str:
    """An HTML table of ``rows`` (values escaped), cut after ``limit`` rows."""
    head = "".join(f"<th>{_esc(h)}</th>" for h in headers)
    body = [
        "<tr>" + "".join(f"<td>{_esc(cell)}</td>" for cell in row) + "</tr>" for row in rows[:limit]
    ]
    if len(rows) > limit:
        body.append(f'<tr><td colspan="{len(headers)}">... {len(rows) - limit} more</td></tr>')
    if not rows:
        body.append(f'<tr><td colspan="{len(headers)}">(none)</td></tr>')
    return (
        f'<table style="{_STYLE}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _fields(pairs: Sequence[tuple[str, Any]]) -> str:
    """A two-column table of names and values."""
    rows = "".join(f"<tr><th>{_esc(k)}</th><td>{_esc(v)}</td></tr>" for k, v in pairs)
    return f'<table style="{_STYLE}"><tbody>{rows}</tbody></table>'


def _card(title: str, *parts: str) -> str:
    return f'<div class="icechunk-repr"><strong>{_esc(title)}</strong>{"".join(parts)}</div>'


def _section(title: str, body: str) -> str:
    return f'<details open="open"><summary>{_esc(title)}</summary>{body}</details>'


# --- repository --------------------------------------------------------------------------------


def config_summary(config: Any) -> list[tuple[str, Any]]:
    """The settings of a ``RepositoryConfig`` that are set, as ``(name, value)`` pairs."""
    pairs: list[tuple[str, Any]] = []
    for name in (
        "inline_chunk_threshold_bytes",
        "get_partial_values_concurrency",
        "max_concurrent_requests",
        "compression",
        "caching",
        "storage",
        "manifest",
    ):
        value = getattr(config, name, None)
        if value is not None:
            pairs.append((name, value))
    containers = getattr(config, "virtual_chunk_containers", None) or {}
    if containers:
        pairs.append(("virtual_chunk_containers", ", ".join(sorted(containers))))
    return pairs


def repository_html(repo: Repository) -> str:
    """The HTML of a repository: storage, branches and tags with their snapshots, config."""
    branches = sorted(repo.list_branches())
    tags = sorted(repo.list_tags())
    branch_rows = [(b, repo.lookup_branch(b)) for b in branches[:MAX_ROWS]]
    branch_rows += [(b, "") for b in branches[MAX_ROWS:]]
    tag_rows = [(t, repo.lookup_tag(t)) for t in tags[:MAX_ROWS]]
    tag_rows += [(t, "") for t in tags[MAX_ROWS:]]
    settings = config_summary(repo.config) or [("(defaults)", "")]
    return _card(
        "icechunk.Repository",
        _fields([("storage", repo.storage)]),
        _section(f"Branches ({len(branches)})", _table(("branch", "snapshot"), branch_rows)),
        _section(f"Tags ({len(tags)})", _table(("tag", "snapshot"), tag_rows)),
        _section("Configuration", _fields(settings)),
    )


# --- session -----------------------------------------------------------------------------------


def change_counts(diff: Diff) -> dict[str, int]:
    """How many nodes and chunks a diff (or a session's status) changes."""
    nodes = sum(
        len(paths)
        for paths in (
            diff.new_groups,
            diff.new_arrays,
            diff.deleted_groups,
            diff.deleted_arrays,
            diff.updated_groups,
            diff.updated_arrays,
        )
    )
    chunks = sum(len(c) for c in diff.updated_chunks.values())
    return {"nodes": nodes, "chunks": chunks}


def session_html(session: Session) -> str:
    """The HTML of a session: branch, base snapshot, mode, uncommitted changes."""
    pairs: list[tuple[str, Any]] = [
        ("branch", session.branch if session.branch is not None else "(none)"),
        ("base snapshot", session.snapshot_id),
        ("mode", "read-only" if session.read_only else "writable"),
    ]
    parts = []
    if not session.read_only:
        status = session.status()
        counts = change_counts(status)
        pairs.append(
            (
                "uncommitted changes",
                f"{counts['nodes']} nodes, {counts['chunks']} chunks"
                if session.has_uncommitted_changes
                else "none",
            )
        )
        if session.has_uncommitted_changes:
            parts.append(_section("Uncommitted changes", _diff_tables(status)))
    return _card(f"icechunk.{type(session).__name__}", _fields(pairs), *parts)


# --- diff --------------------------------------------------------------------------------------


def _coords(index: Sequence[int]) -> str:
    return "[" + ", ".join(str(int(i)) for i in index) + "]"


def _diff_tables(diff: Diff) -> str:
    rows: list[tuple[str, str, str]] = []
    for change, node, paths in (
        ("new", "group", diff.new_groups),
        ("new", "array", diff.new_arrays),
        ("updated (definition or attributes)", "group", diff.updated_groups),
        ("updated (definition or attributes)", "array", diff.updated_arrays),
        ("deleted", "group", diff.deleted_groups),
        ("deleted", "array", diff.deleted_arrays),
    ):
        rows += [(change, node, p) for p in sorted(paths)]
    chunk_rows = []
    for path, chunks in sorted(diff.updated_chunks.items()):
        first = sorted(chunks)[:SHOWN_COORDS]
        shown = " ".join(_coords(c) for c in first) + (" ..." if len(chunks) > len(first) else "")
        chunk_rows.append((path, len(chunks), shown))
    return _table(("change", "node", "path"), rows) + _table(
        ("array", "chunks written", "first coordinates"), chunk_rows
    )


def diff_html(diff: Diff) -> str:
    """The HTML of a diff: changed groups and arrays, then chunk counts per array."""
    counts = change_counts(diff)
    title = (
        "icechunk.Diff (no changes)"
        if diff.is_empty()
        else f"icechunk.Diff ({counts['nodes']} nodes, {counts['chunks']} chunks)"
    )
    return _card(title, _diff_tables(diff))


# --- history -----------------------------------------------------------------------------------


def snapshot_info_html(info: SnapshotInfo) -> str:
    """The HTML of one snapshot: id, parent, time, message, metadata, manifests."""
    pairs: list[tuple[str, Any]] = [
        ("id", info.id),
        ("parent", info.parent_id if info.parent_id is not None else "(none)"),
        ("written at", _time(info.written_at)),
        ("message", info.message),
    ]
    pairs += [(f"metadata: {k}", v) for k, v in sorted(info.metadata.items())]
    manifests = [(m.id, m.size_bytes, m.num_chunk_refs) for m in info.manifests]
    return _card(
        "icechunk.SnapshotInfo",
        _fields(pairs),
        _section(
            f"Manifests ({len(manifests)})",
            _table(("manifest", "bytes", "chunk refs"), manifests),
        ),
    )


class History(list["SnapshotInfo"]):
    """The ancestry of a version as a list that shows as a table in notebooks.

    Parameters
    ----------
    snapshots
        Snapshots newest first, usually ``repo.ancestry(branch=...)``.
    limit
        Keep at most this many (the newest); all by default.
    lanes
        For a branch graph: the ids of the snapshots in each branch's history, by branch
        name (see :meth:`of_branches`). Each branch gets a column marking its snapshots.

    Examples
    --------
    >>> icechunk.History(repo.ancestry(branch="main"), limit=20)  # doctest: +SKIP
    >>> icechunk.History.of_branches(repo)  # every branch, one column each  # doctest: +SKIP
    """

    def __init__(
        self,
        snapshots: Iterable[SnapshotInfo],
        limit: int | None = None,
        *,
        lanes: Mapping[str, set[str]] | None = None,
    ):
        super().__init__(itertools.islice(snapshots, limit))
        self.lanes: dict[str, set[str]] = dict(lanes or {})

    @classmethod
    def of_branches(
        cls, repo: Repository, branches: Iterable[str] | None = None, limit: int = 50
    ) -> History:
        """The newest ``limit`` snapshots of several branches (all by default) as a graph.

        The table gets one column per branch, marking (●) the snapshots in its history.
        """
        names = sorted(repo.list_branches()) if branches is None else list(branches)
        lanes: dict[str, set[str]] = {}
        seen: dict[str, SnapshotInfo] = {}
        for name in names:
            # a snapshot among the newest `limit` overall is among its branch's newest `limit`
            history = list(itertools.islice(repo.ancestry(branch=name), limit))
            lanes[name] = {info.id for info in history}
            seen.update((info.id, info) for info in history)
        newest = sorted(seen.values(), key=lambda i: (i.written_at, i.id), reverse=True)
        return cls(newest, limit, lanes=lanes)

    def _marks(self, info: SnapshotInfo) -> list[str]:
        return ["●" if info.id in ids else "" for ids in self.lanes.values()]

    def __repr__(self) -> str:
        lines = []
        for info in self:
            graph = " ".join(m or "│" for m in self._marks(info))
            prefix = f"{graph}  " if graph else ""
            lines.append(f"{prefix}{info.id}  {_time(info.written_at)}  {info.message}")
        header = f"branches: {', '.join(self.lanes)}" if self.lanes else ""
        body = "\n".join(lines) if lines else "(no snapshots)"
        return f"{header}\n{body}" if header else body

    def _repr_html_(self) -> str:
        rows = [(*self._marks(i), i.id, _time(i.written_at), i.message) for i in self]
        headers = (*self.lanes, "id", "time", "message")
        return _card(f"History ({len(self)} snapshots)", _table(headers, rows))

"""Commands that read and move history: log, show, diff, ls, branch, tag."""

from __future__ import annotations

import itertools
import json
from typing import Any

import click

from .._snapshots import SnapshotInfo
from ..repository import Repository
from ._util import State, diff_json, echo_json, iso, pick_version, resolve, snapshot_json

pass_state = click.make_pass_decorator(State)

_VERSION_OPTIONS = (
    click.option("--branch", "-b", help="A branch (default: main)."),
    click.option("--tag", "-t", help="A tag."),
    click.option("--snapshot", "-s", help="A snapshot id (or any revision)."),
)


def _version_options(f: Any) -> Any:
    for option in reversed(_VERSION_OPTIONS):
        f = option(f)
    return f


def _decorations(repo: Repository) -> dict[str, list[str]]:
    """The refs pointing at each snapshot, as ``git log`` shows them."""
    refs: dict[str, list[str]] = {}
    for branch in sorted(repo.list_branches()):
        refs.setdefault(repo.lookup_branch(branch), []).append(branch)
    for tag in sorted(repo.list_tags()):
        refs.setdefault(repo.lookup_tag(tag), []).append(f"tag: {tag}")
    return refs


def _echo_snapshot(info: SnapshotInfo, refs: list[str]) -> None:
    decoration = f" ({', '.join(refs)})" if refs else ""
    click.echo(click.style(f"snapshot {info.id}", fg="yellow") + decoration)
    click.echo(f"Date:    {iso(info.written_at)}")
    for key, value in sorted(info.metadata.items()):
        click.echo(f"{key}: {json.dumps(value, default=str)}")
    click.echo("")
    for line in (info.message or "").splitlines() or [""]:
        click.echo(f"    {line}")
    click.echo("")


@click.command()
@_version_options
@click.option("-n", "--max-count", "limit", type=click.IntRange(min=0), help="Show at most N.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def log(
    state: State,
    branch: str | None,
    tag: str | None,
    snapshot: str | None,
    limit: int | None,
    as_json: bool,
) -> None:
    """The history of a version, newest first."""
    repo = state.repo()
    history = repo.ancestry(**pick_version(repo, branch, tag, snapshot))
    shown = list(itertools.islice(history, limit))
    if as_json:
        echo_json([snapshot_json(i) for i in shown])
        return
    refs = _decorations(repo)
    for info in shown:
        _echo_snapshot(info, refs.get(info.id, []))


@click.command()
@click.argument("revision", default="main")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def show(state: State, revision: str, as_json: bool) -> None:
    """One snapshot: message, metadata, manifests and nodes (REVISION: default main)."""
    repo = state.repo()
    snapshot_id = resolve(repo, revision)
    described = json.loads(repo.inspect_snapshot(snapshot_id))
    if as_json:
        echo_json(described)
        return
    info = repo.lookup_snapshot(snapshot_id)
    _echo_snapshot(info, _decorations(repo).get(info.id, []))
    click.echo(f"Parent:  {info.parent_id or '(none)'}")
    click.echo(f"Manifests: {len(described['manifests'])}")
    click.echo("Nodes:")
    for node in described["nodes"]:
        click.echo(f"    {node['node_type']:<6} {node['path']}")


@click.command()
@click.argument("base")
@click.argument("target", default="main")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def diff(state: State, base: str, target: str, as_json: bool) -> None:
    """What changed from BASE to TARGET (TARGET: default main; BASE must be an ancestor)."""
    repo = state.repo()
    changes = repo.diff(from_snapshot_id=resolve(repo, base), to_snapshot_id=resolve(repo, target))
    if as_json:
        echo_json(diff_json(changes))
    elif changes.is_empty():
        click.echo("No changes.")
    else:
        click.echo(str(changes), nl=False)


def _array_row(array: Any, path: str) -> dict[str, Any]:
    return {
        "path": path,
        "type": "array",
        "shape": list(array.shape),
        "dtype": str(array.dtype),
        "chunks": list(array.chunks),
        "shards": None if array.shards is None else list(array.shards),
    }


def _node_rows(group: Any, prefix: str) -> list[dict[str, Any]]:
    import zarr

    rows: list[dict[str, Any]] = []
    for name, member in sorted(group.members(max_depth=None)):
        path = f"{prefix.rstrip('/')}/{name}"
        if isinstance(member, zarr.Array):
            rows.append(_array_row(member, path))
        else:
            rows.append({"path": path, "type": "group"})
    return rows


def _node_line(row: dict[str, Any]) -> str:
    if row["type"] == "group":
        return row["path"].rstrip("/") + "/"
    shards = f" shards={tuple(row['shards'])}" if row["shards"] else ""
    return (
        f"{row['path']}  {tuple(row['shape'])} {row['dtype']} chunks={tuple(row['chunks'])}{shards}"
    )


@click.command(name="ls")
@click.argument("path", default="/")
@_version_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def ls(
    state: State,
    path: str,
    branch: str | None,
    tag: str | None,
    snapshot: str | None,
    as_json: bool,
) -> None:
    """The groups and arrays under PATH, with shapes, dtypes and chunking."""
    import zarr

    repo = state.repo()
    version = pick_version(repo, branch, tag, snapshot)
    session = repo.readonly_session(
        version.get("branch"), tag=version.get("tag"), snapshot_id=version.get("snapshot_id")
    )
    inner = path.strip("/")
    try:
        node = zarr.open(session.store, path=inner, mode="r")
    except FileNotFoundError:
        raise click.ClickException(f"no group or array at {path!r} in this version") from None
    if isinstance(node, zarr.Array):
        rows = [_array_row(node, "/" + inner)]
    else:
        rows = [{"path": "/" + inner, "type": "group"}] + _node_rows(node, "/" + inner)
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        click.echo(_node_line(row))


def _echo_refs(tips: dict[str, str], as_json: bool) -> None:
    """Print ref names and the snapshots they point to, as text or JSON."""
    if as_json:
        echo_json(tips)
        return
    for name, tip in tips.items():
        click.echo(f"{name}  {tip}")


@click.group(invoke_without_command=True)
@click.pass_context
def branch(ctx: click.Context) -> None:
    """List, create, delete or reset branches (no subcommand: list)."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(branch_list)


@branch.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def branch_list(state: State, as_json: bool = False) -> None:
    """The branches and the snapshots they point to."""
    repo = state.repo()
    _echo_refs({b: repo.lookup_branch(b) for b in sorted(repo.list_branches())}, as_json)


@branch.command(name="create")
@click.argument("name")
@click.argument("revision", default="main")
@pass_state
def branch_create(state: State, name: str, revision: str) -> None:
    """Create branch NAME at REVISION (default: the tip of main)."""
    repo = state.repo()
    snapshot_id = resolve(repo, revision)
    repo.create_branch(name, snapshot_id)
    click.echo(f"Created branch {name} at {snapshot_id}")


@branch.command(name="delete")
@click.argument("name")
@pass_state
def branch_delete(state: State, name: str) -> None:
    """Delete branch NAME (never main)."""
    state.repo().delete_branch(name)
    click.echo(f"Deleted branch {name}")


@branch.command(name="reset")
@click.argument("name")
@click.argument("revision")
@click.option(
    "--from",
    "from_snapshot",
    metavar="SNAPSHOT",
    help="Reset only if the branch still points here (default: its tip when the command "
    "starts, so a commit landing meanwhile is never lost).",
)
@pass_state
def branch_reset(state: State, name: str, revision: str, from_snapshot: str | None) -> None:
    """Point branch NAME at REVISION, rewriting its history."""
    repo = state.repo()
    expected = from_snapshot or repo.lookup_branch(name)
    target = resolve(repo, revision)
    repo.reset_branch(name, target, from_snapshot_id=expected)
    click.echo(f"Reset branch {name} from {expected} to {target}")


@click.group(invoke_without_command=True)
@click.pass_context
def tag(ctx: click.Context) -> None:
    """List, create or delete tags (no subcommand: list)."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(tag_list)


@tag.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def tag_list(state: State, as_json: bool = False) -> None:
    """The tags and the snapshots they point to."""
    repo = state.repo()
    _echo_refs({t: repo.lookup_tag(t) for t in sorted(repo.list_tags())}, as_json)


@tag.command(name="create")
@click.argument("name")
@click.argument("revision", default="main")
@pass_state
def tag_create(state: State, name: str, revision: str) -> None:
    """Create the immutable tag NAME at REVISION (default: the tip of main)."""
    repo = state.repo()
    snapshot_id = resolve(repo, revision)
    repo.create_tag(name, snapshot_id)
    click.echo(f"Created tag {name} at {snapshot_id}")


@tag.command(name="delete")
@click.argument("name")
@pass_state
def tag_delete(state: State, name: str) -> None:
    """Delete tag NAME (its name can never be used again)."""
    state.repo().delete_tag(name)
    click.echo(f"Deleted tag {name}")


COMMANDS = (log, show, diff, ls, branch, tag)

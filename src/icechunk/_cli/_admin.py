"""Commands that create, configure, describe and maintain a repository."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any

import click
import yaml

from .._asset_manager import CHUNKS, MANIFESTS, SNAPSHOTS, TRANSACTIONS
from .._config import RepositoryConfig, config_from_yaml, config_to_yaml
from .._exceptions import ConfigError
from .._format.ids import encode_id
from .._logs import spec_version
from .._progress import progress_bar
from .._sync import sync
from .._time import to_micros
from ..repository import Repository
from ._util import DateTime, State, echo_json, human_bytes

pass_state = click.make_pass_decorator(State)


# --- init and config ---------------------------------------------------------------------------


def _read_config(path: str | None) -> RepositoryConfig | None:
    if path is None:
        return None
    return config_from_yaml(Path(path).read_bytes())


def _config_dict(config: RepositoryConfig) -> dict[str, Any]:
    return dict(yaml.safe_load(config_to_yaml(config)) or {})


def _set_setting(data: dict[str, Any], key: str, value: Any) -> None:
    """Set the dotted ``key`` (``compression.level``) in nested ``data``."""
    *parents, leaf = key.split(".")
    node = data
    for part in parents:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        elif not isinstance(child, dict):
            raise ConfigError(f"cannot set {key!r}: {part!r} is {child!r}, not a section")
        node = child
    node[leaf] = value


def _get_setting(data: dict[str, Any], key: str) -> Any:
    node: Any = data
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


@click.command()
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False),
    help="A config.yaml to create the repository with (as 'icechunk config show' prints).",
)
@pass_state
def init(state: State, config_file: str | None) -> None:
    """Create an empty repository at the location."""
    Repository.create(state.storage(), _read_config(config_file))
    click.echo(f"Initialized empty Icechunk repository at {state.location}")


@click.group()
def config() -> None:
    """Show or change the persisted configuration."""


@config.command(name="show")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def config_show(state: State, as_json: bool) -> None:
    """Print the repository's config.yaml (the effective configuration)."""
    cfg = state.repo().config
    if as_json:
        echo_json(_config_dict(cfg))
    else:
        click.echo(config_to_yaml(cfg).decode(), nl=False)


@config.command(name="set")
@click.argument("key")
@click.argument("value")
@pass_state
def config_set(state: State, key: str, value: str) -> None:
    """Set KEY (dotted, e.g. compression.level) to VALUE (YAML, e.g. 3 or null) and save."""
    repo = state.repo()
    data = _config_dict(repo.config)
    top = key.split(".")[0]
    if top not in data:
        raise ConfigError(f"unknown setting {key!r}; the settings are {', '.join(sorted(data))}")
    parsed = yaml.safe_load(value)
    _set_setting(data, key, parsed)
    new = config_from_yaml(yaml.safe_dump(data).encode())
    if _get_setting(_config_dict(new), key) != parsed:
        raise ConfigError(f"unknown setting {key!r}: see 'icechunk config show' for the keys")
    repo.save_config(new)
    click.echo(f"Set {key} = {parsed!r}")


# --- info --------------------------------------------------------------------------------------


async def _object_counts(repo: Repository) -> dict[str, dict[str, int]]:
    backend = repo._core.assets.backend
    counts: dict[str, dict[str, int]] = {}
    for prefix in (SNAPSHOTS, TRANSACTIONS, MANIFESTS, CHUNKS):
        objects = size = 0
        async for info in backend.list(prefix):
            objects += 1
            size += info.size
        counts[prefix.rstrip("/")] = {"objects": objects, "bytes": size}
    return counts


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def info(state: State, as_json: bool) -> None:
    """Spec version, refs, stored objects and the bytes of reachable chunks."""
    repo = state.repo()
    objects = sync(_object_counts(repo), method="icechunk info")
    stats = repo.chunk_storage_stats(progress=state.show_progress())
    data = {
        "location": state.location,
        "storage": repr(repo.storage),
        "spec_version": spec_version(),
        "branches": len(repo.list_branches()),
        "tags": len(repo.list_tags()),
        "objects": objects,
        "chunk_storage": {
            "native_bytes": stats.native_bytes,
            "inline_bytes": stats.inlined_bytes,
            "virtual_bytes": stats.virtual_bytes,
        },
    }
    if as_json:
        echo_json(data)
        return
    click.echo(f"Repository:    {state.location}")
    click.echo(f"Storage:       {data['storage']}")
    click.echo(f"Spec version:  {data['spec_version']}")
    click.echo(f"Branches:      {data['branches']}")
    click.echo(f"Tags:          {data['tags']}")
    for kind, c in objects.items():
        click.echo(
            f"{kind.capitalize() + ':':<15}{c['objects']} objects, {human_bytes(c['bytes'])}"
        )
    click.echo("Reachable chunks:")
    click.echo(f"    native   {human_bytes(stats.native_bytes)}")
    click.echo(f"    inline   {human_bytes(stats.inlined_bytes)}")
    click.echo(f"    virtual  {human_bytes(stats.virtual_bytes)}")


# --- maintenance -------------------------------------------------------------------------------

_OLDER_THAN = click.option(
    "--older-than",
    type=DateTime(),
    required=True,
    help="Cutoff: ISO date or time (local unless a zone is given), 'now', or an age (30d).",
)
_LISTED = 20  # snapshot ids printed by expire
_YES = click.option("--yes", "-y", is_flag=True, help="Do it (default: a dry run).")


def _dry_run_note(yes: bool) -> None:
    if not yes:
        click.echo("Dry run: nothing was changed. Run again with --yes to do it.")


@click.command()
@_OLDER_THAN
@click.option("--delete-expired-branches", is_flag=True, help="Delete branches left expired.")
@click.option("--delete-expired-tags", is_flag=True, help="Delete tags left expired.")
@_YES
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@pass_state
def expire(
    state: State,
    older_than: _dt.datetime,
    delete_expired_branches: bool,
    delete_expired_tags: bool,
    yes: bool,
    as_json: bool,
) -> None:
    """Cut snapshots written before --older-than out of every history."""
    from .._ops.expiration import expire_snapshots

    repo = state.repo()
    with progress_bar(state.show_progress(), unit="ref") as bar:
        result = sync(
            expire_snapshots(
                repo._core.assets,
                to_micros(older_than),
                delete_expired_branches=delete_expired_branches,
                delete_expired_tags=delete_expired_tags,
                progress=bar,
                dry_run=not yes,
            ),
            method="icechunk expire",
        )
    released = sorted(encode_id(s) for s in result.released)
    if as_json:
        refs = [{"kind": kind, "name": name} for kind, name in sorted(result.deleted_refs)]
        echo_json({"dry_run": not yes, "expired": released, "deleted_refs": refs})
        return
    verb = "Expired" if yes else "Would expire"
    click.echo(f"{verb} {len(released)} snapshots")
    for snapshot_id in released[:_LISTED]:
        click.echo(f"    {snapshot_id}")
    if len(released) > _LISTED:
        click.echo(f"    ... {len(released) - _LISTED} more (--json lists them all)")
    for kind, name in sorted(result.deleted_refs):
        click.echo(f"{'Deleted' if yes else 'Would delete'} {kind} {name}")
    if yes and result.released:
        click.echo("Run 'icechunk gc' to delete their objects from storage.")
    _dry_run_note(yes)


@click.command()
@_OLDER_THAN
@_YES
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@pass_state
def gc(state: State, older_than: _dt.datetime, yes: bool, as_json: bool) -> None:
    """Delete objects no branch or tag reaches, last written before --older-than."""
    repo = state.repo()
    summary = repo.garbage_collect(older_than, dry_run=not yes, progress=state.show_progress())
    counts = {
        "snapshots": summary.snapshots_deleted,
        "transaction_logs": summary.transaction_logs_deleted,
        "manifests": summary.manifests_deleted,
        "chunks": summary.chunks_deleted,
        "bytes": summary.bytes_deleted,
    }
    if as_json:
        echo_json({"dry_run": not yes, **counts})
        return
    click.echo("Deleted:" if yes else "Would delete:")
    for kind, n in counts.items():
        shown = human_bytes(n) if kind == "bytes" else str(n)
        click.echo(f"    {kind.replace('_', ' '):<17}{shown}")
    _dry_run_note(yes)


COMMANDS = (init, config, info, expire, gc)

"""The ``icechunk`` command line: git-like commands on a repository (beyond upstream 1.1).

Run ``icechunk --help`` (or ``python -m icechunk --help``). The repository is the current
directory unless ``--repo`` (or ``ICECHUNK_REPO``) names a path or URL. Exit codes: 0 success,
1 an error (a one-line message; ``--debug`` shows the traceback), 2 bad usage.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from .._exceptions import IcechunkError
from .._version import __version__
from . import _admin, _history
from ._address import StorageOptions, parse_options
from ._util import State

__all__ = ["cli", "main"]


class _Group(click.Group):
    """A group whose commands turn Icechunk errors into one-line messages (exit code 1)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (IcechunkError, ValueError, KeyError, OSError) as error:
            state = ctx.find_object(State)
            if state is not None and state.debug:
                raise
            raise click.ClickException(_one_line(error)) from None


def _one_line(error: BaseException) -> str:
    text = error.args[0] if isinstance(error, KeyError) and error.args else error
    message = " ".join(str(text).split()) or type(error).__name__
    return f"{message} ({type(error).__name__})"


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--repo",
    "-r",
    "location",
    envvar="ICECHUNK_REPO",
    default=".",
    show_default=True,
    help="Repository: a path, or s3://BUCKET/PREFIX, gs://..., az://CONTAINER/PREFIX, "
    "http(s)://... (env ICECHUNK_REPO).",
)
@click.option("--endpoint-url", help="Object store endpoint (S3-compatible, GCS or Azure).")
@click.option("--region", help="S3 region.")
@click.option("--anonymous", is_flag=True, help="Unsigned requests (public buckets).")
@click.option("--force-path-style", is_flag=True, help="S3 path-style addressing.")
@click.option("--account", help="Azure storage account (or AZURE_STORAGE_ACCOUNT_NAME).")
@click.option(
    "--storage-option",
    "-o",
    "storage_options",
    multiple=True,
    metavar="KEY=VALUE",
    help="Extra option for gs://, az:// and http(s):// stores (repeatable).",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Progress bars on standard error (default: when it is a terminal).",
)
@click.option("--debug", is_flag=True, help="Show tracebacks of errors.")
@click.version_option(__version__, prog_name="icechunk")
@click.pass_context
def cli(
    ctx: click.Context,
    location: str,
    endpoint_url: str | None,
    region: str | None,
    anonymous: bool,
    force_path_style: bool,
    account: str | None,
    storage_options: tuple[str, ...],
    progress: bool | None,
    debug: bool,
) -> None:
    """Git for arrays: inspect and manage an Icechunk repository.

    Revisions (REVISION, BASE, TARGET, --snapshot) are branch names, tag names (or tag:NAME),
    or snapshot ids. Credentials for object stores come from the environment.
    """
    options = StorageOptions(
        endpoint_url=endpoint_url,
        region=region,
        anonymous=anonymous,
        force_path_style=force_path_style,
        account=account,
        options=parse_options(storage_options),
    )
    ctx.obj = State(location, options, debug=debug, progress=progress)


for _command in (*_history.COMMANDS, *_admin.COMMANDS):
    cli.add_command(_command)


def main(argv: list[str] | None = None) -> None:
    """Run the command line (the ``icechunk`` console script)."""
    cli.main(args=argv, prog_name="icechunk")


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])

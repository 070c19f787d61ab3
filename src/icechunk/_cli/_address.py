"""Where the command line finds a repository: a local path or a URL, mapped onto ``Storage``.

``s3://bucket/prefix``, ``gs://bucket/prefix`` (or ``gcs://``), ``az://container/prefix`` (or
``azure://``; the account comes from ``--account`` or ``AZURE_STORAGE_ACCOUNT_NAME``),
``http(s)://host/path`` (read-only), ``file:///path`` or a plain path. Credentials come from
the environment (``AWS_*``, ``GOOGLE_*``, ``AZURE_*``) unless ``--anonymous`` is given; nothing
secret is ever taken from the command line.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .._exceptions import IcechunkError
from ..storage import (
    Storage,
    azure_storage,
    gcs_storage,
    http_storage,
    local_filesystem_storage,
    s3_storage,
)


class LocationError(IcechunkError, ValueError):
    """A repository location the command line cannot map onto a storage."""


@dataclass(frozen=True)
class StorageOptions:
    """The storage options of the command line (see ``icechunk --help``)."""

    endpoint_url: str | None = None
    region: str | None = None
    anonymous: bool = False
    force_path_style: bool = False
    account: str | None = None
    options: dict[str, str] = field(default_factory=dict)


def parse_options(pairs: tuple[str, ...]) -> dict[str, str]:
    """``KEY=VALUE`` strings as a dict.

    Raises
    ------
    LocationError
        For a string without ``=``.
    """
    options: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise LocationError(f"storage option {pair!r} is not KEY=VALUE (e.g. -o timeout=30s)")
        options[key] = value
    return options


def _bucket_and_prefix(location: str) -> tuple[str, str]:
    parts = urlsplit(location)
    bucket = parts.netloc
    if not bucket:
        raise LocationError(
            f"{location!r} names no bucket or container: write {parts.scheme}://BUCKET/PREFIX"
        )
    return bucket, parts.path.strip("/")


def storage_for(location: str, opts: StorageOptions) -> Storage:
    """The ``Storage`` a location and the command line's storage options describe.

    Raises
    ------
    LocationError
        For an unknown URL scheme, a URL without bucket, or Azure without an account.
    """
    scheme = urlsplit(location).scheme.lower() if "://" in location else ""
    from_env = None if opts.anonymous else True
    anonymous = True if opts.anonymous else None
    if scheme == "s3":
        bucket, prefix = _bucket_and_prefix(location)
        if opts.options:
            raise LocationError(
                "storage options (-o KEY=VALUE) apply to gs://, az:// and http(s):// "
                "locations; for S3 use --endpoint-url, --region and --force-path-style"
            )
        endpoint = opts.endpoint_url
        return s3_storage(
            bucket=bucket,
            prefix=prefix or None,
            region=opts.region,
            endpoint_url=endpoint,
            allow_http=bool(endpoint and endpoint.startswith("http://")),
            anonymous=anonymous,
            from_env=from_env,
            force_path_style=opts.force_path_style,
        )
    if scheme in ("gs", "gcs"):
        bucket, prefix = _bucket_and_prefix(location)
        config = dict(opts.options)
        if opts.endpoint_url:
            config.setdefault("base_url", opts.endpoint_url)
        return gcs_storage(
            bucket=bucket,
            prefix=prefix or None,
            anonymous=anonymous,
            from_env=from_env,
            config=config or None,
        )
    if scheme in ("az", "azure"):
        container, prefix = _bucket_and_prefix(location)
        account = opts.account or os.environ.get("AZURE_STORAGE_ACCOUNT_NAME")
        if not account:
            raise LocationError(
                f"{location!r}: give the Azure storage account with --account NAME (or set "
                "AZURE_STORAGE_ACCOUNT_NAME)"
            )
        config = dict(opts.options)
        if opts.endpoint_url:
            config.setdefault("endpoint", opts.endpoint_url)
        return azure_storage(
            account=account,
            container=container,
            prefix=prefix,
            from_env=True,
            config=config or None,
        )
    if scheme in ("http", "https"):
        return http_storage(location, dict(opts.options) or None)
    if scheme == "file":
        return local_filesystem_storage(os.path.abspath(urlsplit(location).path))
    if scheme:
        raise LocationError(
            f"unknown repository URL scheme {scheme!r} in {location!r}: use a local path or "
            "s3://, gs://, az://, http(s)://, file://"
        )
    return local_filesystem_storage(os.path.abspath(location))

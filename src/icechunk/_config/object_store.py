"""Object store configurations (where virtual chunks are read from) and their factories."""

from __future__ import annotations

import os
import pathlib
from collections.abc import Mapping
from typing import Any, ClassVar, TypeAlias

from .._records import (
    Record,
    Variant,
    instance_of,
    nest,
    opt_str,
    record,
    req_bool,
    req_str,
    setting,
    str_map,
    u32,
    variant,
)
from . import defaults


@record
class S3Options(Record):
    """Options for an S3 or S3-compatible object store.

    Parameters
    ----------
    region
        The region; None uses the store's default.
    endpoint_url
        Custom endpoint, for example ``http://localhost:9000``.
    allow_http
        Allow plain HTTP.
    anonymous
        Do not sign requests.
    force_path_style
        Use path-style bucket addressing.
    network_stream_timeout_seconds
        Fail a request when no bytes move for this long; 0 disables (None: 60 s).
    requester_pays
        Enable requester-pays buckets.
    """

    region: str | None = setting(default=None, check=opt_str)
    endpoint_url: str | None = setting(default=None, check=opt_str)
    allow_http: bool = setting(default=False, check=req_bool)
    anonymous: bool = setting(default=False, check=req_bool)
    force_path_style: bool = setting(default=False, check=req_bool)
    network_stream_timeout_seconds: int | None = setting(
        default=None, check=u32, effective=defaults.S3_NETWORK_STREAM_TIMEOUT_SECONDS
    )
    requester_pays: bool = setting(default=False, check=req_bool)
    _yaml_order: ClassVar[tuple[str, ...]] = (
        "region", "endpoint_url", "anonymous", "allow_http", "force_path_style",
        "network_stream_timeout_seconds", "requester_pays",
    )  # fmt: skip

    def _copy(self) -> S3Options:
        return S3Options(**self.__getstate__())


class ObjectStoreConfig:
    """Where virtual chunks of a container are read from: one of ``InMemory``,
    ``LocalFileSystem``, ``S3``, ``S3Compatible``, ``Gcs``, ``Azure``, ``Tigris``, ``Http``."""

    __slots__ = ()
    InMemory: ClassVar[type[_StoreInMemory]]
    LocalFileSystem: ClassVar[type[_StoreLocal]]
    S3Compatible: ClassVar[type[_StoreS3Compatible]]
    S3: ClassVar[type[_StoreS3]]
    Gcs: ClassVar[type[_StoreGcs]]
    Azure: ClassVar[type[_StoreAzure]]
    Tigris: ClassVar[type[_StoreTigris]]
    Http: ClassVar[type[_StoreHttp]]
    _schemes: ClassVar[tuple[str, ...]] = ()
    _yaml_tag: ClassVar[str] = ""


@variant
class _StoreInMemory(Variant, ObjectStoreConfig):
    """An in-memory store (tests only; no URL scheme reaches it)."""

    _yaml_tag = "in_memory"


@variant
class _StoreLocal(Variant, ObjectStoreConfig):
    """The local file system (``file://`` URLs).

    Parameters
    ----------
    path
        The root directory.
    """

    __match_args__ = ("_0",)
    _schemes = ("file",)
    _yaml_tag = "local_file_system"
    _path: str = setting(default=None)

    def __init__(self, path: str) -> None:
        p = os.fspath(path) if isinstance(path, os.PathLike) else req_str("path", path)
        self._init(_path=p)

    @property
    def _0(self) -> pathlib.Path:
        """The root directory (a :class:`pathlib.Path`, as upstream returns)."""
        return pathlib.Path(self._path)


@variant
class _StoreS3Base(Variant, ObjectStoreConfig):
    __match_args__ = ("_0",)
    _options: S3Options = setting(default=None)

    def __init__(self, options: S3Options) -> None:
        opts = instance_of(S3Options, optional=False)("options", options)
        self._init(_options=opts._copy())

    @property
    def _0(self) -> S3Options:
        return self._options._copy()


class _StoreS3(_StoreS3Base):
    """Amazon S3 (``s3://`` URLs).

    Parameters
    ----------
    options
        The S3 options.
    """

    _schemes = ("s3",)
    _yaml_tag = "s3"


class _StoreS3Compatible(_StoreS3Base):
    """An S3-compatible store such as MinIO (``s3://`` URLs).

    Parameters
    ----------
    options
        The S3 options (usually with ``endpoint_url``).
    """

    _schemes = ("s3",)
    _yaml_tag = "s3_compatible"


class _StoreTigris(_StoreS3Base):
    """Tigris (``tigris://`` or ``s3://`` URLs).

    Parameters
    ----------
    opts
        The S3 options.
    """

    _schemes = ("tigris", "s3")
    _yaml_tag = "tigris"

    def __init__(self, opts: S3Options) -> None:
        super().__init__(opts)


@variant
class _StoreMap(Variant, ObjectStoreConfig):
    __match_args__ = ("_0",)
    _opts: dict[str, str] = setting(default=None)

    def __init__(self, opts: Mapping[str, str] | None = None) -> None:
        self._init(_opts=str_map("opts", opts))

    @property
    def _0(self) -> dict[str, str]:
        return dict(self._opts)


class _StoreGcs(_StoreMap):
    """Google Cloud Storage (``gs://`` or ``gcs://`` URLs).

    Parameters
    ----------
    opts
        object_store GCS configuration keys.
    """

    _schemes = ("gs", "gcs")
    _yaml_tag = "gcs"


class _StoreAzure(_StoreMap):
    """Azure Blob Storage (``az://``, ``azure://`` or ``abfs://`` URLs).

    Parameters
    ----------
    opts
        object_store Azure configuration keys; ``account`` names the storage account.
    """

    _schemes = ("az", "azure", "abfs")
    _yaml_tag = "azure"


class _StoreHttp(_StoreMap):
    """HTTP(S) servers (``http://`` or ``https://`` URLs).

    Parameters
    ----------
    opts
        object_store client configuration keys (for example ``timeout``).
    """

    _schemes = ("http", "https")
    _yaml_tag = "http"


_MEMBERS: dict[str, type[Any]] = {
    "InMemory": _StoreInMemory,
    "LocalFileSystem": _StoreLocal,
    "S3Compatible": _StoreS3Compatible,
    "S3": _StoreS3,
    "Gcs": _StoreGcs,
    "Azure": _StoreAzure,
    "Tigris": _StoreTigris,
    "Http": _StoreHttp,
}
for _name, _member in _MEMBERS.items():
    nest(ObjectStoreConfig, _name, _member)

#: The members by YAML tag, for reading config.yaml.
STORE_TAGS: dict[str, type[Any]] = {c._yaml_tag: c for c in _MEMBERS.values()}

AnyObjectStoreConfig: TypeAlias = (
    _StoreInMemory
    | _StoreLocal
    | _StoreS3
    | _StoreS3Compatible
    | _StoreGcs
    | _StoreAzure
    | _StoreTigris
    | _StoreHttp
)


def store_debug(store: ObjectStoreConfig) -> str:
    """The store as upstream's error messages print it."""
    name = type(store).__name__
    if isinstance(store, _StoreS3Base):
        return f"{name}({store._options!r})"
    if isinstance(store, _StoreMap):
        return f"{name}({store._opts!r})"
    if isinstance(store, _StoreLocal):
        return f"{name}({store._path!r})"
    return name


# --- factories --------------------------------------------------------------------------------


def http_store(opts: dict[str, str] | None = None) -> _StoreHttp:
    """Build an :class:`ObjectStoreConfig` for HTTP(S) servers.

    Parameters
    ----------
    opts
        object_store client options in snake case (for example ``{"timeout": "30s"}``).

    Returns
    -------
    ObjectStoreConfig.Http
    """
    return _StoreHttp(opts)


def local_filesystem_store(path: str) -> _StoreLocal:
    """Build an :class:`ObjectStoreConfig` for local files.

    Parameters
    ----------
    path
        The root directory.

    Returns
    -------
    ObjectStoreConfig.LocalFileSystem
    """
    return _StoreLocal(path)


def s3_store(
    region: str | None = None,
    endpoint_url: str | None = None,
    allow_http: bool = False,
    anonymous: bool = False,
    s3_compatible: bool = False,
    force_path_style: bool = False,
    network_stream_timeout_seconds: int = defaults.S3_NETWORK_STREAM_TIMEOUT_SECONDS,
    requester_pays: bool = False,
) -> _StoreS3Compatible | _StoreS3:
    """Build an :class:`ObjectStoreConfig` for S3 or an S3-compatible store.

    Parameters
    ----------
    region, endpoint_url, allow_http, anonymous, force_path_style,
    network_stream_timeout_seconds, requester_pays
        See :class:`S3Options`.
    s3_compatible
        Return ``ObjectStoreConfig.S3Compatible`` instead of ``ObjectStoreConfig.S3``.

    Returns
    -------
    ObjectStoreConfig.S3 | ObjectStoreConfig.S3Compatible
    """
    options = S3Options(
        region, endpoint_url, allow_http, anonymous, force_path_style,
        network_stream_timeout_seconds, requester_pays,
    )  # fmt: skip
    return _StoreS3Compatible(options) if s3_compatible else _StoreS3(options)


def gcs_store(opts: dict[str, str] | None = None) -> _StoreGcs:
    """Build an :class:`ObjectStoreConfig` for Google Cloud Storage.

    Parameters
    ----------
    opts
        object_store GCS configuration keys.

    Returns
    -------
    ObjectStoreConfig.Gcs
    """
    return _StoreGcs(opts)


def azure_store(*, account: str, config: dict[str, str] | None = None) -> _StoreAzure:
    """Build an :class:`ObjectStoreConfig` for Azure Blob Storage.

    Parameters
    ----------
    account
        The storage account.
    config
        More object_store Azure configuration keys.

    Returns
    -------
    ObjectStoreConfig.Azure
    """
    return _StoreAzure({"account": req_str("account", account), **(config or {})})

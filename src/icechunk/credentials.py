"""Credentials for object stores: S3 (and compatible), Google Cloud Storage and Azure Blob Storage.

The classes mirror upstream Icechunk's credential types name for name: each ``*Credentials`` class
is a union whose members are nested classes (``S3Credentials.Static``, ``GcsCredentials.FromEnv``,
...), and ``isinstance(S3Credentials.Anonymous(), S3Credentials)`` holds. The helper functions
(:func:`s3_credentials`, :func:`gcs_credentials`, :func:`azure_credentials`,
:func:`containers_credentials`, ...) accept the same arguments as upstream's.

Refreshable credentials hold a pickled Python callable (``pickled_function``). The helpers pickle
it with cloudpickle, so lambdas and closures work as well as module-level functions; the credential
objects themselves pickle with plain :mod:`pickle` and with cloudpickle. In the process that made
them they call the caller's own object (a callable instance keeps its state); a pickled copy
carries the object as it is when the copy is made. As upstream, a function that fails or returns
the wrong type is reported when the credentials are first needed, not when they are created.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, TypeAlias

from ._credentials._base import Wraps
from ._credentials.azure import (
    AnyAzureCredential,
    AnyAzureStaticCredential,
    AzureCredentials,
    AzureStaticCredentials,
    azure_credentials,
    azure_from_env_credentials,
    azure_static_credentials,
)
from ._credentials.gcs import (
    AnyGcsCredential,
    AnyGcsStaticCredential,
    GcsBearerCredential,
    GcsCredentials,
    GcsStaticCredentials,
    gcs_anonymous_credentials,
    gcs_credentials,
    gcs_from_env_credentials,
    gcs_refreshable_credentials,
    gcs_static_credentials,
)
from ._credentials.s3 import (
    AnyS3Credential,
    S3Credentials,
    S3StaticCredentials,
    s3_anonymous_credentials,
    s3_credentials,
    s3_from_env_credentials,
    s3_refreshable_credentials,
    s3_static_credentials,
)
from ._records import nest

__all__ = [
    "AnyAzureCredential",
    "AnyAzureStaticCredential",
    "AnyCredential",
    "AnyGcsCredential",
    "AnyGcsStaticCredential",
    "AnyS3Credential",
    "AzureCredentials",
    "AzureStaticCredentials",
    "Credentials",
    "GcsBearerCredential",
    "GcsCredentials",
    "GcsStaticCredentials",
    "HttpAccess",
    "LocalFileSystemAccess",
    "S3Credentials",
    "S3StaticCredentials",
    "azure_credentials",
    "azure_from_env_credentials",
    "azure_static_credentials",
    "containers_credentials",
    "gcs_anonymous_credentials",
    "gcs_credentials",
    "gcs_from_env_credentials",
    "gcs_refreshable_credentials",
    "gcs_static_credentials",
    "s3_anonymous_credentials",
    "s3_credentials",
    "s3_from_env_credentials",
    "s3_refreshable_credentials",
    "s3_static_credentials",
]


# --- wrapper for virtual chunk containers ----------------------------------------------------


class Credentials:
    """Credentials for any object store, as given to ``authorize_virtual_chunk_access``:
    :class:`Credentials.S3`, :class:`Credentials.Gcs` or :class:`Credentials.Azure`."""

    __slots__ = ()
    S3: ClassVar[type[_CredS3]]
    Gcs: ClassVar[type[_CredGcs]]
    Azure: ClassVar[type[_CredAzure]]


class _CredS3(Wraps, Credentials):
    """S3 credentials.

    Parameters
    ----------
    credentials
        An :class:`S3Credentials` member.
    """

    _holds = S3Credentials
    _0: AnyS3Credential


class _CredGcs(Wraps, Credentials):
    """Google Cloud Storage credentials.

    Parameters
    ----------
    credentials
        A :class:`GcsCredentials` member.
    """

    _holds = GcsCredentials
    _0: AnyGcsCredential


class _CredAzure(Wraps, Credentials):
    """Azure Blob Storage credentials.

    Parameters
    ----------
    credentials
        An :class:`AzureCredentials` member.
    """

    _holds = AzureCredentials
    _0: AnyAzureCredential


nest(Credentials, "S3", _CredS3)
nest(Credentials, "Gcs", _CredGcs)
nest(Credentials, "Azure", _CredAzure)

AnyCredential: TypeAlias = _CredS3 | _CredGcs | _CredAzure


# --- helper functions (upstream's icechunk.credentials API) ----------------------------------


def containers_credentials(
    m: Mapping[str, AnyS3Credential | AnyGcsCredential | AnyAzureCredential | None] | None = None,
    **kwargs: AnyS3Credential | AnyGcsCredential | AnyAzureCredential | None,
) -> dict[str, AnyCredential | None]:
    """Build the map of credentials for virtual chunk containers.

    Parameters
    ----------
    m
        A mapping from container url prefixes to credentials (``None`` uses the environment or
        anonymous access where the container allows it).
    **kwargs
        More prefixes and credentials, for prefixes that are valid identifiers.

    Returns
    -------
    dict[str, AnyCredential | None]
        The value to pass as ``authorize_virtual_chunk_access``.

    Examples
    --------
    >>> import icechunk as ic
    >>> creds = ic.containers_credentials(
    ...     {"s3://somebucket/": ic.s3_credentials(access_key_id="KEY", secret_access_key="S")}
    ... )
    """
    items: dict[str, Any] = {}
    if m is not None:
        if not isinstance(m, Mapping):
            raise TypeError(
                f"containers_credentials needs a mapping of url prefix to credentials, "
                f"got {type(m).__name__}"
            )
        items.update(m)
    items.update(kwargs)
    res: dict[str, AnyCredential | None] = {}
    for prefix, cred in items.items():
        if not isinstance(prefix, str):
            raise TypeError(f"container url prefixes must be str, got {prefix!r}")
        if cred is None or isinstance(cred, (Credentials, NoCredentialsNeeded)):
            res[prefix] = cred  # type: ignore[assignment]
        elif isinstance(cred, S3Credentials):
            res[prefix] = _CredS3(cred)  # type: ignore[arg-type]
        elif isinstance(cred, GcsCredentials):
            res[prefix] = _CredGcs(cred)  # type: ignore[arg-type]
        elif isinstance(cred, AzureCredentials):
            res[prefix] = _CredAzure(cred)  # type: ignore[arg-type]
        else:
            raise ValueError(f"Unknown credential type {type(cred)}")
    return res


class NoCredentialsNeeded:
    """Authorization of a virtual chunk container that needs no credentials.

    Use the two instances, :data:`LocalFileSystemAccess` (``file://`` containers) and
    :data:`HttpAccess` (``http(s)://`` containers), where ``None`` would otherwise say "no
    credentials": they also check that the container is of that kind.
    """

    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name

    def __reduce__(self) -> str:
        return self._name  # pickles as the module-level singleton


#: Authorizes a ``file://`` virtual chunk container (no credentials needed).
LocalFileSystemAccess = NoCredentialsNeeded("LocalFileSystemAccess")

#: Authorizes an ``http://`` or ``https://`` virtual chunk container (no credentials needed).
HttpAccess = NoCredentialsNeeded("HttpAccess")

# The public names keep this module as their home (documentation, pickles, ``help()``).
for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type) or callable(_obj) and hasattr(_obj, "__code__"):
        _obj.__module__ = __name__
del _name, _obj

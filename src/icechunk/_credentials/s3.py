"""S3 (and S3-compatible) credentials."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import ClassVar, TypeAlias

from .._records import (
    Record,
    Variant,
    nest,
    opt_datetime,
    opt_str,
    record,
    req_str,
    setting,
    variant,
)
from ._base import Refreshable, Wraps, as_function


@record
class S3StaticCredentials(Record):
    """Static credentials for an S3 (or S3 compatible) storage backend.

    Parameters
    ----------
    access_key_id
        The access key ID to use for authentication.
    secret_access_key
        The secret access key to use for authentication.
    session_token
        Optional session token.
    expires_after
        Optional expiration time of the credentials; refreshable credentials are fetched
        again after it.

    Attributes
    ----------
    access_key_id, secret_access_key, session_token, expires_after
        As the parameters; settable.
    """

    access_key_id: str = setting(check=req_str)
    secret_access_key: str = setting(check=req_str)
    session_token: str | None = setting(default=None, check=opt_str)
    expires_after: datetime.datetime | None = setting(default=None, check=opt_datetime)

    def __repr__(self) -> str:
        # never print secrets
        return (
            f"S3StaticCredentials(access_key_id={self.access_key_id!r}, secret_access_key='***', "
            f"session_token={'***' if self.session_token else None}, "
            f"expires_after={self.expires_after!r})"
        )


class S3Credentials:
    """Credentials for an S3 storage backend: one of :class:`S3Credentials.FromEnv`,
    :class:`S3Credentials.Anonymous`, :class:`S3Credentials.Static` or
    :class:`S3Credentials.Refreshable`."""

    __slots__ = ()
    FromEnv: ClassVar[type[_S3FromEnv]]
    Anonymous: ClassVar[type[_S3Anonymous]]
    Static: ClassVar[type[_S3Static]]
    Refreshable: ClassVar[type[_S3Refreshable]]


@variant
class _S3FromEnv(Variant, S3Credentials):
    """Use credentials from the environment (env vars, profile, instance metadata)."""


@variant
class _S3Anonymous(Variant, S3Credentials):
    """Do not sign requests, for public buckets."""


class _S3Static(Wraps, S3Credentials):
    """Use fixed S3 credentials.

    Parameters
    ----------
    credentials
        The credentials to use for authentication.
    """

    _holds = S3StaticCredentials
    _0: S3StaticCredentials


class _S3Refreshable(Refreshable, S3Credentials):
    """Credentials fetched, and fetched again when expired, by a Python function.

    Parameters
    ----------
    pickled_function
        The pickled function returning :class:`S3StaticCredentials` (a callable is accepted too
        and pickled with cloudpickle).
    current
        Initial credentials, used before the function is first called.
    """

    _result_type = S3StaticCredentials


nest(S3Credentials, "FromEnv", _S3FromEnv)
nest(S3Credentials, "Anonymous", _S3Anonymous)
nest(S3Credentials, "Static", _S3Static)
nest(S3Credentials, "Refreshable", _S3Refreshable)

AnyS3Credential: TypeAlias = _S3Static | _S3Anonymous | _S3FromEnv | _S3Refreshable


def s3_refreshable_credentials(
    get_credentials: Callable[[], S3StaticCredentials],
    scatter_initial_credentials: bool = False,
) -> _S3Refreshable:
    """Create refreshable credentials for S3 and S3 compatible object stores.

    Parameters
    ----------
    get_credentials
        Called to get, and when they expire to refresh, the credentials. It must be picklable
        (cloudpickle is used, so lambdas and closures work).
    scatter_initial_credentials
        Call ``get_credentials`` now and store the result, so that copies of a pickled
        repository or session don't each need to call it. The stored credentials travel with
        the pickled object.

    Returns
    -------
    S3Credentials.Refreshable
    """
    current = get_credentials() if scatter_initial_credentials else None
    return _S3Refreshable(as_function(get_credentials), current)


def s3_static_credentials(
    *,
    access_key_id: str,
    secret_access_key: str,
    session_token: str | None = None,
    expires_after: datetime.datetime | None = None,
) -> _S3Static:
    """Create static credentials for S3 and S3 compatible object stores.

    Parameters
    ----------
    access_key_id
        S3 credential access key.
    secret_access_key
        S3 credential secret access key.
    session_token
        Optional S3 credential session token.
    expires_after
        Optional expiration for the credentials.

    Returns
    -------
    S3Credentials.Static
    """
    return _S3Static(
        S3StaticCredentials(
            access_key_id=access_key_id,
            secret_access_key=secret_access_key,
            session_token=session_token,
            expires_after=expires_after,
        )
    )


def s3_anonymous_credentials() -> _S3Anonymous:
    """Create no-signature credentials for S3 and S3 compatible object stores."""
    return _S3Anonymous()


def s3_from_env_credentials() -> _S3FromEnv:
    """Gather S3 credentials from the operating system environment."""
    return _S3FromEnv()


def s3_credentials(
    *,
    access_key_id: str | None = None,
    secret_access_key: str | None = None,
    session_token: str | None = None,
    expires_after: datetime.datetime | None = None,
    anonymous: bool | None = None,
    from_env: bool | None = None,
    get_credentials: Callable[[], S3StaticCredentials] | None = None,
    scatter_initial_credentials: bool = False,
) -> AnyS3Credential:
    """Create credentials for S3 and S3 compatible object stores.

    With no arguments, credentials are fetched from the environment.

    Parameters
    ----------
    access_key_id, secret_access_key, session_token, expires_after
        Static credentials (both the key id and the secret are needed).
    anonymous
        Do not sign requests.
    from_env
        Fetch credentials from the operating system environment.
    get_credentials
        A function to get and refresh credentials.
    scatter_initial_credentials
        See :func:`s3_refreshable_credentials`.

    Returns
    -------
    AnyS3Credential

    Raises
    ------
    ValueError
        The arguments select more than one kind of credentials, or an incomplete one.
    """
    no_static = (
        access_key_id is None
        and secret_access_key is None
        and session_token is None
        and expires_after is None
    )
    if (from_env is None or from_env) and no_static and not anonymous and get_credentials is None:
        return s3_from_env_credentials()
    if anonymous and no_static and not from_env and get_credentials is None:
        return s3_anonymous_credentials()
    if get_credentials is not None and no_static and not from_env and not anonymous:
        return s3_refreshable_credentials(
            get_credentials, scatter_initial_credentials=scatter_initial_credentials
        )
    if (
        access_key_id
        and secret_access_key
        and not from_env
        and not anonymous
        and get_credentials is None
    ):
        return s3_static_credentials(
            access_key_id=access_key_id,
            secret_access_key=secret_access_key,
            session_token=session_token,
            expires_after=expires_after,
        )
    raise ValueError("Conflicting arguments to s3_credentials function")

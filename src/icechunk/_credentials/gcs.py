"""Google Cloud Storage credentials."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any, ClassVar, TypeAlias

from .._records import Variant, nest, opt_datetime, req_str, setting, variant
from ._base import Key, Path, Refreshable, Token, Wraps, as_function


@variant
class GcsBearerCredential(Variant):
    """A Google Cloud Storage bearer token, with an optional expiration time.

    Parameters
    ----------
    bearer
        The bearer token to use for authentication.
    expires_after
        The expiration time of the bearer token.
    """

    bearer: str = setting(default=None)
    expires_after: datetime.datetime | None = setting(default=None)

    def __init__(self, bearer: str, *, expires_after: datetime.datetime | None = None) -> None:
        self._init(
            bearer=req_str("bearer", bearer),
            expires_after=opt_datetime("expires_after", expires_after),
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (_gcs_bearer, (self.bearer, self.expires_after))

    def __repr__(self) -> str:
        return f"GcsBearerCredential(bearer='***', expires_after={self.expires_after!r})"


def _gcs_bearer(bearer: str, expires_after: datetime.datetime | None) -> GcsBearerCredential:
    return GcsBearerCredential(bearer, expires_after=expires_after)


class GcsStaticCredentials:
    """Static Google Cloud Storage credentials: one of :class:`GcsStaticCredentials.ServiceAccount`,
    :class:`GcsStaticCredentials.ServiceAccountKey`,
    :class:`GcsStaticCredentials.ApplicationCredentials` or
    :class:`GcsStaticCredentials.BearerToken`."""

    ServiceAccount: ClassVar[type[_GcsServiceAccount]]
    ServiceAccountKey: ClassVar[type[_GcsServiceAccountKey]]
    ApplicationCredentials: ClassVar[type[_GcsApplicationCredentials]]
    BearerToken: ClassVar[type[_GcsBearerToken]]


class _GcsServiceAccount(Path, GcsStaticCredentials):
    """A service account JSON file.

    Parameters
    ----------
    path
        The path to the service account JSON file.
    """


class _GcsServiceAccountKey(Key, GcsStaticCredentials):
    """A serialized service account key.

    Parameters
    ----------
    key
        The serialized service account key.
    """


class _GcsApplicationCredentials(Path, GcsStaticCredentials):
    """An application default credentials (ADC) file.

    Parameters
    ----------
    path
        The path to the ADC file.
    """


class _GcsBearerToken(Token, GcsStaticCredentials):
    """A bearer token.

    Parameters
    ----------
    token
        The bearer token.
    """


nest(GcsStaticCredentials, "ServiceAccount", _GcsServiceAccount)
nest(GcsStaticCredentials, "ServiceAccountKey", _GcsServiceAccountKey)
nest(GcsStaticCredentials, "ApplicationCredentials", _GcsApplicationCredentials)
nest(GcsStaticCredentials, "BearerToken", _GcsBearerToken)

AnyGcsStaticCredential: TypeAlias = (
    _GcsServiceAccount | _GcsServiceAccountKey | _GcsApplicationCredentials | _GcsBearerToken
)


class GcsCredentials:
    """Google Cloud Storage credentials: one of :class:`GcsCredentials.Anonymous`,
    :class:`GcsCredentials.FromEnv`, :class:`GcsCredentials.Static` or
    :class:`GcsCredentials.Refreshable`."""

    Anonymous: ClassVar[type[_GcsAnonymous]]
    FromEnv: ClassVar[type[_GcsFromEnv]]
    Static: ClassVar[type[_GcsStatic]]
    Refreshable: ClassVar[type[_GcsRefreshable]]


@variant
class _GcsAnonymous(Variant, GcsCredentials):
    """Anonymous access."""


@variant
class _GcsFromEnv(Variant, GcsCredentials):
    """Use credentials from the environment."""


class _GcsStatic(Wraps, GcsCredentials):
    """Use static credentials.

    Parameters
    ----------
    credentials
        One of the :class:`GcsStaticCredentials` members.
    """

    _holds = GcsStaticCredentials
    _0: AnyGcsStaticCredential


class _GcsRefreshable(Refreshable, GcsCredentials):
    """Credentials fetched, and fetched again when expired, by a Python function.

    Parameters
    ----------
    pickled_function
        The pickled function returning :class:`GcsBearerCredential` (a callable is accepted too).
    current
        Initial credential, used before the function is first called.
    """

    _result_type = GcsBearerCredential


nest(GcsCredentials, "Anonymous", _GcsAnonymous)
nest(GcsCredentials, "FromEnv", _GcsFromEnv)
nest(GcsCredentials, "Static", _GcsStatic)
nest(GcsCredentials, "Refreshable", _GcsRefreshable)


AnyGcsCredential: TypeAlias = _GcsAnonymous | _GcsFromEnv | _GcsStatic | _GcsRefreshable


def gcs_static_credentials(
    *,
    service_account_file: str | None = None,
    service_account_key: str | None = None,
    application_credentials: str | None = None,
    bearer_token: str | None = None,
) -> AnyGcsStaticCredential:
    """Create static credentials for Google Cloud Storage.

    The first argument given, in the order of the signature, is used.

    Parameters
    ----------
    service_account_file
        Path to a service account JSON file.
    service_account_key
        A serialized service account key.
    application_credentials
        Path to an application default credentials file.
    bearer_token
        A bearer token.

    Returns
    -------
    AnyGcsStaticCredential
    """
    if service_account_file is not None:
        return _GcsServiceAccount(service_account_file)
    if service_account_key is not None:
        return _GcsServiceAccountKey(service_account_key)
    if application_credentials is not None:
        return _GcsApplicationCredentials(application_credentials)
    if bearer_token is not None:
        return _GcsBearerToken(bearer_token)
    raise ValueError("Conflicting arguments to gcs_static_credentials function")


def gcs_refreshable_credentials(
    get_credentials: Callable[[], GcsBearerCredential],
    scatter_initial_credentials: bool = False,
) -> _GcsRefreshable:
    """Create refreshable credentials for Google Cloud Storage.

    Parameters
    ----------
    get_credentials
        Called to get, and when expired to refresh, a :class:`GcsBearerCredential`. It must be
        picklable (cloudpickle is used).
    scatter_initial_credentials
        Call ``get_credentials`` now and store the result (see
        :func:`s3_refreshable_credentials`).

    Returns
    -------
    GcsCredentials.Refreshable
    """
    current = get_credentials() if scatter_initial_credentials else None
    return _GcsRefreshable(as_function(get_credentials), current)


def gcs_anonymous_credentials() -> _GcsAnonymous:
    """Create anonymous credentials for Google Cloud Storage."""
    return _GcsAnonymous()


def gcs_from_env_credentials() -> _GcsFromEnv:
    """Fetch Google Cloud Storage credentials from the operating system environment."""
    return _GcsFromEnv()


def gcs_credentials(
    *,
    service_account_file: str | None = None,
    service_account_key: str | None = None,
    application_credentials: str | None = None,
    bearer_token: str | None = None,
    from_env: bool | None = None,
    anonymous: bool | None = None,
    get_credentials: Callable[[], GcsBearerCredential] | None = None,
    scatter_initial_credentials: bool = False,
) -> AnyGcsCredential:
    """Create credentials for Google Cloud Storage.

    With no arguments, credentials are fetched from the environment.

    Parameters
    ----------
    service_account_file, service_account_key, application_credentials, bearer_token
        Static credentials (see :func:`gcs_static_credentials`).
    from_env
        Fetch credentials from the operating system environment.
    anonymous
        Anonymous access.
    get_credentials
        A function to get and refresh a bearer token.
    scatter_initial_credentials
        See :func:`gcs_refreshable_credentials`.

    Returns
    -------
    AnyGcsCredential
    """
    if anonymous:
        return gcs_anonymous_credentials()
    any_static = (
        service_account_file is not None
        or service_account_key is not None
        or application_credentials is not None
        or bearer_token is not None
    )
    if (from_env is None or from_env) and not any_static:
        if get_credentials is not None and from_env is None:
            # upstream returns from-env here, silently ignoring the function; a function
            # passed explicitly is what the caller meant
            return gcs_refreshable_credentials(
                get_credentials, scatter_initial_credentials=scatter_initial_credentials
            )
        return gcs_from_env_credentials()
    if any_static and not from_env:
        return _GcsStatic(
            gcs_static_credentials(
                service_account_file=service_account_file,
                service_account_key=service_account_key,
                application_credentials=application_credentials,
                bearer_token=bearer_token,
            )
        )
    if get_credentials is not None:
        return gcs_refreshable_credentials(
            get_credentials, scatter_initial_credentials=scatter_initial_credentials
        )
    raise ValueError("Conflicting arguments to gcs_credentials function")

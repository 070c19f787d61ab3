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

import datetime
import pickle
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeAlias

import cloudpickle

from ._exceptions import CredentialsFetchError
from ._values import (
    Record,
    Variant,
    instance_of,
    nest,
    opt_datetime,
    opt_str,
    req_str,
)

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


# --- S3 ---------------------------------------------------------------------------------------


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

    __slots__ = ("access_key_id", "expires_after", "secret_access_key", "session_token")
    _checks: ClassVar[dict[str, Any]] = {
        "access_key_id": req_str,
        "secret_access_key": req_str,
        "session_token": opt_str,
        "expires_after": opt_datetime,
    }
    access_key_id: str
    secret_access_key: str
    session_token: str | None
    expires_after: datetime.datetime | None

    def __init__(
        self,
        access_key_id: str,
        secret_access_key: str,
        session_token: str | None = None,
        expires_after: datetime.datetime | None = None,
    ) -> None:
        self.access_key_id = access_key_id
        self.secret_access_key = secret_access_key
        self.session_token = session_token
        self.expires_after = expires_after

    def __repr__(self) -> str:
        # never print secrets
        return (
            f"S3StaticCredentials(access_key_id={self.access_key_id!r}, secret_access_key='***', "
            f"session_token={'***' if self.session_token else None}, "
            f"expires_after={self.expires_after!r})"
        )


class _Refreshable(Variant):
    """Shared behaviour of refreshable credentials: a pickled callable plus optional initial value."""

    __slots__ = ("_function", "current", "pickled_function")
    _payload = ("pickled_function", "current")
    _result_type: ClassVar[type]
    pickled_function: bytes
    current: Any
    _function: Callable[[], Any] | None

    def __init__(self, pickled_function: bytes | Callable[[], Any], current: Any = None) -> None:
        if callable(pickled_function) and not isinstance(pickled_function, bytes | bytearray):
            fn = pickled_function
            pickled_function = _pickle_function(fn)
        elif isinstance(pickled_function, bytes | bytearray):
            fn = None
            pickled_function = bytes(pickled_function)
        else:
            raise TypeError(
                f"{type(self).__qualname__} needs the pickled function (bytes) or a callable, "
                f"got {type(pickled_function).__name__}"
            )
        current = instance_of(self._result_type)(f"{type(self).__qualname__}.current", current)
        self._init(pickled_function=pickled_function, current=current, _function=fn)

    def __repr__(self) -> str:
        return f"{type(self).__qualname__}(<function>, current={self.current!r})"

    @property
    def get_credentials(self) -> Callable[[], Any]:
        """The callable that fetches fresh credentials (unpickled on first use)."""
        fn = self._function
        if fn is None:
            fn = pickle.loads(self.pickled_function)
            object.__setattr__(self, "_function", fn)
        return fn  # type: ignore[no-any-return]

    def __reduce__(self) -> tuple[Any, ...]:
        fn = self._function
        pickled = self.pickled_function if fn is None else _pickle_function(fn)
        return (type(self), (pickled, self.current))

    def _fetch(self) -> Any:
        """Call the function and check it returned the right credential type."""
        owner, wanted = type(self).__qualname__, self._result_type.__name__
        try:
            value = self.get_credentials()
        except Exception as e:
            raise CredentialsFetchError(
                f"{e}: the get_credentials function of {owner} raised {type(e).__name__}; fix "
                f"it so that it returns {wanted}"
            ) from e
        if not isinstance(value, self._result_type):
            raise CredentialsFetchError(
                f"'{type(value).__name__}' object cannot be cast as '{wanted}': the "
                f"get_credentials function of {owner} must return {wanted}"
            )
        return value


def _as_function(fn: Any) -> bytes | Callable[[], Any]:
    """What the helpers store: the callable itself, or (as upstream accepts anything) the
    pickle of a non-callable, which then fails when the credentials are first needed."""
    return fn if callable(fn) else _pickle_function(fn)


def _pickle_function(fn: Callable[[], Any]) -> bytes:
    try:
        return cloudpickle.dumps(fn)
    except Exception as e:  # pragma: no cover - depends on what the callable captures
        raise TypeError(f"the get_credentials function must be picklable: {e}") from e


class S3Credentials:
    """Credentials for an S3 storage backend: one of :class:`S3Credentials.FromEnv`,
    :class:`S3Credentials.Anonymous`, :class:`S3Credentials.Static` or
    :class:`S3Credentials.Refreshable`."""

    __slots__ = ()
    FromEnv: ClassVar[type[_S3FromEnv]]
    Anonymous: ClassVar[type[_S3Anonymous]]
    Static: ClassVar[type[_S3Static]]
    Refreshable: ClassVar[type[_S3Refreshable]]


class _S3FromEnv(Variant, S3Credentials):
    """Use credentials from the environment (env vars, profile, instance metadata)."""

    __slots__ = ()

    def __init__(self) -> None:
        pass


class _S3Anonymous(Variant, S3Credentials):
    """Do not sign requests, for public buckets."""

    __slots__ = ()

    def __init__(self) -> None:
        pass


class _S3Static(Variant, S3Credentials):
    """Use fixed S3 credentials.

    Parameters
    ----------
    credentials
        The credentials to use for authentication.
    """

    __slots__ = ("_0",)
    _payload = ("_0",)
    __match_args__ = ("_0",)
    _0: S3StaticCredentials

    def __init__(self, credentials: S3StaticCredentials) -> None:
        self._init(_0=instance_of(S3StaticCredentials, optional=False)("credentials", credentials))


class _S3Refreshable(_Refreshable, S3Credentials):
    """Credentials fetched, and fetched again when expired, by a Python function.

    Parameters
    ----------
    pickled_function
        The pickled function returning :class:`S3StaticCredentials` (a callable is accepted too
        and pickled with cloudpickle).
    current
        Initial credentials, used before the function is first called.
    """

    __slots__ = ()
    __match_args__ = ("pickled_function", "current")
    _result_type = S3StaticCredentials


nest(S3Credentials, "FromEnv", _S3FromEnv)
nest(S3Credentials, "Anonymous", _S3Anonymous)
nest(S3Credentials, "Static", _S3Static)
nest(S3Credentials, "Refreshable", _S3Refreshable)


# --- GCS --------------------------------------------------------------------------------------


class GcsBearerCredential(Variant):
    """A Google Cloud Storage bearer token, with an optional expiration time.

    Parameters
    ----------
    bearer
        The bearer token to use for authentication.
    expires_after
        The expiration time of the bearer token.
    """

    __slots__ = ("bearer", "expires_after")
    _payload = ("bearer", "expires_after")
    bearer: str
    expires_after: datetime.datetime | None

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

    __slots__ = ()
    ServiceAccount: ClassVar[type[_GcsServiceAccount]]
    ServiceAccountKey: ClassVar[type[_GcsServiceAccountKey]]
    ApplicationCredentials: ClassVar[type[_GcsApplicationCredentials]]
    BearerToken: ClassVar[type[_GcsBearerToken]]


class _OneString(Variant):
    __slots__ = ("_0",)
    _payload = ("_0",)
    __match_args__ = ("_0",)
    _0: str
    _secret: ClassVar[bool] = False

    def __repr__(self) -> str:
        return f"{type(self).__qualname__}({'***' if self._secret else repr(self._0)})"


class _GcsServiceAccount(_OneString, GcsStaticCredentials):
    """A service account JSON file.

    Parameters
    ----------
    path
        The path to the service account JSON file.
    """

    __slots__ = ()

    def __init__(self, path: str) -> None:
        self._init(_0=req_str("path", path))


class _GcsServiceAccountKey(_OneString, GcsStaticCredentials):
    """A serialized service account key.

    Parameters
    ----------
    key
        The serialized service account key.
    """

    __slots__ = ()
    _secret = True

    def __init__(self, key: str) -> None:
        self._init(_0=req_str("key", key))


class _GcsApplicationCredentials(_OneString, GcsStaticCredentials):
    """An application default credentials (ADC) file.

    Parameters
    ----------
    path
        The path to the ADC file.
    """

    __slots__ = ()

    def __init__(self, path: str) -> None:
        self._init(_0=req_str("path", path))


class _GcsBearerToken(_OneString, GcsStaticCredentials):
    """A bearer token.

    Parameters
    ----------
    token
        The bearer token.
    """

    __slots__ = ()
    _secret = True

    def __init__(self, token: str) -> None:
        self._init(_0=req_str("token", token))


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

    __slots__ = ()
    Anonymous: ClassVar[type[_GcsAnonymous]]
    FromEnv: ClassVar[type[_GcsFromEnv]]
    Static: ClassVar[type[_GcsStatic]]
    Refreshable: ClassVar[type[_GcsRefreshable]]


class _GcsAnonymous(Variant, GcsCredentials):
    """Anonymous access."""

    __slots__ = ()

    def __init__(self) -> None:
        pass


class _GcsFromEnv(Variant, GcsCredentials):
    """Use credentials from the environment."""

    __slots__ = ()

    def __init__(self) -> None:
        pass


class _GcsStatic(Variant, GcsCredentials):
    """Use static credentials.

    Parameters
    ----------
    credentials
        One of the :class:`GcsStaticCredentials` members.
    """

    __slots__ = ("_0",)
    _payload = ("_0",)
    __match_args__ = ("_0",)
    _0: AnyGcsStaticCredential

    def __init__(self, credentials: AnyGcsStaticCredential) -> None:
        self._init(_0=instance_of(GcsStaticCredentials, optional=False)("credentials", credentials))


class _GcsRefreshable(_Refreshable, GcsCredentials):
    """Credentials fetched, and fetched again when expired, by a Python function.

    Parameters
    ----------
    pickled_function
        The pickled function returning :class:`GcsBearerCredential` (a callable is accepted too).
    current
        Initial credential, used before the function is first called.
    """

    __slots__ = ()
    __match_args__ = ("pickled_function", "current")
    _result_type = GcsBearerCredential


nest(GcsCredentials, "Anonymous", _GcsAnonymous)
nest(GcsCredentials, "FromEnv", _GcsFromEnv)
nest(GcsCredentials, "Static", _GcsStatic)
nest(GcsCredentials, "Refreshable", _GcsRefreshable)


# --- Azure ------------------------------------------------------------------------------------


class AzureStaticCredentials:
    """Static Azure credentials: one of :class:`AzureStaticCredentials.AccessKey`,
    :class:`AzureStaticCredentials.SasToken` or :class:`AzureStaticCredentials.BearerToken`."""

    __slots__ = ()
    AccessKey: ClassVar[type[_AzureAccessKey]]
    SasToken: ClassVar[type[_AzureSasToken]]
    BearerToken: ClassVar[type[_AzureBearerToken]]


class _AzureAccessKey(_OneString, AzureStaticCredentials):
    """An account access key.

    Parameters
    ----------
    key
        The access key.
    """

    __slots__ = ()
    _secret = True

    def __init__(self, key: str) -> None:
        self._init(_0=req_str("key", key))


class _AzureSasToken(_OneString, AzureStaticCredentials):
    """A shared access signature token.

    Parameters
    ----------
    token
        The SAS token.
    """

    __slots__ = ()
    _secret = True

    def __init__(self, token: str) -> None:
        self._init(_0=req_str("token", token))


class _AzureBearerToken(_OneString, AzureStaticCredentials):
    """A bearer token.

    Parameters
    ----------
    token
        The bearer token.
    """

    __slots__ = ()
    _secret = True

    def __init__(self, token: str) -> None:
        self._init(_0=req_str("token", token))


nest(AzureStaticCredentials, "AccessKey", _AzureAccessKey)
nest(AzureStaticCredentials, "SasToken", _AzureSasToken)
nest(AzureStaticCredentials, "BearerToken", _AzureBearerToken)

AnyAzureStaticCredential: TypeAlias = _AzureAccessKey | _AzureSasToken | _AzureBearerToken


class AzureCredentials:
    """Azure Blob Storage credentials: :class:`AzureCredentials.FromEnv` or
    :class:`AzureCredentials.Static`."""

    __slots__ = ()
    FromEnv: ClassVar[type[_AzureFromEnv]]
    Static: ClassVar[type[_AzureStatic]]


class _AzureFromEnv(Variant, AzureCredentials):
    """Use credentials from the environment."""

    __slots__ = ()

    def __init__(self) -> None:
        pass


class _AzureStatic(Variant, AzureCredentials):
    """Use static credentials.

    Parameters
    ----------
    credentials
        One of the :class:`AzureStaticCredentials` members.
    """

    __slots__ = ("_0",)
    _payload = ("_0",)
    __match_args__ = ("_0",)
    _0: AnyAzureStaticCredential

    def __init__(self, credentials: AnyAzureStaticCredential) -> None:
        self._init(
            _0=instance_of(AzureStaticCredentials, optional=False)("credentials", credentials)
        )


nest(AzureCredentials, "FromEnv", _AzureFromEnv)
nest(AzureCredentials, "Static", _AzureStatic)

AnyS3Credential: TypeAlias = _S3Static | _S3Anonymous | _S3FromEnv | _S3Refreshable
AnyGcsCredential: TypeAlias = _GcsAnonymous | _GcsFromEnv | _GcsStatic | _GcsRefreshable
AnyAzureCredential: TypeAlias = _AzureFromEnv | _AzureStatic


# --- wrapper for virtual chunk containers ----------------------------------------------------


class Credentials:
    """Credentials for any object store, as given to ``authorize_virtual_chunk_access``:
    :class:`Credentials.S3`, :class:`Credentials.Gcs` or :class:`Credentials.Azure`."""

    __slots__ = ()
    S3: ClassVar[type[_CredS3]]
    Gcs: ClassVar[type[_CredGcs]]
    Azure: ClassVar[type[_CredAzure]]


class _CredS3(Variant, Credentials):
    """S3 credentials.

    Parameters
    ----------
    credentials
        An :class:`S3Credentials` member.
    """

    __slots__ = ("_0",)
    _payload = ("_0",)
    __match_args__ = ("_0",)
    _0: AnyS3Credential

    def __init__(self, credentials: AnyS3Credential) -> None:
        self._init(_0=instance_of(S3Credentials, optional=False)("credentials", credentials))


class _CredGcs(Variant, Credentials):
    """Google Cloud Storage credentials.

    Parameters
    ----------
    credentials
        A :class:`GcsCredentials` member.
    """

    __slots__ = ("_0",)
    _payload = ("_0",)
    __match_args__ = ("_0",)
    _0: AnyGcsCredential

    def __init__(self, credentials: AnyGcsCredential) -> None:
        self._init(_0=instance_of(GcsCredentials, optional=False)("credentials", credentials))


class _CredAzure(Variant, Credentials):
    """Azure Blob Storage credentials.

    Parameters
    ----------
    credentials
        An :class:`AzureCredentials` member.
    """

    __slots__ = ("_0",)
    _payload = ("_0",)
    __match_args__ = ("_0",)
    _0: AnyAzureCredential

    def __init__(self, credentials: AnyAzureCredential) -> None:
        self._init(_0=instance_of(AzureCredentials, optional=False)("credentials", credentials))


nest(Credentials, "S3", _CredS3)
nest(Credentials, "Gcs", _CredGcs)
nest(Credentials, "Azure", _CredAzure)

AnyCredential: TypeAlias = _CredS3 | _CredGcs | _CredAzure


# --- helper functions (upstream's icechunk.credentials API) ----------------------------------


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
    return _S3Refreshable(_as_function(get_credentials), current)


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
    return _GcsRefreshable(_as_function(get_credentials), current)


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


def azure_static_credentials(
    *,
    access_key: str | None = None,
    sas_token: str | None = None,
    bearer_token: str | None = None,
) -> AnyAzureStaticCredential:
    """Create static credentials for Azure Blob Storage; exactly one argument must be given.

    Parameters
    ----------
    access_key
        An account access key.
    sas_token
        A shared access signature token.
    bearer_token
        A bearer token.

    Returns
    -------
    AnyAzureStaticCredential
    """
    if [access_key, sas_token, bearer_token].count(None) != 2:
        raise ValueError("Conflicting arguments to azure_static_credentials function")
    if access_key is not None:
        return _AzureAccessKey(access_key)
    if sas_token is not None:
        return _AzureSasToken(sas_token)
    assert bearer_token is not None
    return _AzureBearerToken(bearer_token)


def azure_from_env_credentials() -> _AzureFromEnv:
    """Fetch Azure Blob Storage credentials from the operating system environment."""
    return _AzureFromEnv()


def azure_credentials(
    *,
    access_key: str | None = None,
    sas_token: str | None = None,
    bearer_token: str | None = None,
    from_env: bool | None = None,
) -> AnyAzureCredential:
    """Create credentials for Azure Blob Storage.

    With no arguments, credentials are fetched from the environment.

    Parameters
    ----------
    access_key, sas_token, bearer_token
        Static credentials (see :func:`azure_static_credentials`).
    from_env
        Fetch credentials from the operating system environment.

    Returns
    -------
    AnyAzureCredential
    """
    any_static = access_key is not None or sas_token is not None or bearer_token is not None
    if (from_env is None or from_env) and not any_static:
        return azure_from_env_credentials()
    if any_static and not from_env:
        return _AzureStatic(
            azure_static_credentials(
                access_key=access_key, sas_token=sas_token, bearer_token=bearer_token
            )
        )
    raise ValueError("Conflicting arguments to azure_credentials function")


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

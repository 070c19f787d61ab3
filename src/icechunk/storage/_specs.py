"""One mapping from a store configuration to the clients that reach it.

Repository storage (the ``*_storage`` factories) and virtual chunk readers (``_virtual``) both
describe a cloud location with :func:`spec_for`: an ``ObjectStoreConfig`` (``s3_store()``,
``gcs_store()``, ...), a bucket, a prefix, credentials and the storage settings. The result is
a small, picklable spec that builds the obstore store (``object_store()``) and the storage
backend (``make_backend()``). Defaults are applied here, once: the retry settings and the S3
stream timeout a spec holds are the effective ones.
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeAlias

from obstore.store import AzureStore, GCSStore, HTTPStore, S3Store

from .._config import (
    ObjectStoreConfig,
    StorageRetriesSettings,
    StorageSettings,
    defaults,
)
from .._exceptions import ConfigError
from .._time import as_aware
from ..credentials import (
    AzureCredentials,
    AzureStaticCredentials,
    Credentials,
    GcsBearerCredential,
    GcsCredentials,
    GcsStaticCredentials,
    HttpAccess,
    S3Credentials,
    S3StaticCredentials,
)
from ._backend import StorageBackend
from ._object_store import ObjectStoreBackend, build_store

TIGRIS_ENDPOINT = "https://fly.storage.tigris.dev"


def effective_retries(retries: StorageRetriesSettings | None) -> StorageRetriesSettings:
    """The retry settings with every unset field at its documented default."""
    return (retries or StorageRetriesSettings())._with_defaults()


def _obstore_retries(retries: StorageRetriesSettings) -> dict[str, Any]:
    """obstore's ``RetryConfig`` for effective retry settings (``max_tries`` tries in all)."""
    tries = retries.max_tries or 1
    max_backoff = timedelta(milliseconds=retries.max_backoff_ms or 0)
    return {
        "max_retries": tries - 1,
        "backoff": {
            "init_backoff": timedelta(milliseconds=retries.initial_backoff_ms or 0),
            "max_backoff": max_backoff,
            "base": 2,
        },
        # never cut the configured tries short
        "retry_timeout": max(max_backoff * tries, timedelta(seconds=1)),
    }


def _prefix(prefix: str | None) -> str | None:
    prefix = (prefix or "").strip("/")
    return prefix or None


def _unwrap(credentials: Any) -> Any:
    """The store credentials inside a ``Credentials`` wrapper (``containers_credentials``)."""
    return credentials._0 if isinstance(credentials, Credentials) else credentials  # type: ignore[attr-defined]


def _require(credentials: Any, kinds: tuple[type, ...], name: str) -> Any:
    if credentials is not None and not isinstance(credentials, kinds):
        raise ConfigError(
            f"the credentials given are {type(credentials).__name__}, but the store is a "
            f"{name} store: pass {name} credentials (or None for its defaults)"
        )
    return credentials


# --- S3 and compatibles ------------------------------------------------------------------------


@dataclass(frozen=True)
class S3Spec:
    """An S3 (or S3 compatible) location. ``flavor`` is ``s3``, ``tigris`` or ``r2``.

    ``read_timeout_seconds`` is the effective stream timeout (``None``: disabled).
    """

    bucket: str
    prefix: str | None
    region: str | None = None
    endpoint_url: str | None = None
    allow_http: bool = False
    anonymous: bool = False
    read_timeout_seconds: int | None = defaults.S3_NETWORK_STREAM_TIMEOUT_SECONDS
    requester_pays: bool = False
    credentials: Any = None
    flavor: str = "s3"
    read_only: bool = False
    retries: StorageRetriesSettings = field(default_factory=lambda: effective_retries(None))

    def object_store(self) -> Any:
        """The obstore ``S3Store`` for this location."""
        options: dict[str, Any] = {"allow_http": True} if self.allow_http else {}
        if self.read_timeout_seconds:
            options["read_timeout"] = timedelta(seconds=self.read_timeout_seconds)
        return build_store(
            S3Store,
            bucket=self.bucket,
            prefix=_prefix(self.prefix),
            config=self._config(),
            client_options=options,
            retry_config=_obstore_retries(self.retries),
            credential_provider=self._provider(),
        )

    def make_backend(self) -> StorageBackend:
        """Build the obstore S3 store and wrap it."""
        return ObjectStoreBackend(
            self.object_store(), self.describe(), read_only=self.read_only, retries=self.retries
        )

    def _config(self) -> dict[str, Any]:
        config: dict[str, Any] = {}
        if self.region:
            config["region"] = self.region
        if self.endpoint_url:
            config["endpoint"] = self.endpoint_url
        if self.requester_pays:
            config["request_payer"] = True
        credentials = self.credentials
        if self.anonymous or isinstance(credentials, S3Credentials.Anonymous):
            config["skip_signature"] = True
        elif isinstance(credentials, S3Credentials.Static | S3StaticCredentials):
            static: Any = (
                credentials._0 if isinstance(credentials, S3Credentials.Static) else credentials
            )
            config["access_key_id"] = static.access_key_id
            config["secret_access_key"] = static.secret_access_key
            if static.session_token:
                config["session_token"] = static.session_token
        return config

    def _provider(self) -> Any:
        if isinstance(self.credentials, S3Credentials.Refreshable) and not self.anonymous:
            return RefreshingProvider(self.credentials, _s3_credential)
        return None

    def describe(self) -> str:
        """The text shown in ``repr(Storage)``."""
        where = f"s3://{self.bucket}/{_prefix(self.prefix) or ''}"
        endpoint = f", endpoint_url={self.endpoint_url!r}" if self.endpoint_url else ""
        return f"{self.flavor.upper()}({where}{endpoint})"


def _s3_credential(value: S3StaticCredentials) -> dict[str, Any]:
    return {
        "access_key_id": value.access_key_id,
        "secret_access_key": value.secret_access_key,
        "token": value.session_token,
        "expires_at": aware(value.expires_after),
    }


def aware(moment: datetime | None) -> datetime | None:
    """``moment`` as a timezone-aware datetime (naive ones are local time)."""
    return None if moment is None else as_aware(moment)


class RefreshingProvider:
    """An obstore credential provider backed by a refreshable icechunk credential.

    The credential's initial value (``current``) is used until it expires; then the user's
    function is called (again whenever obstore finds the result expired).
    """

    def __init__(self, credentials: Any, convert: Any) -> None:
        self._credentials = credentials
        self._convert = convert
        self._initial = credentials.current
        self._lock = threading.Lock()

    def __call__(self) -> dict[str, Any]:
        with self._lock:
            initial, self._initial = self._initial, None
        if initial is not None:
            expires = aware(initial.expires_after)
            if expires is None or expires > datetime.now(UTC):
                result: dict[str, Any] = self._convert(initial)
                return result
        fetched: dict[str, Any] = self._convert(self._credentials._fetch())
        return fetched


# --- Google Cloud Storage ----------------------------------------------------------------------


@dataclass(frozen=True)
class GcsSpec:
    """A Google Cloud Storage location (``config``: object_store GCS configuration keys)."""

    bucket: str
    prefix: str | None
    credentials: Any = None
    config: dict[str, str] | None = None
    retries: StorageRetriesSettings = field(default_factory=lambda: effective_retries(None))

    def make_backend(self) -> StorageBackend:
        """Build the backend on the Google Cloud Storage client library (JSON API)."""
        from ._gcs import GcsBackend

        return GcsBackend(
            self.bucket,
            _prefix(self.prefix),
            credentials=self.credentials,
            config=dict(self.config or {}),
            retries=self.retries,
            description=self.describe(),
        )

    def object_store(self) -> Any:
        """The obstore ``GCSStore`` for this location (virtual chunk reads use it)."""
        config: dict[str, Any] = dict(self.config or {})
        provider: Any = None
        credentials = self.credentials
        static: Any = (
            credentials._0 if isinstance(credentials, GcsCredentials.Static) else credentials
        )
        if isinstance(credentials, GcsCredentials.Anonymous):
            config["skip_signature"] = True
        elif isinstance(static, GcsStaticCredentials.ServiceAccount):
            config["service_account"] = static._0
        elif isinstance(static, GcsStaticCredentials.ServiceAccountKey):
            config["service_account_key"] = static._0
        elif isinstance(static, GcsStaticCredentials.ApplicationCredentials):
            config["application_credentials"] = static._0
        elif isinstance(static, GcsStaticCredentials.BearerToken):
            provider = StaticToken(static._0)
        elif isinstance(credentials, GcsCredentials.Refreshable):
            provider = RefreshingProvider(credentials, _gcs_credential)
        return build_store(
            GCSStore,
            bucket=self.bucket,
            prefix=_prefix(self.prefix),
            config=config,
            retry_config=_obstore_retries(self.retries),
            credential_provider=provider,
        )

    def describe(self) -> str:
        """The text shown in ``repr(Storage)``."""
        return f"GCS(gs://{self.bucket}/{_prefix(self.prefix) or ''})"


@dataclass(frozen=True)
class StaticToken:
    """An obstore credential provider for a bearer token that never changes."""

    token: str

    def __call__(self) -> dict[str, Any]:
        return {"token": self.token, "expires_at": None}


def _gcs_credential(value: GcsBearerCredential) -> dict[str, Any]:
    return {"token": value.bearer, "expires_at": aware(value.expires_after)}


# --- Azure Blob Storage ------------------------------------------------------------------------

AZURE_ACCOUNT_KEYS = ("account", "account_name", "azure_storage_account_name")


@dataclass(frozen=True)
class AzureSpec:
    """An Azure Blob Storage location."""

    account: str
    container: str
    prefix: str | None
    credentials: Any = None
    config: dict[str, str] | None = None
    retries: StorageRetriesSettings = field(default_factory=lambda: effective_retries(None))

    def object_store(self) -> Any:
        """The obstore ``AzureStore`` for this location."""
        config: dict[str, Any] = {"account_name": self.account, **(self.config or {})}
        credentials = self.credentials
        static: Any = (
            credentials._0 if isinstance(credentials, AzureCredentials.Static) else credentials
        )
        if isinstance(static, AzureStaticCredentials.AccessKey):
            config["account_key"] = static._0
        elif isinstance(static, AzureStaticCredentials.SasToken):
            config["sas_key"] = static._0
        elif isinstance(static, AzureStaticCredentials.BearerToken):
            config["token"] = static._0
        endpoint = str(config.get("endpoint", config.get("azure_storage_endpoint", "")))
        emulator = str(config.get("use_emulator", "")).lower() in ("1", "true")
        allow_http = emulator or endpoint.startswith("http://")
        return build_store(
            AzureStore,
            container_name=self.container,
            prefix=_prefix(self.prefix),
            config=config,
            client_options={"allow_http": True} if allow_http else {},
            retry_config=_obstore_retries(self.retries),
        )

    def make_backend(self) -> StorageBackend:
        """Build the obstore Azure store and wrap it (Azure has no suffix ranges)."""
        return ObjectStoreBackend(
            self.object_store(),
            self.describe(),
            supports_suffix_ranges=False,
            retries=self.retries,
        )

    def describe(self) -> str:
        """The text shown in ``repr(Storage)``."""
        return f"Azure(az://{self.account}/{self.container}/{_prefix(self.prefix) or ''})"


# --- HTTP (read-only) --------------------------------------------------------------------------


@dataclass(frozen=True)
class HttpSpec:
    """A read-only HTTP(S) location (listing needs a WebDAV server)."""

    url: str
    config: dict[str, str] | None = None
    retries: StorageRetriesSettings = field(default_factory=lambda: effective_retries(None))

    def object_store(self) -> Any:
        """The obstore ``HTTPStore`` for this location."""
        options: dict[str, Any] = dict(self.config or {})
        if self.url.startswith("http://"):
            options.setdefault("allow_http", True)
        return build_store(
            HTTPStore,
            url=self.url,
            client_options=options,
            retry_config=_obstore_retries(self.retries),
        )

    def make_backend(self) -> StorageBackend:
        """Build the obstore HTTP store and wrap it, read-only."""
        return ObjectStoreBackend(
            self.object_store(), self.describe(), read_only=True, retries=self.retries
        )

    def describe(self) -> str:
        """The text shown in ``repr(Storage)``."""
        return f"HTTP({self.url})"


CloudSpec: TypeAlias = S3Spec | GcsSpec | AzureSpec | HttpSpec


# --- the mapping -------------------------------------------------------------------------------


def spec_for(
    store: ObjectStoreConfig,
    bucket: str,
    prefix: str | None,
    credentials: Any = None,
    settings: StorageSettings | None = None,
    *,
    read_only: bool = False,
) -> CloudSpec:
    """Describe one cloud location: the single place that applies a store's options.

    Parameters
    ----------
    store
        ``ObjectStoreConfig.S3`` / ``S3Compatible`` / ``Tigris`` / ``Gcs`` / ``Azure`` /
        ``Http`` (as made by ``s3_store()``, ``gcs_store()``, ...).
    bucket
        The bucket (the container for Azure, ``scheme://host[:port]`` for HTTP).
    prefix
        The key prefix inside it (the repository root), or ``None``.
    credentials
        Credentials of the store's kind (also wrapped, as ``containers_credentials`` makes
        them), or ``None`` for the store's defaults.
    settings
        Storage settings; their retries (documented defaults for unset fields) configure
        every client the spec builds.
    read_only
        Refuse writes (Tigris with weak consistency).

    Raises
    ------
    ConfigError
        The store cannot be reached this way, or the credentials are of another kind.
    """
    retries = effective_retries(settings.retries if settings is not None else None)
    credentials = _unwrap(credentials)
    if isinstance(store, ObjectStoreConfig.S3 | ObjectStoreConfig.S3Compatible):
        return _s3_spec(store, bucket, prefix, credentials, retries, read_only, "s3")
    if isinstance(store, ObjectStoreConfig.Tigris):
        return _s3_spec(store, bucket, prefix, credentials, retries, read_only, "tigris")
    if isinstance(store, ObjectStoreConfig.Gcs):
        credentials = _require(credentials, (GcsCredentials, GcsStaticCredentials), "GCS")
        return GcsSpec(bucket, prefix, credentials, store._0 or None, retries)
    if isinstance(store, ObjectStoreConfig.Azure):
        options = store._0
        account = next((options.pop(k) for k in AZURE_ACCOUNT_KEYS if k in options), None)
        if not account:
            raise ConfigError(
                "the Azure store config names no account: use icechunk.azure_store(account=...)"
            )
        credentials = _require(credentials, (AzureCredentials,), "Azure")
        return AzureSpec(account, bucket, prefix, credentials, options or None, retries)
    if isinstance(store, ObjectStoreConfig.Http):
        if credentials is not None and credentials is not HttpAccess:
            raise ConfigError(
                f"the credentials given are {credentials!r}, but an HTTP store needs none: "
                "pass icechunk.credentials.HttpAccess (or None)"
            )
        url = f"{bucket.rstrip('/')}/{prefix.strip('/')}" if prefix else bucket
        return HttpSpec(url, store._0 or None, retries)
    raise ConfigError(f"{type(store).__name__} does not describe a cloud object store")


def _s3_spec(
    store: Any,
    bucket: str,
    prefix: str | None,
    credentials: Any,
    retries: StorageRetriesSettings,
    read_only: bool,
    flavor: str,
) -> S3Spec:
    options = store._0
    timeout = options.network_stream_timeout_seconds
    if timeout is None:
        timeout = defaults.S3_NETWORK_STREAM_TIMEOUT_SECONDS
    tigris = flavor == "tigris"
    return S3Spec(
        bucket=bucket,
        prefix=prefix,
        region=options.region or ("auto" if tigris else None),
        endpoint_url=options.endpoint_url or (TIGRIS_ENDPOINT if tigris else None),
        allow_http=options.allow_http,
        anonymous=options.anonymous,
        read_timeout_seconds=timeout or None,
        requester_pays=options.requester_pays,
        credentials=_require(credentials, (S3Credentials, S3StaticCredentials), "S3"),
        flavor=flavor,
        read_only=read_only,
        retries=retries,
    )


def with_retries(spec: Any, retries: StorageRetriesSettings) -> Any:
    """A copy of ``spec`` using ``retries`` (already effective)."""
    return dataclasses.replace(spec, retries=retries)

"""Picklable descriptions of object store locations (S3 and compatibles, GCS, Azure) and the
code that turns them, with their credentials, into obstore stores."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from obstore.store import AzureStore, GCSStore, HTTPStore, S3Store

from .._config import DEFAULT_INITIAL_BACKOFF_MS, DEFAULT_MAX_BACKOFF_MS, DEFAULT_MAX_TRIES
from .._time import as_aware
from ..credentials import (
    AzureCredentials,
    AzureStaticCredentials,
    GcsBearerCredential,
    GcsCredentials,
    GcsStaticCredentials,
    S3Credentials,
    S3StaticCredentials,
)
from ._backend import StorageBackend
from ._conditional import RetryPolicy
from ._gcs import GCS_ENDPOINT, GcsJsonBackend, StaticToken
from ._object_store import ObjectStoreBackend, build_store

TIGRIS_ENDPOINT = "https://fly.storage.tigris.dev"


@dataclass(frozen=True)
class RetrySettings:
    """How often and how patiently the HTTP client retries a failed request."""

    max_tries: int | None = None
    initial_backoff_ms: int | None = None
    max_backoff_ms: int | None = None

    def effective(self) -> tuple[int, int, int]:
        """``(max_tries, initial_backoff_ms, max_backoff_ms)``, unset ones at their documented
        defaults."""
        return (
            DEFAULT_MAX_TRIES if self.max_tries is None else self.max_tries,
            DEFAULT_INITIAL_BACKOFF_MS
            if self.initial_backoff_ms is None
            else self.initial_backoff_ms,
            DEFAULT_MAX_BACKOFF_MS if self.max_backoff_ms is None else self.max_backoff_ms,
        )

    def to_obstore(self) -> dict[str, Any]:
        """The obstore ``RetryConfig``."""
        tries, initial, maximum = self.effective()
        max_backoff = timedelta(milliseconds=maximum)
        return {
            "max_retries": max(tries - 1, 0),
            "backoff": {
                "init_backoff": timedelta(milliseconds=initial),
                "max_backoff": max_backoff,
                "base": 2,
            },
            # never cut the configured tries short
            "retry_timeout": max(max_backoff * tries, timedelta(seconds=1)),
        }

    def to_policy(self) -> RetryPolicy:
        """The same settings for our own retries: every request of the GCS JSON-API backend,
        and conditional puts that did not land on every backend."""
        tries, initial, maximum = self.effective()
        return RetryPolicy(
            max_tries=tries, initial_backoff_s=initial / 1000, max_backoff_s=maximum / 1000
        )


def _client_options(allow_http: bool, read_timeout_seconds: int | None) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if allow_http:
        options["allow_http"] = True
    if read_timeout_seconds:
        options["read_timeout"] = timedelta(seconds=read_timeout_seconds)
    return options


def _prefix(prefix: str | None) -> str | None:
    prefix = (prefix or "").strip("/")
    return prefix or None


# --- S3 and compatibles ------------------------------------------------------------------------


@dataclass(frozen=True)
class S3Spec:
    """An S3 (or S3 compatible) location. ``flavor`` is ``s3``, ``tigris`` or ``r2``."""

    bucket: str
    prefix: str | None
    region: str | None = None
    endpoint_url: str | None = None
    allow_http: bool = False
    anonymous: bool = False
    force_path_style: bool = False
    network_stream_timeout_seconds: int | None = 60
    requester_pays: bool = False
    credentials: Any = None
    flavor: str = "s3"
    read_only: bool = False
    retries: RetrySettings = field(default_factory=RetrySettings)

    def make_backend(self) -> StorageBackend:
        """Build the obstore S3 store and wrap it."""
        store = build_store(
            S3Store,
            bucket=self.bucket,
            prefix=_prefix(self.prefix),
            config=self._config(),
            client_options=_client_options(self.allow_http, self.network_stream_timeout_seconds),
            retry_config=self.retries.to_obstore(),
            credential_provider=self._provider(),
        )
        return ObjectStoreBackend(
            store, self.describe(), read_only=self.read_only, retries=self.retries.to_policy()
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
            return _RefreshingProvider(self.credentials, _s3_credential)
        return None

    def describe(self) -> str:
        """The text shown in ``repr(Storage)``."""
        where = f"s3://{self.bucket}/{_prefix(self.prefix) or ''}"
        endpoint = f", endpoint_url={self.endpoint_url!r}" if self.endpoint_url else ""
        return f"{self.flavor.upper() if self.flavor != 's3' else 'S3'}({where}{endpoint})"


def _s3_credential(value: S3StaticCredentials) -> dict[str, Any]:
    return {
        "access_key_id": value.access_key_id,
        "secret_access_key": value.secret_access_key,
        "token": value.session_token,
        "expires_at": _aware(value.expires_after),
    }


def _aware(moment: datetime | None) -> datetime | None:
    return None if moment is None else as_aware(moment)


class _RefreshingProvider:
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
            expires = _aware(initial.expires_after)
            if expires is None or expires > datetime.now(UTC):
                result: dict[str, Any] = self._convert(initial)
                return result
        fetched: dict[str, Any] = self._convert(self._credentials._fetch())
        return fetched


# --- Google Cloud Storage ----------------------------------------------------------------------


@dataclass(frozen=True)
class GcsSpec:
    """A Google Cloud Storage location."""

    bucket: str
    prefix: str | None
    credentials: Any = None
    config: dict[str, str] | None = None
    retries: RetrySettings = field(default_factory=RetrySettings)

    def make_backend(self) -> StorageBackend:
        """Build the backend: the JSON-API backend when no OAuth token exchange is needed.

        Anonymous access and bearer tokens (static, in ``config["bearer_token"]``, or from a
        refreshing function) use :class:`GcsJsonBackend`, whose conditional writes are JSON-API
        uploads with ``ifGenerationMatch`` (what GCS and its emulator honour). Service
        accounts, application credentials and credentials from the environment need a token
        exchange that obstore does: they use the obstore store (XML API writes, which real GCS
        also conditions on generations, but fake-gcs-server does not).
        """
        json_backend = self._json_backend()
        if json_backend is not None:
            return json_backend
        return ObjectStoreBackend(
            self.object_store(), self.describe(), retries=self.retries.to_policy()
        )

    def object_store(self) -> Any:
        """The obstore ``GCSStore`` for this location (virtual chunk reads use it too)."""
        config: dict[str, Any] = dict(self.config or {})
        provider: Any = None
        credentials = self.credentials
        if isinstance(credentials, GcsCredentials.Anonymous):
            config["skip_signature"] = True
        elif isinstance(credentials, GcsCredentials.Static):
            provider = self._static(credentials._0, config)
        elif isinstance(credentials, GcsStaticCredentials):
            provider = self._static(credentials, config)
        elif isinstance(credentials, GcsCredentials.Refreshable):
            provider = _RefreshingProvider(credentials, _gcs_credential)
        return build_store(
            GCSStore,
            bucket=self.bucket,
            prefix=_prefix(self.prefix),
            config=config,
            retry_config=self.retries.to_obstore(),
            credential_provider=provider,
        )

    def _json_backend(self) -> GcsJsonBackend | None:
        config = dict(self.config or {})
        credentials = self.credentials
        static: Any = (
            credentials._0 if isinstance(credentials, GcsCredentials.Static) else credentials
        )
        provider: Any = None
        if isinstance(static, GcsStaticCredentials.BearerToken):
            provider = StaticToken(static._0)
        elif isinstance(credentials, GcsCredentials.Refreshable):
            provider = _RefreshingProvider(credentials, _gcs_credential)
        elif config.get("bearer_token"):
            provider = StaticToken(str(config["bearer_token"]))
        elif not (
            isinstance(credentials, GcsCredentials.Anonymous)
            or str(config.get("skip_signature", "")).lower() in ("1", "true")
        ):
            return None
        return GcsJsonBackend(
            self.bucket,
            _prefix(self.prefix),
            base_url=str(config.get("base_url") or GCS_ENDPOINT),
            token_provider=provider,
            retries=self.retries.to_policy(),
            description=self.describe(),
            object_store=self.object_store,
        )

    @staticmethod
    def _static(static: Any, config: dict[str, Any]) -> Any:
        if isinstance(static, GcsStaticCredentials.ServiceAccount):
            config["service_account"] = static._0
        elif isinstance(static, GcsStaticCredentials.ServiceAccountKey):
            config["service_account_key"] = static._0
        elif isinstance(static, GcsStaticCredentials.ApplicationCredentials):
            config["application_credentials"] = static._0
        elif isinstance(static, GcsStaticCredentials.BearerToken):
            token = static._0
            return lambda: {"token": token, "expires_at": None}
        return None

    def describe(self) -> str:
        """The text shown in ``repr(Storage)``."""
        return f"GCS(gs://{self.bucket}/{_prefix(self.prefix) or ''})"


def _gcs_credential(value: GcsBearerCredential) -> dict[str, Any]:
    return {"token": value.bearer, "expires_at": _aware(value.expires_after)}


def _azure_allows_http(config: dict[str, Any]) -> bool:
    """Plain HTTP is allowed for the emulator and for an explicit ``http://`` endpoint."""
    endpoint = str(config.get("endpoint", config.get("azure_storage_endpoint", "")))
    emulator = str(config.get("use_emulator", "")).lower() in ("1", "true")
    return emulator or endpoint.startswith("http://")


# --- Azure Blob Storage ------------------------------------------------------------------------


@dataclass(frozen=True)
class AzureSpec:
    """An Azure Blob Storage location."""

    account: str
    container: str
    prefix: str | None
    credentials: Any = None
    config: dict[str, str] | None = None
    retries: RetrySettings = field(default_factory=RetrySettings)

    def make_backend(self) -> StorageBackend:
        """Build the obstore Azure store and wrap it (Azure has no suffix ranges)."""
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
        store = build_store(
            AzureStore,
            container_name=self.container,
            prefix=_prefix(self.prefix),
            config=config,
            client_options=_client_options(_azure_allows_http(config), None),
            retry_config=self.retries.to_obstore(),
        )
        return ObjectStoreBackend(
            store, self.describe(), supports_suffix_ranges=False, retries=self.retries.to_policy()
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
    retries: RetrySettings = field(default_factory=RetrySettings)

    def make_backend(self) -> StorageBackend:
        """Build the obstore HTTP store and wrap it, read-only."""
        options: dict[str, Any] = dict(self.config or {})
        if self.url.startswith("http://"):
            options.setdefault("allow_http", True)
        store = build_store(
            HTTPStore,
            url=self.url,
            client_options=options,
            retry_config=self.retries.to_obstore(),
        )
        return ObjectStoreBackend(store, self.describe(), read_only=True)

    def describe(self) -> str:
        """The text shown in ``repr(Storage)``."""
        return f"HTTP({self.url})"

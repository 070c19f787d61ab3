"""A Google Cloud Storage backend on the ``google-cloud-storage`` client library.

Why this client: it speaks GCS's JSON API, whose uploads honour generation preconditions on
GCS and on its emulator fake-gcs-server alike (obstore writes through the XML API, which the
emulator does not condition). Create-if-absent is an upload with ``if_generation_match=0``,
compare-and-swap one with ``if_generation_match=<generation>``; version tokens are object
generations. Virtual chunk reads still use obstore (see ``GcsSpec.object_store``).

The library is blocking: each call runs in a worker thread. Its own retries are turned off:
transient failures are retried here with the storage retry settings, and conditional uploads
go through the shared stamp and read-back (:mod:`._readback`).
"""

from __future__ import annotations

import asyncio
import builtins
import json
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import google.auth
import requests
from google.api_core import exceptions as api_errors
from google.auth import exceptions as auth_errors
from google.auth.credentials import AnonymousCredentials
from google.auth.credentials import Credentials as GoogleCredentials
from google.cloud import storage
from google.oauth2 import service_account
from google.oauth2.credentials import Credentials as TokenCredentials

from .._config import StorageRetriesSettings
from .._exceptions import ObjectNotFoundError, StorageAuthError, StorageError
from .._time import as_utc
from ..credentials import GcsBearerCredential, GcsCredentials, GcsStaticCredentials
from ._backend import (
    ByteRange,
    Data,
    ObjectInfo,
    PutMode,
    VersionedObject,
    validate_key,
    validate_prefix,
)
from ._readback import (
    WRITE_ID_ATTRIBUTE,
    AmbiguousWriteError,
    StampedBackend,
    precondition_failed,
)

_SCOPES = ["https://www.googleapis.com/auth/devstorage.read_write"]
_LIST_PAGE = 1000
_DELETE_CONCURRENCY = 16
_TRANSIENT = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    ConnectionError,
    TimeoutError,
    auth_errors.TransportError,
    api_errors.TooManyRequests,
    api_errors.ServerError,
)
_AUTH = (api_errors.Unauthorized, api_errors.Forbidden, auth_errors.GoogleAuthError)

_T = TypeVar("_T")


class _FetchedToken(GoogleCredentials):  # type: ignore[misc]
    """Google credentials whose bearer token comes from a refreshable icechunk credential:
    its initial value first, then the user's function whenever the token has expired."""

    def __init__(self, credentials: Any) -> None:
        super().__init__()
        self._source = credentials
        if credentials.current is not None:
            self._use(credentials.current)

    def _use(self, value: GcsBearerCredential) -> None:
        self.token = value.bearer
        expires = value.expires_after
        self.expiry = None if expires is None else as_utc(expires).replace(tzinfo=None)

    def refresh(self, request: Any) -> None:
        try:
            value = self._source._fetch()
        except Exception as error:
            raise auth_errors.RefreshError(f"getting GCS credentials failed: {error}") from error
        self._use(value)


def google_credentials(credentials: Any, config: dict[str, str]) -> Any:
    """The google-auth credentials for icechunk GCS credentials and object_store config keys."""
    static: Any = credentials._0 if isinstance(credentials, GcsCredentials.Static) else credentials
    skip = str(config.get("skip_signature", "")).lower() in ("1", "true")
    if isinstance(credentials, GcsCredentials.Anonymous) or skip:
        return AnonymousCredentials()
    if isinstance(credentials, GcsCredentials.Refreshable):
        return _FetchedToken(credentials)
    if isinstance(static, GcsStaticCredentials.BearerToken):
        return TokenCredentials(static._0)
    if config.get("bearer_token"):
        return TokenCredentials(config["bearer_token"])
    account_file = _first(config, "service_account", "google_service_account")
    account_key = _first(config, "service_account_key", "google_service_account_key")
    application = _first(config, "application_credentials", "google_application_credentials")
    if isinstance(static, GcsStaticCredentials.ServiceAccount):
        account_file = static._0
    elif isinstance(static, GcsStaticCredentials.ServiceAccountKey):
        account_key = static._0
    elif isinstance(static, GcsStaticCredentials.ApplicationCredentials):
        application = static._0
    if account_file:
        return service_account.Credentials.from_service_account_file(account_file, scopes=_SCOPES)
    if account_key:
        info = json.loads(account_key)
        return service_account.Credentials.from_service_account_info(info, scopes=_SCOPES)
    if application:
        return google.auth.load_credentials_from_file(application, scopes=_SCOPES)[0]
    return google.auth.default(scopes=_SCOPES)[0]


def _first(config: dict[str, str], *names: str) -> str | None:
    return next((config[name] for name in names if config.get(name)), None)


class GcsBackend(StampedBackend):
    """Objects in a Google Cloud Storage bucket (under an optional prefix).

    Parameters
    ----------
    bucket
        The bucket.
    root
        The prefix of the repository inside the bucket, or ``None``.
    credentials
        icechunk GCS credentials (``None``: ``config`` keys or the environment).
    config
        object_store GCS configuration keys; ``base_url`` names another endpoint (the
        emulator), ``project_id`` the project.
    retries
        The effective retry settings.
    description
        The text :meth:`describe` returns.
    """

    def __init__(
        self,
        bucket: str,
        root: str | None,
        *,
        credentials: Any,
        config: dict[str, str],
        retries: StorageRetriesSettings,
        description: str,
    ) -> None:
        self._bucket_name = bucket
        self._root = root or ""
        self._credentials = credentials
        self._config = config
        self._retries = retries
        self._description = description
        self._lock = threading.Lock()
        self._bucket: Any = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        del state["_lock"]
        state["_bucket"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def describe(self) -> str:
        """A one-line human description."""
        return self._description

    # --- the client ----------------------------------------------------------------------

    def _handle(self) -> Any:
        """The library's bucket object (the client is built on first use, in a thread)."""
        with self._lock:
            if self._bucket is None:
                endpoint = self._config.get("base_url")
                try:
                    credentials = google_credentials(self._credentials, self._config)
                except Exception as error:
                    raise StorageAuthError(
                        f"cannot use the credentials of {self._description}: {error}"
                    ) from error
                client = storage.Client(
                    project=self._config.get("project_id") or "<none>",
                    credentials=credentials,
                    client_options={"api_endpoint": endpoint} if endpoint else None,
                )
                self._bucket = client.bucket(self._bucket_name)
            return self._bucket

    def _blob(self, key: str) -> Any:
        return self._handle().blob(f"{self._root}/{key}" if self._root else key)

    async def _run(self, action: str, key: str, function: Callable[[], _T]) -> _T:
        """Run a blocking call in a thread, retrying transient failures; a failure becomes
        a ``StorageError`` (a missing object read: ``ObjectNotFoundError``)."""
        attempt = 0
        while True:
            attempt += 1
            try:
                return await asyncio.to_thread(function)
            except _TRANSIENT as error:
                if attempt >= (self._retries.max_tries or 1):
                    raise self._error(action, key, error) from error
                await asyncio.sleep(self._retries._backoff_seconds(attempt))
            except StorageError:
                raise
            except Exception as error:
                raise self._error(action, key, error) from error

    def _error(self, action: str, key: str, error: Exception) -> StorageError:
        if action == "read" and isinstance(error, api_errors.NotFound):
            return ObjectNotFoundError(f"object not found: {key!r} in {self._description}")
        text = f"cannot {action} {key!r} in {self._description}: {error}"
        return StorageAuthError(text) if isinstance(error, _AUTH) else StorageError(text)

    # --- reads ---------------------------------------------------------------------------

    async def get(self, key: str, byte_range: ByteRange | None = None) -> bytes:
        """Return the object's bytes (or the requested range of them)."""
        validate_key(key)
        if byte_range is None:
            return (await self._download(key))[0]
        if byte_range.end is not None and byte_range.end <= byte_range.start:
            if not await self.exists(key):
                raise ObjectNotFoundError(f"object not found: {key!r} in {self._description}")
            return b""
        start, end = byte_range.start, byte_range.end

        def read() -> bytes | None:
            blob = self._blob(key)
            try:
                return bytes(
                    blob.download_as_bytes(
                        start=start,
                        end=None if end is None else end - 1,  # the library's end is inclusive
                        raw_download=True,
                        checksum=None,
                        retry=None,
                    )
                )
            except api_errors.RequestRangeNotSatisfiable:
                return None

        data = await self._run("read", key, read)
        if data is None:  # the range starts at or after the end of the object
            if not await self.exists(key):
                raise ObjectNotFoundError(f"object not found: {key!r} in {self._description}")
            return b""
        return data

    async def _download(self, key: str) -> tuple[bytes, str]:
        def read() -> tuple[bytes, str]:
            blob = self._blob(key)
            data = blob.download_as_bytes(raw_download=True, retry=None)
            return bytes(data), str(blob.generation)

        return await self._run("read", key, read)

    async def get_versioned(self, key: str) -> VersionedObject:
        """Return the whole object and its current version token (its generation)."""
        validate_key(key)
        data, generation = await self._download(key)
        return VersionedObject(data, generation)

    async def exists(self, key: str) -> bool:
        """Whether an object exists under ``key``."""
        validate_key(key)
        blob = await self._metadata(key)
        return blob is not None

    async def _metadata(self, key: str) -> Any:
        def head() -> Any:
            return self._handle().get_blob(self._blob(key).name, retry=None)

        return await self._run("read", key, head)

    # --- writes --------------------------------------------------------------------------

    async def _put_once(
        self, key: str, data: Data, mode: PutMode, if_match: str | None, write_id: str | None
    ) -> str:
        generation: int | None = None
        if mode is PutMode.CREATE:
            generation = 0
        elif if_match is not None:
            if not if_match.isdigit() or if_match == "0":
                raise precondition_failed(key, self._description, if_match)  # no such object
            generation = int(if_match)
        payload = bytes(data)

        def upload() -> str:
            blob = self._blob(key)
            if write_id is not None:
                blob.metadata = {WRITE_ID_ATTRIBUTE: write_id}
            blob.upload_from_string(
                payload,
                content_type="application/octet-stream",
                if_generation_match=generation,
                retry=None,
            )
            return str(blob.generation)

        if write_id is None:
            return await self._run("write", key, upload)
        try:
            return await asyncio.to_thread(upload)
        except StorageError:
            raise
        except (api_errors.PreconditionFailed, api_errors.NotFound):
            raise precondition_failed(key, self._description, if_match) from None
        except _TRANSIENT as error:
            raise AmbiguousWriteError(str(self._error("write", key, error))) from error
        except Exception as error:
            raise self._error("write", key, error) from error

    async def _written_by(self, key: str, write_id: str) -> str | None:
        try:
            blob = await self._metadata(key)
        except StorageError:
            return None
        if blob is None or (blob.metadata or {}).get(WRITE_ID_ATTRIBUTE) != write_id:
            return None
        return str(blob.generation)

    # --- delete and list -----------------------------------------------------------------

    async def delete(self, keys: builtins.list[str]) -> None:
        """Delete the objects (concurrently, one request each); missing keys are ignored."""
        for key in keys:
            validate_key(key)
        limit = asyncio.Semaphore(_DELETE_CONCURRENCY)

        async def delete_one(key: str) -> None:
            def delete() -> None:
                try:
                    self._blob(key).delete(retry=None)
                except api_errors.NotFound:
                    pass

            async with limit:
                await self._run("delete", key, delete)

        await asyncio.gather(*(delete_one(key) for key in dict.fromkeys(keys)))

    async def list(self, prefix: str = "") -> AsyncIterator[ObjectInfo]:
        """Yield every object whose key starts with ``prefix``."""
        validate_prefix(prefix)
        root = f"{self._root}/" if self._root else ""
        token: str | None = None
        while True:
            items, token = await self._run("list", prefix or "/", self._page(root + prefix, token))
            for blob in items:
                if blob.name.startswith(root) and blob.name != root:
                    yield ObjectInfo(blob.name[len(root) :], int(blob.size or 0), blob.updated)
            if not token:
                return

    def _page(
        self, prefix: str, token: str | None
    ) -> Callable[[], tuple[builtins.list[Any], str | None]]:
        """A blocking call that fetches one page of a listing (and the next page's token)."""

        def page() -> tuple[builtins.list[Any], str | None]:
            iterator = self._handle().list_blobs(
                prefix=prefix,
                page_size=_LIST_PAGE,
                page_token=token,
                fields="items(name,size,updated),nextPageToken",
                retry=None,
            )
            items = builtins.list(next(iterator.pages))
            return items, iterator.next_page_token

        return page

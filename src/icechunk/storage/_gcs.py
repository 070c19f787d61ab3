"""A Google Cloud Storage backend speaking the GCS JSON API (stdlib ``http.client``).

Why not obstore alone: obstore writes GCS objects through the XML API. fake-gcs-server (the
emulator the tests run) honours ``ifGenerationMatch`` only on JSON-API multipart uploads, and
it cannot list through the XML API either, so this backend does every request through the JSON
API: downloads (``alt=media``), object metadata, listing, deletes, and multipart uploads with
``ifGenerationMatch=0`` (create if absent) or ``ifGenerationMatch=<generation>``
(compare-and-swap). Version tokens are object generations.

Authentication is a bearer token (static or from a refreshing provider) or none (anonymous,
for public buckets and the emulator); service-account and application-default credentials
need an OAuth token exchange and use the obstore backend instead (see ``GcsSpec``).

Requests run in worker threads (``asyncio.to_thread``) over a small pool of keep-alive
connections. Transient failures (connection errors, 408, 429, 5xx) are retried with
exponential backoff, except conditional uploads: those are stamped with a write id, read back
after a failure and sent again only when they did not land (:mod:`._conditional`, shared with
the obstore backend).
"""

from __future__ import annotations

import asyncio
import builtins
import http.client
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from .._exceptions import (
    ObjectNotFoundError,
    PreconditionFailedError,
    StorageAuthError,
    StorageError,
)
from .._time import as_aware
from ._backend import (
    ByteRange,
    Data,
    ObjectInfo,
    PutMode,
    StorageBackend,
    VersionedObject,
    check_put_arguments,
    validate_key,
    validate_prefix,
)
from ._conditional import (
    WRITE_ID_ATTRIBUTE,
    AmbiguousWriteError,
    RetryPolicy,
    precondition_failed,
    put_with_write_id,
)

GCS_ENDPOINT = "https://storage.googleapis.com"
_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_LIST_PAGE = 1000
_DELETE_CONCURRENCY = 16
_POOL_SIZE = 32
_TOKEN_MARGIN = timedelta(seconds=60)

#: A token provider returns ``{"token": str, "expires_at": datetime | None}``.
TokenProvider = Callable[[], dict[str, Any]]


#: The retry policy of this backend (one class for every backend; kept under this name).
GcsRetryPolicy = RetryPolicy


@dataclass(frozen=True)
class StaticToken:
    """A token provider for a token that never changes (picklable, unlike a lambda)."""

    token: str

    def __call__(self) -> dict[str, Any]:
        return {"token": self.token, "expires_at": None}


class _TokenCache:
    """Caches the provider's token until shortly before it expires (thread-safe)."""

    def __init__(self, provider: TokenProvider) -> None:
        self._provider = provider
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires: datetime | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"provider": self._provider}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["provider"])  # type: ignore[misc]

    def token(self) -> str:
        with self._lock:
            now = datetime.now(UTC)
            if self._token is None or (
                self._expires is not None and self._expires - _TOKEN_MARGIN <= now
            ):
                value = self._provider()
                self._token = str(value["token"])
                expires = value.get("expires_at")
                self._expires = None if expires is None else as_aware(expires)
            return self._token


@dataclass
class _Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes
    retried: bool  # whether an earlier try of this request was sent

    def json(self) -> Any:
        return json.loads(self.body)


class GcsJsonBackend(StorageBackend):
    """Objects in a GCS bucket under ``prefix``, through the JSON API.

    Parameters
    ----------
    bucket
        The bucket name.
    prefix
        The repository root inside the bucket (``None`` or ``""`` for the bucket root).
    base_url
        The service endpoint, ``https://storage.googleapis.com`` or an emulator's
        ``http://host:port``.
    token_provider
        Returns bearer tokens; ``None`` sends unauthenticated requests.
    retries
        How transient failures are retried.
    timeout_seconds
        Socket timeout of each request.
    description
        The text :meth:`describe` returns.
    object_store
        Builds an obstore store for the same location, returned by :attr:`store` (virtual
        chunk reads go through obstore stores); built on first use.
    """

    def __init__(
        self,
        bucket: str,
        prefix: str | None,
        *,
        base_url: str = GCS_ENDPOINT,
        token_provider: TokenProvider | None = None,
        retries: RetryPolicy | None = None,
        timeout_seconds: float | None = 60,
        description: str | None = None,
        object_store: Callable[[], Any] | None = None,
    ) -> None:
        parts = urlsplit(base_url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise StorageError(f"invalid GCS endpoint {base_url!r}: need http(s)://host[:port]")
        self._bucket = bucket
        self._root = (prefix or "").strip("/")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._base_path = parts.path
        self._tokens = None if token_provider is None else _TokenCache(token_provider)
        self._retries = retries or RetryPolicy()
        self._timeout = timeout_seconds or None
        self._description = description or f"GCS(gs://{bucket}/{self._root})"
        self._pool: list[http.client.HTTPConnection] = []
        self._pool_lock = threading.Lock()
        self._object_store_factory = object_store
        self._object_store: Any = None

    @property
    def store(self) -> Any:
        """An obstore store for the same location (for virtual chunk reads)."""
        if self._object_store is None:
            if self._object_store_factory is None:
                raise StorageError(f"{self._description} has no obstore store")
            self._object_store = self._object_store_factory()
        return self._object_store

    def describe(self) -> str:
        """A one-line human description."""
        return self._description

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_pool"] = []
        state["_object_store"] = None
        del state["_pool_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._pool_lock = threading.Lock()

    # --- names and URLs ------------------------------------------------------------------

    def _name(self, key: str) -> str:
        return f"{self._root}/{key}" if self._root else key

    def _object_path(self, key: str) -> str:
        bucket = quote(self._bucket, safe="")
        return f"{self._base_path}/storage/v1/b/{bucket}/o/{quote(self._name(key), safe='')}"

    # --- HTTP ----------------------------------------------------------------------------

    def _connection(self) -> tuple[http.client.HTTPConnection, bool]:
        with self._pool_lock:
            if self._pool:
                return self._pool.pop(), True
        if self._https:
            return http.client.HTTPSConnection(self._host, self._port, timeout=self._timeout), False
        return http.client.HTTPConnection(self._host, self._port, timeout=self._timeout), False

    def _release(self, connection: http.client.HTTPConnection) -> None:
        with self._pool_lock:
            if len(self._pool) < _POOL_SIZE:
                self._pool.append(connection)
                return
        connection.close()

    def _request(
        self,
        method: str,
        path: str,
        query: dict[str, str] | None = None,
        *,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
        action: str,
        key: str,
        max_tries: int | None = None,
    ) -> _Response:
        """Send one request (blocking), retrying transient failures up to ``max_tries`` tries
        (default: the backend's retry policy)."""
        tries = self._retries.max_tries if max_tries is None else max_tries
        url = path + ("?" + urlencode(query) if query else "")
        attempt = 0
        sent = False
        while True:
            attempt += 1
            all_headers = dict(headers or {})
            if self._tokens is not None:
                try:
                    all_headers["Authorization"] = f"Bearer {self._tokens.token()}"
                except Exception as error:
                    raise StorageAuthError(
                        f"cannot {action} {key!r} in {self._description}: "
                        f"getting GCS credentials failed: {error}"
                    ) from error
            connection, reused = self._connection()
            try:
                connection.request(method, url, body=body, headers=all_headers)
                response = connection.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException) as error:
                connection.close()
                retried, sent = sent, True
                if reused and isinstance(
                    error,
                    http.client.RemoteDisconnected | ConnectionResetError | BrokenPipeError,
                ):
                    attempt -= 1  # a stale keep-alive connection: try again at once
                    continue
                if attempt >= tries:
                    raise StorageError(
                        f"cannot {action} {key!r} in {self._description}: {error!r}"
                        + (" (after retries)" if retried else "")
                    ) from error
                time.sleep(self._retries.delay(attempt))
                continue
            retried, sent = sent, True
            if response.will_close or response.status == 416:
                connection.close()
            else:
                self._release(connection)
            if response.status in _RETRY_STATUSES and attempt < tries:
                time.sleep(self._retries.delay(attempt))
                continue
            return _Response(response.status, response.headers, data, retried)

    def _fail(self, action: str, key: str, response: _Response) -> StorageError:
        try:
            message = response.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = response.body[:200].decode("utf-8", "replace")
        text = f"cannot {action} {key!r} in {self._description}: HTTP {response.status}: {message}"
        if response.status in (401, 403):
            return StorageAuthError(text)
        return StorageError(text)

    def _not_found(self, key: str) -> ObjectNotFoundError:
        return ObjectNotFoundError(f"object not found: {key!r} in {self._description}")

    async def _call(self, method: str, path: str, **kwargs: Any) -> _Response:
        return await asyncio.to_thread(self._request, method, path, **kwargs)

    # --- reads ---------------------------------------------------------------------------

    async def _metadata(self, key: str) -> dict[str, Any] | None:
        response = await self._call("GET", self._object_path(key), action="read", key=key)
        if response.status == 404:
            return None
        if response.status != 200:
            raise self._fail("read", key, response)
        metadata: dict[str, Any] = response.json()
        return metadata

    async def _download(self, key: str, range_header: str | None) -> _Response:
        headers = {"Range": range_header} if range_header else {}
        response = await self._call(
            "GET",
            self._object_path(key),
            query={"alt": "media"},
            headers=headers,
            action="read",
            key=key,
        )
        if response.status == 404:
            raise self._not_found(key)
        return response

    async def get(self, key: str, byte_range: ByteRange | None = None) -> bytes:
        """Return the object's bytes (or the requested range of them)."""
        validate_key(key)
        if byte_range is None:
            response = await self._download(key, None)
        elif byte_range.end is not None and byte_range.end <= byte_range.start:
            if await self._metadata(key) is None:
                raise self._not_found(key)
            return b""
        else:
            response = await self._download(key, _range_header(byte_range))
            if response.status == 416:
                if await self._metadata(key) is None:
                    raise self._not_found(key)
                return b""  # the range starts at or after the end of the object
        if response.status not in (200, 206):
            raise self._fail("read", key, response)
        return response.body

    async def get_versioned(self, key: str) -> VersionedObject:
        """Return the whole object and its current version token (its generation)."""
        validate_key(key)
        response = await self._download(key, None)
        if response.status != 200:
            raise self._fail("read", key, response)
        generation = response.headers.get("x-goog-generation")
        if not generation:
            raise StorageError(
                f"cannot read {key!r} in {self._description}: the response has no generation"
            )
        return VersionedObject(response.body, generation)

    async def exists(self, key: str) -> bool:
        """Whether an object exists under ``key``."""
        validate_key(key)
        return await self._metadata(key) is not None

    # --- writes --------------------------------------------------------------------------

    async def put(
        self,
        key: str,
        data: Data,
        *,
        mode: PutMode = PutMode.OVERWRITE,
        if_match: str | None = None,
    ) -> str:
        """Write the object atomically (one multipart upload) and return its generation."""
        validate_key(key)
        check_put_arguments(mode, if_match)
        conditional = mode is PutMode.CREATE or if_match is not None
        query = {"uploadType": "multipart"}
        if mode is PutMode.CREATE:
            query["ifGenerationMatch"] = "0"
        elif if_match is not None:
            if not if_match.isdigit() or if_match == "0":
                raise self._precondition(key, if_match)  # no object has such a generation
            query["ifGenerationMatch"] = if_match
        if not conditional:
            response = await self._upload(key, data, query, None)
            if response.status != 200:
                raise self._fail("write", key, response)
            return str(response.json()["generation"])

        async def upload_once(write_id: str) -> str:
            try:
                response = await self._upload(key, data, query, write_id)
            except StorageAuthError:
                raise
            except StorageError as error:
                raise AmbiguousWriteError(str(error)) from error
            if response.status == 200:
                return str(response.json()["generation"])
            if response.status in (412, 404):
                raise self._precondition(key, if_match)
            if response.status in _RETRY_STATUSES:
                raise AmbiguousWriteError(str(self._fail("write", key, response)))
            raise self._fail("write", key, response)

        return await put_with_write_id(
            upload_once, lambda write_id: self._written_by(key, write_id), self._retries
        )

    async def _upload(
        self, key: str, data: Data, query: dict[str, str], write_id: str | None
    ) -> _Response:
        """One multipart upload; a conditional one (``write_id``) is tried once."""
        metadata: dict[str, Any] = {"name": self._name(key)}
        if write_id is not None:
            metadata["metadata"] = {WRITE_ID_ATTRIBUTE: write_id}
        boundary = f"icechunk-{uuid.uuid4().hex}"
        body = b"".join(
            (
                f"--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n".encode(),
                json.dumps(metadata).encode(),
                f"\r\n--{boundary}\r\nContent-Type: application/octet-stream\r\n\r\n".encode(),
                bytes(data),
                f"\r\n--{boundary}--\r\n".encode(),
            )
        )
        path = f"{self._base_path}/upload/storage/v1/b/{quote(self._bucket, safe='')}/o"
        return await self._call(
            "POST",
            path,
            query=query,
            headers={"Content-Type": f"multipart/related; boundary={boundary}"},
            body=body,
            action="write",
            key=key,
            max_tries=None if write_id is None else 1,
        )

    def _precondition(self, key: str, if_match: str | None) -> PreconditionFailedError:
        return precondition_failed(key, self._description, if_match)

    async def _written_by(self, key: str, stamp: str) -> str | None:
        """The object's generation if its current content is the upload stamped ``stamp``."""
        try:
            metadata = await self._metadata(key)
        except StorageError:
            return None
        if metadata is None or (metadata.get("metadata") or {}).get(WRITE_ID_ATTRIBUTE) != stamp:
            return None
        return str(metadata["generation"])

    # --- delete and list -----------------------------------------------------------------

    async def delete(self, keys: builtins.list[str]) -> None:
        """Delete the objects (concurrently, one request each); missing keys are ignored."""
        for key in keys:
            validate_key(key)
        limit = asyncio.Semaphore(_DELETE_CONCURRENCY)

        async def delete_one(key: str) -> None:
            async with limit:
                response = await self._call(
                    "DELETE", self._object_path(key), action="delete", key=key
                )
            if response.status not in (200, 204, 404):
                raise self._fail("delete", key, response)

        await asyncio.gather(*(delete_one(key) for key in dict.fromkeys(keys)))

    async def list(self, prefix: str = "") -> AsyncIterator[ObjectInfo]:
        """Yield every object whose key starts with ``prefix``."""
        validate_prefix(prefix)
        root = f"{self._root}/" if self._root else ""
        path = f"{self._base_path}/storage/v1/b/{quote(self._bucket, safe='')}/o"
        query = {
            "prefix": root + prefix,
            "maxResults": str(_LIST_PAGE),
            "fields": "items(name,size,updated),nextPageToken",
        }
        while True:
            response = await self._call("GET", path, query=query, action="list", key=prefix)
            if response.status != 200:
                raise self._fail("list", prefix or "/", response)
            page = response.json()
            for item in page.get("items") or ():
                name = item["name"]
                if not name.startswith(root) or name == root:
                    continue
                yield ObjectInfo(
                    name[len(root) :],
                    int(item.get("size", 0)),
                    _timestamp(item["updated"]),
                )
            token = page.get("nextPageToken")
            if not token:
                return
            query = {**query, "pageToken": token}


def _range_header(byte_range: ByteRange) -> str:
    if byte_range.is_suffix:
        return f"bytes=-{-byte_range.start}"
    if byte_range.end is None:
        return f"bytes={byte_range.start}-"
    return f"bytes={byte_range.start}-{byte_range.end - 1}"


def _timestamp(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)

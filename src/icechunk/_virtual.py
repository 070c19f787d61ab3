"""Virtual chunks: references into files outside the repository.

Reading one needs a virtual chunk container whose url prefix matches the chunk's location
(longest prefix wins) and an authorization for that prefix given when the repository was
opened; the source is fetched with the container's store settings and credentials, and a
recorded checksum (etag or last-modified time) must still match.

Locations are ``s3://bucket/key`` (also ``tigris://``), ``gs://`` / ``gcs://bucket/key``,
``az://`` / ``azure://container/path`` (``abfs://container@account.../path``),
``http(s)://host/path`` and ``file:///absolute/path``. Each is read with obstore: one store
per container and bucket (or host) is built on first use and kept. Like upstream, a
``file://`` container reads the absolute path of the location (the directory given to
``local_filesystem_store`` is not a root).

Checksums are enforced twice: the request carries ``If-Match`` / ``If-Unmodified-Since``
(a store answers 412 when they fail), and the metadata that comes back with the bytes is
compared as well, so a server that ignores the conditions still cannot hand back bytes of a
modified object.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

import obstore
from obstore import exceptions as obstore_errors
from obstore.store import LocalStore

from ._coalesce import RangeCoalescer
from ._config import StorageSettings
from ._exceptions import VirtualChunkError
from ._format.manifest import VirtualChunk

_DOCS = "see https://icechunk.io/en/stable/virtual/"
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
_RANGE_NOT_SATISFIABLE = ("416", "Range Not Satisfiable", "InvalidRange")


def check_location_url(location: str) -> None:
    """Raise VirtualChunkError unless ``location`` is an absolute URL a virtual ref can hold.

    As upstream, it needs a scheme, and a host (the bucket) unless it is a ``file://`` URL.
    """
    if not isinstance(location, str) or not _URL.match(location):
        raise VirtualChunkError(
            f"error parsing virtual ref URL: {location!r}: a virtual chunk location must be an "
            "absolute URL with a scheme, such as s3://bucket/key or file:///absolute/path"
        )
    scheme = location.partition("://")[0]
    if scheme.lower() != "file" and not urlsplit(location).netloc:
        raise VirtualChunkError(
            f"error parsing bucket name from virtual ref URL {location!r}: name the bucket "
            f"(or host) after {scheme}://"
        )


class AuthorizedPrefixes(set[str]):
    """The url prefixes a repository may read virtual chunks from: a set, as upstream's property.

    Calling it (``repo.authorized_virtual_container_prefixes()``, as earlier versions of this
    package did) returns a plain copy.
    """

    def __call__(self) -> set[str]:
        return set(self)


class VirtualChunkResolver:
    """Finds the container of a location, checks authorization, fetches the bytes.

    Parameters
    ----------
    containers
        Virtual chunk containers (from the repository config), keyed by url prefix or, in
        configs written by older versions, by a name (their ``url_prefix`` is used).
    credentials
        Authorized url prefixes and their credentials (``None``: use the store's defaults).
    settings
        Storage settings (the repository's ``config.storage``): their retries configure the
        stores that fetch virtual chunks, as they do the repository's own storage.
    """

    def __init__(
        self,
        containers: Mapping[str, Any],
        credentials: Mapping[str, Any],
        settings: StorageSettings | None = None,
    ):
        # keyed by url prefix: older configs key containers by a name and carry the prefix
        self._containers = {getattr(c, "url_prefix", k) or k: c for k, c in containers.items()}
        self._credentials = dict(credentials)
        self._settings = settings
        self._stores: dict[tuple[str, str, str], Any] = {}
        self._coalescer = RangeCoalescer()
        self._lock = threading.Lock()

    # --- containers and authorization ----------------------------------------------------------

    def _match(self, location: str) -> tuple[str, Any] | None:
        best: tuple[str, Any] | None = None
        for prefix, container in self._containers.items():
            if location.startswith(prefix) and (best is None or len(prefix) > len(best[0])):
                best = (prefix, container)
        return best

    def container_for(self, location: str) -> Any | None:
        """The container with the longest url prefix matching ``location``, if any."""
        best = self._match(location)
        return None if best is None else best[1]

    def validate(self, location: str) -> None:
        """Raise VirtualChunkError unless some container covers ``location``."""
        if self.container_for(location) is None:
            raise VirtualChunkError(
                f"invalid chunk location, no matching virtual chunk container: {location!r}; "
                "declare one in the repository config with config.set_virtual_chunk_container("
                "VirtualChunkContainer(url_prefix, store)), or pass validate_container=False "
                "to store the reference anyway"
            )

    def _authorized(self, location: str) -> tuple[str, Any, Any]:
        """The prefix, container and credentials that serve ``location``, or an error."""
        match = self._match(location)
        if match is None:
            raise VirtualChunkError(
                f"no virtual chunk container can handle the chunk location ({location}): "
                "edit the repository configuration adding a virtual chunk container for it "
                "(config.set_virtual_chunk_container(VirtualChunkContainer(url_prefix, store)), "
                f"then repo.save_config()) and authorize its url prefix when opening; {_DOCS}"
            )
        prefix, container = match
        for key in (prefix, prefix.rstrip("/")):
            if key in self._credentials:
                return prefix, container, self._credentials[key]
        raise VirtualChunkError(
            f"a virtual chunk in this repository ({location}) resolves to the url prefix "
            f"{prefix}, which is not authorized: open or create the repository with "
            f"authorize_virtual_chunk_access={{{prefix!r}: None}} (None uses the store's "
            "default credentials; cloud containers can take credentials instead, e.g. "
            f"icechunk.s3_credentials(...)); {_DOCS}"
        )

    # --- fetching ------------------------------------------------------------------------------

    async def fetch(self, chunk: VirtualChunk, start: int = 0, end: int | None = None) -> bytes:
        """The bytes ``[start, end)`` of the chunk (relative to the chunk)."""
        location = chunk.location
        prefix, container, credentials = self._authorized(location)
        start = max(start, 0)
        stop = chunk.length if end is None else min(end, chunk.length)
        if stop <= start:
            return b""
        store, path = self._store_for(prefix, container, credentials, location)
        conditions: dict[str, Any] = {}
        # local etags are compared below, ignoring quotes: object_store versions differ in
        # quoting them (upstream's are bare, obstore's quoted) and If-Match compares exactly
        sent_etag = chunk.etag is not None and not isinstance(store, LocalStore)
        if sent_etag:
            conditions["if_match"] = chunk.etag
        if chunk.last_modified is not None:
            conditions["if_unmodified_since"] = datetime.fromtimestamp(chunk.last_modified, UTC)

        async def get(lo: int, hi: int) -> tuple[bytes, Any]:
            return await _get_range(store, path, lo, hi, conditions, location, prefix)

        same_object = (id(store), path, chunk.etag, chunk.last_modified)
        data, meta = await self._coalescer.read(
            same_object, chunk.offset + start, chunk.offset + stop, get
        )
        _check_meta(chunk, meta, etag_required=not sent_etag)
        if len(data) != stop - start:
            raise _short(location, stop - start, len(data))
        return data

    def _store_for(
        self, prefix: str, container: Any, credentials: Any, location: str
    ) -> tuple[Any, str]:
        """The (cached) obstore store for ``location`` and the object path inside it."""
        parts = urlsplit(location)
        scheme = parts.scheme.lower()
        if parts.query or parts.fragment:
            raise VirtualChunkError(
                f"virtual chunk location {location} has a query or fragment; only plain "
                "object URLs are supported"
            )
        path = unquote(parts.path)
        if scheme == "file":
            if parts.netloc not in ("", "localhost"):
                raise VirtualChunkError(
                    f"virtual chunk location {location}: file:// URLs must name a local "
                    "absolute path (file:///path)"
                )
            key = (prefix, scheme, "")
            path = path.lstrip("/")
        else:
            if not parts.netloc:
                raise VirtualChunkError(f"virtual chunk location {location} has no bucket/host")
            key = (prefix, scheme, parts.netloc)
            path = path.lstrip("/")
        if not path:
            raise VirtualChunkError(f"virtual chunk location {location} names no object")
        with self._lock:
            store = self._stores.get(key)
            if store is None:
                store = _build_store(
                    container, credentials, self._settings, scheme, parts.netloc, location
                )
                self._stores[key] = store
        return store, path


async def _get_range(
    store: Any, path: str, lo: int, hi: int, conditions: dict[str, Any], location: str, prefix: str
) -> tuple[bytes, Any]:
    """Bytes ``[lo, hi)`` of the object and its metadata, failures as VirtualChunkError."""
    try:
        options: Any = {"range": (lo, hi), **conditions}
        result = await obstore.get_async(store, path, options=options)
        return bytes(await result.bytes_async()), result.meta
    except FileNotFoundError:
        raise VirtualChunkError(
            f"error fetching virtual reference: the object {location} does not exist"
        ) from None
    except obstore_errors.PreconditionError:
        raise _modified(location) from None
    except (obstore_errors.PermissionDeniedError, obstore_errors.UnauthenticatedError) as e:
        raise VirtualChunkError(
            f"error fetching virtual reference {location}: access denied ({e}); check the "
            f"credentials authorized for {prefix!r} in authorize_virtual_chunk_access"
        ) from e
    except Exception as error:
        if any(marker in str(error) for marker in _RANGE_NOT_SATISFIABLE):
            raise _short(location, hi - lo, None) from error
        raise VirtualChunkError(f"error fetching virtual reference {location}: {error}") from error


def _modified(location: str) -> VirtualChunkError:
    return VirtualChunkError(
        f"the checksum of the object owning the virtual chunk has changed ({location}): the "
        "source was modified since the reference was written"
    )


def _short(location: str, wanted: int, got: int | None) -> VirtualChunkError:
    available = "" if got is None else f", available ({got})"
    return VirtualChunkError(
        f"error retrieving virtual chunk {location}, not enough data. Expected: ({wanted})"
        f"{available}"
    )


def _bare_etag(etag: str) -> str:
    etag = etag.strip()
    etag = etag.removeprefix("W/")
    return etag.strip('"')


def _check_meta(chunk: VirtualChunk, meta: Mapping[str, Any], *, etag_required: bool) -> None:
    """The served object's metadata must satisfy the checksum (for stores that got the
    conditions in the request, a second line of defence)."""
    if chunk.etag is not None:
        served = meta.get("e_tag")
        if served is None and etag_required:
            raise VirtualChunkError(
                f"cannot check the etag of virtual chunk {chunk.location}: its store reports none"
            )
        if served is not None and _bare_etag(served) != _bare_etag(chunk.etag):
            raise _modified(chunk.location)
    if chunk.last_modified is not None:
        modified = meta.get("last_modified")
        if isinstance(modified, datetime):
            if modified.tzinfo is None:
                modified = modified.replace(tzinfo=UTC)
            if modified > datetime.fromtimestamp(chunk.last_modified, UTC):
                raise _modified(chunk.location)


# --- building stores ---------------------------------------------------------------------------


def _build_store(
    container: Any,
    credentials: Any,
    settings: StorageSettings | None,
    scheme: str,
    netloc: str,
    location: str,
) -> Any:
    """The obstore store serving ``scheme://netloc`` for ``container`` (see ``spec_for``)."""
    from . import _config as config
    from .credentials import LocalFileSystemAccess
    from .storage._specs import AZURE_ACCOUNT_KEYS, spec_for

    store = container.store
    try:
        if isinstance(store, config._StoreLocal):
            if credentials is not None and credentials is not LocalFileSystemAccess:
                raise VirtualChunkError(
                    f"the authorization given for {location} is {credentials!r}, but its "
                    "container needs no credentials: authorize it with "
                    "icechunk.credentials.LocalFileSystemAccess (or None)"
                )
            return LocalStore()
        if isinstance(store, config._StoreHttp):
            return spec_for(
                store, f"{scheme}://{netloc}", None, credentials, settings
            ).object_store()
        if isinstance(store, config._StoreAzure):
            container_name, _, host = netloc.partition("@")
            if host and not any(k in store._0 for k in AZURE_ACCOUNT_KEYS):
                store = config._StoreAzure({**store._0, "account": host.split(".")[0]})
            return spec_for(store, container_name, None, credentials, settings).object_store()
        return spec_for(store, netloc, None, credentials, settings).object_store()
    except VirtualChunkError:
        raise
    except Exception as error:
        raise VirtualChunkError(
            f"cannot build the object store for virtual chunk {location}: {error}"
        ) from error

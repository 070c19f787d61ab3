"""Virtual chunk containers and the virtual chunk references written through the store."""

from __future__ import annotations

import datetime
import functools
import re
import struct
import sys
import threading
from collections.abc import Sequence
from typing import Any, cast
from urllib.parse import urlsplit

import numpy as np

from .._exceptions import ConfigError
from .._records import (
    Record,
    Variant,
    instance_of,
    opt_datetime,
    opt_str,
    record,
    req_str,
    setting,
    uint,
    variant,
)
from .object_store import AnyObjectStoreConfig, ObjectStoreConfig, _StoreHttp, _StoreLocal
from .object_store import store_debug as _store_debug


@record
class VirtualChunkContainer(Record):
    """A source of virtual chunks: URLs starting with ``url_prefix`` are read from ``store``.

    Parameters
    ----------
    url_prefix
        The prefix of the chunk URLs this container serves; it must end with ``/``.
    store
        The object store configuration to read them with (``store_config=`` is accepted too,
        as the user's reference writes it).

    Attributes
    ----------
    name
        Optional name (kept for compatibility with older configurations).
    url_prefix, store
        As the parameters; settable.
    """

    name: str | None = setting(default=None, check=opt_str)
    url_prefix: str = setting(default=None, check=req_str)
    store: AnyObjectStoreConfig = setting(
        default=None, check=instance_of(ObjectStoreConfig, optional=False)
    )

    def __init__(
        self,
        url_prefix: str,
        store: AnyObjectStoreConfig | None = None,
        *,
        store_config: AnyObjectStoreConfig | None = None,
    ) -> None:
        if (store is None) == (store_config is None):
            raise TypeError("VirtualChunkContainer needs exactly one of store= or store_config=")
        self.name = None
        self.url_prefix = url_prefix
        self.store = store if store is not None else store_config  # type: ignore[assignment]

    def _stored_copy(self) -> VirtualChunkContainer:
        """The copy a configuration keeps: like upstream 1.1, later changes to this object
        don't reach the configuration, and the vestigial ``name`` is not kept."""
        return VirtualChunkContainer(self.url_prefix, self.store)

    def _validate(self) -> None:
        """Check the url prefix is a URL the store type can serve.

        Raises
        ------
        ConfigError
            With upstream's wording, when the prefix doesn't end in ``/``, is not an absolute
            URL, has a scheme the store doesn't serve, or lacks a bucket or path.
        """
        prefix = self.url_prefix
        if not prefix.endswith("/"):
            raise ConfigError("VirtualChunkContainer url_prefix must end in a / character")
        parts = urlsplit(prefix)
        if not parts.scheme or not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", prefix):
            raise ConfigError(
                f"VirtualChunkContainer url_prefix {prefix!r} is not an absolute URL "
                "(relative URL without a base)"
            )
        scheme = parts.scheme.lower()
        store = self.store
        if scheme not in store._schemes:
            raise ConfigError(
                f"Invalid url prefix scheme ({scheme}) for this object store config: "
                f"({_store_debug(store)})"
            )
        if isinstance(store, _StoreLocal):
            if not parts.netloc and parts.path in ("", "/"):
                raise ConfigError("Url prefix for file:// containers must include a path")
        elif isinstance(store, _StoreHttp):
            if not parts.hostname:
                raise ConfigError(f"VirtualChunkContainer url_prefix {prefix!r}: empty host")
        elif not parts.netloc:
            kind = {"gs": "GCS", "gcs": "GCS"}.get(scheme, f"{scheme}://")
            raise ConfigError(f"Url prefix for {kind} containers must include a host")


@variant
class VirtualChunkSpec(Variant):
    """A virtual chunk reference to write with ``store.set_virtual_refs``.

    Parameters
    ----------
    index
        The chunk index, in chunk coordinates.
    location
        URL of the containing object, like ``s3://bucket/foo.nc``.
    offset
        Byte offset of the chunk within the object.
    length
        Length of the chunk in bytes.
    etag_checksum
        Optional ETag of the object; reads fail if it has changed.
    last_updated_at_checksum
        Optional time; reads fail if the object was modified after it.
    """

    _index: tuple[int, ...] = setting(default=None)
    location: str = setting(default=None)
    offset: int = setting(default=None)
    length: int = setting(default=None)
    etag_checksum: str | None = setting(default=None)
    last_updated_at_checksum: datetime.datetime | None = setting(default=None)

    def __init__(
        self,
        index: list[int],
        location: str,
        offset: int,
        length: int,
        etag_checksum: str | None = None,
        last_updated_at_checksum: datetime.datetime | None = None,
    ) -> None:
        if isinstance(index, str | bytes) or not isinstance(index, Sequence):
            raise TypeError(f"index must be a list of int, got {index!r}")
        idx = tuple(cast(int, uint(32, optional=False)("index", i)) for i in index)
        self._init(
            _index=idx,
            location=sys.intern(req_str("location", location)),  # many specs name one file
            offset=uint(64, optional=False)("offset", offset),
            length=uint(64, optional=False)("length", length),
            etag_checksum=opt_str("etag_checksum", etag_checksum),
            last_updated_at_checksum=opt_datetime(
                "last_updated_at_checksum", last_updated_at_checksum
            ),
        )
        has_checksum = etag_checksum is not None or last_updated_at_checksum is not None
        generation, code = SPEC_LOCATIONS.code(self.location)
        packed = _spec_layout(len(idx)).pack(
            offset, length, has_checksum, len(idx), generation, code, *idx
        )
        object.__setattr__(self, "_packed", packed)  # not a field: to read many specs at once

    @property
    def index(self) -> list[int]:
        """The chunk index, in chunk coordinates."""
        return list(self._index)

    def __reduce__(self) -> tuple[Any, ...]:
        return (VirtualChunkSpec, (list(self._index), *self._values()[1:]))

    def __repr__(self) -> str:
        return (
            f"VirtualChunkSpec(index={list(self._index)!r}, location={self.location!r}, "
            f"offset={self.offset}, length={self.length}, etag_checksum={self.etag_checksum!r}, "
            f"last_updated_at_checksum={self.last_updated_at_checksum!r})"
        )


class SpecLocations:
    """Small integer codes for the locations of ``VirtualChunkSpec`` objects, so that many
    specs are read as one buffer, without a pass over their location strings.

    Bounded: past ``limit`` distinct locations a new generation starts, and specs of an older
    generation are read through their ``location`` attribute instead.
    """

    limit = 1 << 16

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.generation = 0
        self._codes: dict[str, int] = {}
        self._names: list[str] = []

    def code(self, location: str) -> tuple[int, int]:
        """The current generation and the code of ``location`` in it."""
        with self._lock:
            code = self._codes.get(location)
            if code is None:
                if len(self._names) >= self.limit:
                    self.generation = (self.generation + 1) & 0xFFFFFFFF
                    self._codes, self._names = {}, []  # older specs keep their own strings
                code = self._codes[location] = len(self._names)
                self._names.append(location)
            return self.generation, code

    def current(self) -> tuple[int, list[str]]:
        """The current generation and its locations, indexed by code (append-only)."""
        with self._lock:
            return self.generation, self._names


SPEC_LOCATIONS = SpecLocations()


@functools.cache
def _spec_layout(ndim: int) -> struct.Struct:
    return struct.Struct(f"<QQ?B2xII{ndim}I")


@functools.cache
def spec_record_dtype(ndim: int) -> np.dtype[Any]:
    """The numpy layout of ``VirtualChunkSpec._packed`` for an index of ``ndim`` values: the
    spec's offset, length, whether it has a checksum, its rank, its location's generation and
    code in ``SPEC_LOCATIONS``, and its index."""
    return np.dtype(
        [
            ("offset", "<u8"),
            ("length", "<u8"),
            ("has_checksum", "?"),
            ("ndim", "u1"),
            ("pad", "V2"),
            ("generation", "<u4"),
            ("location", "<u4"),
            ("index", "<u4", (ndim,)),
        ]
    )

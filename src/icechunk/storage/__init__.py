"""Where a repository's objects live: the :class:`Storage` object and its factory functions."""

from __future__ import annotations

from .._config import (
    azure_store,
    gcs_store,
    http_store,
    local_filesystem_store,
    s3_store,
)
from ._factories import (
    azure_storage,
    gcs_storage,
    http_storage,
    in_memory_storage,
    local_filesystem_storage,
    r2_storage,
    s3_object_store_storage,
    s3_storage,
    tigris_storage,
)
from ._storage import Storage

__all__ = [
    "Storage",
    "azure_storage",
    "azure_store",
    "gcs_storage",
    "gcs_store",
    "http_storage",
    "http_store",
    "in_memory_storage",
    "local_filesystem_storage",
    "local_filesystem_store",
    "r2_storage",
    "s3_object_store_storage",
    "s3_storage",
    "s3_store",
    "tigris_storage",
]

"""Repository configuration value objects and the ``config.yaml`` round trip.

Every class mirrors upstream Icechunk 1.1's Python API name for name: unset fields are ``None``
(meaning "use the built-in default", from :mod:`.defaults`), settable where upstream's are, and
compared by value. The engine reads effective values through
:meth:`RepositoryConfig._with_defaults` (a copy with every ``None`` replaced by the default).

One module per concept: :mod:`.defaults`, :mod:`.compression`, :mod:`.caching`,
:mod:`.storage_settings`, :mod:`.conditions` (preload and split conditions), :mod:`.manifest`,
:mod:`.object_store` (and the ``*_store`` factories), :mod:`.virtual`, :mod:`.repository` and
:mod:`.yaml`.
"""

from __future__ import annotations

from . import defaults
from .caching import CachingConfig
from .compression import CompressionAlgorithm, CompressionConfig
from .conditions import (
    ManifestPreloadCondition,
    ManifestSplitCondition,
    ManifestSplitDimCondition,
    default_preload_condition,
)
from .manifest import ManifestConfig, ManifestPreloadConfig, ManifestSplittingConfig
from .object_store import (
    AnyObjectStoreConfig,
    ObjectStoreConfig,
    S3Options,
    azure_store,
    gcs_store,
    http_store,
    local_filesystem_store,
    s3_store,
)
from .object_store import _StoreAzure as _StoreAzure  # for the virtual chunk reader
from .object_store import _StoreHttp as _StoreHttp
from .object_store import _StoreLocal as _StoreLocal
from .repository import RepositoryConfig
from .storage_settings import StorageConcurrencySettings, StorageRetriesSettings, StorageSettings
from .virtual import VirtualChunkContainer, VirtualChunkSpec
from .yaml import config_from_yaml, config_to_yaml

__all__ = [
    "AnyObjectStoreConfig",
    "CachingConfig",
    "CompressionAlgorithm",
    "CompressionConfig",
    "ManifestConfig",
    "ManifestPreloadCondition",
    "ManifestPreloadConfig",
    "ManifestSplitCondition",
    "ManifestSplitDimCondition",
    "ManifestSplittingConfig",
    "ObjectStoreConfig",
    "RepositoryConfig",
    "S3Options",
    "StorageConcurrencySettings",
    "StorageRetriesSettings",
    "StorageSettings",
    "VirtualChunkContainer",
    "VirtualChunkSpec",
    "azure_store",
    "config_from_yaml",
    "config_to_yaml",
    "default_preload_condition",
    "defaults",
    "gcs_store",
    "http_store",
    "local_filesystem_store",
    "s3_store",
]

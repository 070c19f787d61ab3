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
    _StoreAzure,
    _StoreGcs,
    _StoreHttp,
    _StoreInMemory,
    _StoreLocal,
    _StoreMap,
    _StoreS3,
    _StoreS3Base,
    _StoreS3Compatible,
    _StoreTigris,
    azure_store,
    gcs_store,
    http_store,
    local_filesystem_store,
    s3_store,
)
from .repository import RepositoryConfig
from .storage_settings import StorageConcurrencySettings, StorageRetriesSettings, StorageSettings
from .virtual import VirtualChunkContainer, VirtualChunkSpec
from .yaml import config_from_yaml, config_to_yaml

# The defaults under the names the storage layer imports.
DEFAULT_MAX_TRIES = defaults.MAX_TRIES
DEFAULT_INITIAL_BACKOFF_MS = defaults.INITIAL_BACKOFF_MS
DEFAULT_MAX_BACKOFF_MS = defaults.MAX_BACKOFF_MS
DEFAULT_MAX_CONCURRENT_REQUESTS_FOR_OBJECT = defaults.MAX_CONCURRENT_REQUESTS_FOR_OBJECT
DEFAULT_IDEAL_CONCURRENT_REQUEST_SIZE = defaults.IDEAL_CONCURRENT_REQUEST_SIZE
DEFAULT_S3_NETWORK_STREAM_TIMEOUT_SECONDS = defaults.S3_NETWORK_STREAM_TIMEOUT_SECONDS

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
_PRIVATE = (  # used by the virtual chunk reader
    _StoreAzure, _StoreGcs, _StoreHttp, _StoreInMemory, _StoreLocal, _StoreMap, _StoreS3,
    _StoreS3Base, _StoreS3Compatible, _StoreTigris,
)  # fmt: skip

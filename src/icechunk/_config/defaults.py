"""The one table of built-in defaults (upstream Icechunk 1.1's values).

Configuration fields left unset (``None``) take these values; nothing else in the package states
them. The engine reads them through :meth:`RepositoryConfig._with_defaults` or the ``_with_defaults``
/ ``_key`` methods of the settings records.
"""

from __future__ import annotations

# repository
INLINE_CHUNK_THRESHOLD_BYTES = 512
GET_PARTIAL_VALUES_CONCURRENCY = 10
MAX_CONCURRENT_REQUESTS = 256

# metadata compression
COMPRESSION_LEVEL = 3

# caches
NUM_SNAPSHOT_NODES = 500_000
NUM_CHUNK_REFS = 15_000_000
NUM_TRANSACTION_CHANGES = 0
NUM_BYTES_ATTRIBUTES = 0
NUM_BYTES_CHUNKS = 0

# storage: retries (exponential backoff), concurrency, uploads, conditional writes
MAX_TRIES = 10
INITIAL_BACKOFF_MS = 100
MAX_BACKOFF_MS = 3 * 60 * 1000
MAX_CONCURRENT_REQUESTS_FOR_OBJECT = 18
IDEAL_CONCURRENT_REQUEST_SIZE = 12 * 1024 * 1024
MINIMUM_SIZE_FOR_MULTIPART_UPLOAD = 100 * 1024 * 1024
UNSAFE_USE_CONDITIONAL_CREATE = True
UNSAFE_USE_CONDITIONAL_UPDATE = True
UNSAFE_USE_METADATA = True

# manifests
MANIFEST_PRELOAD_MAX_TOTAL_REFS = 10_000
MANIFEST_PRELOAD_MAX_NUM_REFS = 1000  # the default preload condition: at most this many refs

# object stores
S3_NETWORK_STREAM_TIMEOUT_SECONDS = 60

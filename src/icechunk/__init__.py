"""icechunk: a transactional, version-controlled storage engine for Zarr v3 (pure Python)."""

from __future__ import annotations

from ._exceptions import ConflictError, IcechunkError, RebaseFailedError
from ._version import __version__

__all__ = ["ConflictError", "IcechunkError", "RebaseFailedError", "__version__"]

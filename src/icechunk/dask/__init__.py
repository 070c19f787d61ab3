"""Write dask arrays to Icechunk: :func:`store_dask`."""

from __future__ import annotations

from ._store_dask import session_merge_reduction as session_merge_reduction
from ._store_dask import store_dask

__all__ = ["store_dask"]

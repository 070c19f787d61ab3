"""Write Xarray objects to Icechunk: :func:`to_icechunk`.

Read them back with plain Xarray: ``xr.open_zarr(session.store, consolidated=False)``.
"""

from __future__ import annotations

from ._to_icechunk import _XarrayDatasetWriter as _XarrayDatasetWriter
from ._to_icechunk import is_dask_collection as is_dask_collection
from ._to_icechunk import to_icechunk

__all__ = ["to_icechunk"]

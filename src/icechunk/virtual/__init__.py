"""Virtual datasets from kerchunk reference sets, beyond upstream Icechunk's API.

:func:`ingest_kerchunk` writes a kerchunk reference set (JSON, dict, parquet, or the list
``kerchunk.grib2.scan_grib`` returns) into a session as zarr v3 arrays whose chunks point
into the original NetCDF, HDF5 or GRIB files. The GRIB codec it needs is provided to zarr
by this package (entry point ``numcodecs.grib`` of the ``zarr.codecs`` group), so a reader
needs nothing but ``xr.open_zarr(session.store)``.
"""

from __future__ import annotations

from ._codecs import GribCodec, GribCodecError, register_codecs
from ._errors import KerchunkLocationError, KerchunkReferenceError
from ._kerchunk import IngestSummary, ingest_kerchunk, ingest_kerchunk_async

__all__ = [
    "GribCodec",
    "GribCodecError",
    "IngestSummary",
    "KerchunkLocationError",
    "KerchunkReferenceError",
    "ingest_kerchunk",
    "ingest_kerchunk_async",
]

register_codecs()

"""Zarr v3 codecs that kerchunk reference sets need and zarr does not ship.

kerchunk's GRIB references store each GRIB message as one chunk and name the numcodecs
codec ``grib`` as a zarr v2 *filter* (bytes in, array out). zarr v3 has no such codec, so a
reader fails with "codec not found: numcodecs.grib". :class:`GribCodec` is that codec as a
zarr v3 array-to-bytes codec under the name ``numcodecs.grib`` (the name VirtualiZarr also
writes for kerchunk's ``grib`` codec, so repositories made with it read too).

A fresh process finds it without importing anything from this package: ``pyproject.toml``
declares it in zarr's ``zarr.codecs`` entry-point group, and zarr loads it the first time
an array names it. Importing :mod:`icechunk.virtual` registers it as well (for a checkout
whose entry points were not installed).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from zarr.abc.codec import ArrayBytesCodec
from zarr.core.common import JSON, parse_named_configuration
from zarr.registry import register_codec

from .._exceptions import IcechunkError

if TYPE_CHECKING:
    from typing import Self

    from zarr.core.array_spec import ArraySpec
    from zarr.core.buffer import Buffer, NDBuffer

__all__ = ["GRIB_CODEC_NAME", "GribCodec", "GribCodecError", "register_codecs"]

GRIB_CODEC_NAME = "numcodecs.grib"

# eccodes handles are not safe to use from several threads at once
_ECCODES_LOCK = threading.RLock()


class GribCodecError(IcechunkError):
    """A GRIB chunk could not be decoded, or a write was attempted through the GRIB codec."""


@dataclass(frozen=True)
class GribCodec(ArrayBytesCodec):
    """Decode one GRIB message into the values of one chunk (read only).

    Parameters
    ----------
    var
        The variable the chunk holds. ``"latitude"`` and ``"longitude"`` read the message's
        ``latitudes`` / ``longitudes`` (grids whose coordinates are 2-D); any other name
        reads its ``values``, with the message's ``missingValue`` turned into NaN as cfgrib
        does.
    dtype
        The numpy dtype the values are cast to (default: the array's data type).
    """

    is_fixed_size = False

    var: str
    dtype: str | None = None

    def __init__(self, *, var: str, dtype: str | None = None, **_ignored: Any) -> None:
        object.__setattr__(self, "var", str(var))
        object.__setattr__(self, "dtype", None if dtype is None else str(dtype))

    @classmethod
    def from_dict(cls, data: dict[str, JSON]) -> Self:
        """The codec of a zarr.json ``{"name": "numcodecs.grib", "configuration": {...}}``."""
        _, configuration = parse_named_configuration(
            data, GRIB_CODEC_NAME, require_configuration=True
        )
        config = dict(configuration or {})
        config.pop("id", None)
        return cls(**config)  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, JSON]:
        """The zarr.json form of this codec."""
        config: dict[str, JSON] = {"var": self.var}
        if self.dtype is not None:
            config["dtype"] = self.dtype
        return {"name": GRIB_CODEC_NAME, "configuration": config}

    def _values(self, message: bytes) -> np.ndarray[Any, Any]:
        try:
            import eccodes
        except ImportError as exc:  # pragma: no cover - eccodes is in the test extra
            raise GribCodecError(
                "reading GRIB chunks needs eccodes: pip install eccodes (or the 'virtual' extra)"
            ) from exc
        key = self.var + "s" if self.var in ("latitude", "longitude") else "values"
        with _ECCODES_LOCK:
            handle = eccodes.codes_new_from_message(message)
            try:
                values = np.asarray(eccodes.codes_get_array(handle, key), dtype="f8")
                if key == "values":
                    missing = eccodes.codes_get_string(handle, "missingValue")
                    if missing:
                        values[values == float(missing)] = np.nan
            finally:
                eccodes.codes_release(handle)
        return values

    async def _decode_single(self, chunk_bytes: Buffer, chunk_spec: ArraySpec) -> NDBuffer:
        values = self._values(chunk_bytes.to_bytes())
        target = np.dtype(self.dtype) if self.dtype else chunk_spec.dtype.to_native_dtype()
        if values.size != int(np.prod(chunk_spec.shape)):
            raise GribCodecError(
                f"a GRIB message of {values.size} values cannot fill a chunk of shape "
                f"{chunk_spec.shape}: the reference points at the wrong message or bytes"
            )
        array = values.reshape(chunk_spec.shape).astype(target, copy=False)
        return chunk_spec.prototype.nd_buffer.from_numpy_array(array)

    async def _encode_single(self, chunk_array: NDBuffer, chunk_spec: ArraySpec) -> Buffer | None:
        raise GribCodecError(
            f"GRIB chunks are read only (variable {self.var!r} is a reference into a GRIB "
            "file); copy the data into a new array with another codec to change it"
        )

    def compute_encoded_size(self, input_byte_length: int, chunk_spec: ArraySpec) -> int:
        """Not known: the codec only decodes; raises ``GribCodecError``."""
        raise GribCodecError("the encoded size of a GRIB message is not known in advance")


def register_codecs() -> None:
    """Register the codecs of this module with zarr (entry points do it in a fresh process)."""
    register_codec(GRIB_CODEC_NAME, GribCodec)

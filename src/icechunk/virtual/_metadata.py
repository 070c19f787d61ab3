"""zarr v2 metadata of a kerchunk reference set (``.zarray``, ``.zattrs``, ``.zgroup``) to v3.

The translation follows zarr-python's own v2 -> v3 migration (``zarr.metadata.migrate_v3``)
where that one applies, and goes further where kerchunk's output needs it (that function
refuses all three cases):

- a v2 ``fill_value`` of ``null``: v3 needs a value, so floats get NaN and other types
  their zero; a non-null v2 fill value also becomes xarray's ``_FillValue`` attribute,
  as xarray reads v2 fill values as missing-value markers and v3 ones only from that
  attribute;
- v2 *filters* that are byte transforms in v3 (``shuffle``: HDF5's usual ``[shuffle, zlib]``)
  go after the ``bytes`` codec; the ``grib`` filter, which turns bytes into an array, takes
  the place of the ``bytes`` codec;
- ``_ARRAY_DIMENSIONS`` becomes ``dimension_names``; chunk keys use the v3 default encoding;
- numcodecs' gzip, zstd and blosc become zarr v3's core codecs of the same byte format,
  which readers in other languages know; other codecs keep their ``numcodecs.<id>`` names.

Data types and fill values are parsed and written by zarr's data type classes
(``zarr.core.dtype.get_data_type_from_json``); codecs are resolved through zarr's codec registry, so
any codec zarr knows as ``numcodecs.<id>`` works.
"""

from __future__ import annotations

import base64
import math
import struct
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
from zarr.abc.codec import ArrayArrayCodec, ArrayBytesCodec, BytesBytesCodec
from zarr.core.buffer import Buffer, BufferPrototype, default_buffer_prototype
from zarr.core.dtype import get_data_type_from_json
from zarr.core.group import GroupMetadata
from zarr.core.metadata.v3 import ArrayV3Metadata
from zarr.registry import get_codec_class

from ._codecs import register_codecs
from ._errors import KerchunkReferenceError

__all__ = ["array_metadata_v3", "group_metadata_v3", "zarr_json"]

register_codecs()

# v2 codecs whose v3 counterpart is one of zarr's core array-to-bytes codecs
_CORE_ARRAY_BYTES = {"vlen-utf8": "vlen-utf8", "vlen-bytes": "vlen-bytes"}


def group_metadata_v3(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """The zarr.json document of a group with these attributes."""
    return {"zarr_format": 3, "node_type": "group", "attributes": dict(attributes)}


def array_metadata_v3(
    path: str, zarray: Mapping[str, Any], zattrs: Mapping[str, Any]
) -> dict[str, Any]:
    """The zarr.json document of the array whose v2 metadata is ``zarray`` and ``zattrs``.

    Parameters
    ----------
    path
        The array's path in the reference set (named in error messages).
    zarray, zattrs
        The decoded ``.zarray`` and ``.zattrs`` documents.

    Raises
    ------
    KerchunkReferenceError
        The metadata is not valid zarr v2 metadata, or names a codec zarr cannot find.
    """
    try:
        return _array_metadata_v3(path, zarray, zattrs)
    except KerchunkReferenceError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise KerchunkReferenceError(
            f"{path}/.zarray is not valid zarr v2 array metadata ({type(exc).__name__}: {exc}); "
            "a reference set holds a .zarray like {'shape': [...], 'chunks': [...], 'dtype': "
            "'<f8', 'fill_value': null, 'order': 'C', 'filters': null, 'compressor': null, "
            "'zarr_format': 2}"
        ) from exc


def _array_metadata_v3(
    path: str, zarray: Mapping[str, Any], zattrs: Mapping[str, Any]
) -> dict[str, Any]:
    shape = [int(n) for n in zarray["shape"]]
    chunks = [int(n) for n in zarray["chunks"]] or []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zarr's "no v3 spec for this data type" warnings
        zdtype = get_data_type_from_json(
            {"name": zarray["dtype"], "object_codec_id": _object_codec_id(zarray)},
            zarr_format=2,
        )
        data_type = zdtype.to_json(zarr_format=3)
        fill_v2 = zarray.get("fill_value")
        fill_value = _fill_value_v3(zdtype, fill_v2)
    attributes = dict(zattrs)
    dims = attributes.pop("_ARRAY_DIMENSIONS", None)
    if fill_v2 is not None and "_FillValue" not in attributes:
        encoded = _xarray_fill_value(zarray["dtype"], fill_value)
        if encoded is not None:
            attributes["_FillValue"] = encoded
    metadata: dict[str, Any] = {
        "zarr_format": 3,
        "node_type": "array",
        "shape": shape,
        "data_type": data_type,
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": chunks or shape}},
        "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
        "fill_value": fill_value,
        "codecs": _codecs_v3(path, zarray, zdtype, len(shape)),
        "attributes": attributes,
    }
    if dims is not None:
        if len(dims) != len(shape):
            raise KerchunkReferenceError(
                f"{path}/.zattrs has _ARRAY_DIMENSIONS {dims!r} for an array of {len(shape)} "
                "dimension(s): name one dimension per axis of the array's shape"
            )
        metadata["dimension_names"] = [str(d) for d in dims]
    zarr_json(metadata, default_buffer_prototype())  # validate with zarr itself
    return metadata


def zarr_json(document: Mapping[str, Any], prototype: BufferPrototype) -> Buffer:
    """The zarr.json bytes of a v3 group or array document, as zarr writes them."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "numcodecs codecs are not in the v3 spec"
        if document["node_type"] == "group":
            meta: Any = GroupMetadata(attributes=dict(document["attributes"]), zarr_format=3)
        else:
            meta = ArrayV3Metadata.from_dict(dict(document))
        return meta.to_buffer_dict(prototype)["zarr.json"]  # type: ignore[no-any-return]


def _object_codec_id(zarray: Mapping[str, Any]) -> str | None:
    """The codec that encodes the items of an object (``|O``) array: vlen-utf8 or vlen-bytes."""
    for config in zarray.get("filters") or []:
        if isinstance(config, Mapping) and config.get("id") in _CORE_ARRAY_BYTES:
            return str(config["id"])
    return None


def _fill_value_v3(zdtype: Any, fill_v2: Any) -> Any:
    """The v3 JSON fill value: the v2 one, or NaN (floats) / the type's zero when null."""
    if fill_v2 is None:
        if np.dtype(zdtype.to_native_dtype()).kind in "fc":
            value = zdtype.cast_scalar(float("nan"))
        else:
            value = zdtype.default_scalar()
    else:
        value = zdtype.from_json_scalar(fill_v2, zarr_format=2)
    return zdtype.to_json_scalar(value, zarr_format=3)


def _xarray_fill_value(dtype: str, fill_value: Any) -> Any:
    """``_FillValue`` as xarray writes it into zarr v3 attributes, or None if not expressible."""
    kind = np.dtype(dtype).kind
    if kind == "f":
        number = float("nan") if isinstance(fill_value, str) else float(fill_value)
        if isinstance(fill_value, str) and fill_value in ("Infinity", "-Infinity"):
            number = math.inf if fill_value == "Infinity" else -math.inf
        return base64.standard_b64encode(struct.pack("<d", number)).decode()
    if kind in "iu":
        return int(fill_value)
    if kind == "b":
        return bool(fill_value)
    return None


def _codec_class(path: str, name: str) -> type[Any]:
    try:
        return get_codec_class(name)
    except KeyError:
        raise KerchunkReferenceError(
            f"array {path!r} uses the codec {name!r}, which zarr does not know: install the "
            "package that provides it, or register a zarr v3 codec class for it with "
            f"zarr.registry.register_codec({name!r}, cls) before ingesting and reading"
        ) from None


_BLOSC_SHUFFLE = {0: "noshuffle", 1: "shuffle", 2: "bitshuffle"}


def _core_compressor(codec_id: str, config: Mapping[str, Any], zdtype: Any) -> Any:
    """The zarr v3 core codec for numcodecs' gzip, zstd and blosc (same byte format), or None.

    Readers in other languages know these; ``numcodecs.*`` names are zarr-python's own.
    """
    if codec_id == "gzip":
        return {"name": "gzip", "configuration": {"level": int(config.get("level", 1))}}
    if codec_id == "zstd":
        level, checksum = int(config.get("level", 0)), bool(config.get("checksum", False))
        return {"name": "zstd", "configuration": {"level": level, "checksum": checksum}}
    if codec_id == "blosc":
        itemsize = np.dtype(zdtype.to_native_dtype()).itemsize
        # -1 (numcodecs' AUTOSHUFFLE) resolves as numcodecs does; decoding reads the header
        auto = "bitshuffle" if itemsize == 1 else "shuffle"
        shuffle = _BLOSC_SHUFFLE.get(int(config.get("shuffle", 1)), auto)
        configuration = {
            "typesize": itemsize,
            "cname": str(config.get("cname", "lz4")),
            "clevel": int(config.get("clevel", 5)),
            "shuffle": shuffle,
            "blocksize": int(config.get("blocksize", 0)),
        }
        return {"name": "blosc", "configuration": configuration}
    return None


def _codecs_v3(path: str, zarray: Mapping[str, Any], zdtype: Any, ndim: int) -> list[Any]:
    """v3 codecs: [transpose] + array-to-array + one array-to-bytes + bytes-to-bytes."""
    array_array: list[dict[str, Any]] = []
    array_bytes: dict[str, Any] | None = None
    bytes_bytes: list[dict[str, Any]] = []
    if zarray.get("order", "C") == "F" and ndim > 1:
        array_array.append(
            {"name": "transpose", "configuration": {"order": list(range(ndim))[::-1]}}
        )
    v2_codecs = list(zarray.get("filters") or [])
    if zarray.get("compressor"):
        v2_codecs.append(zarray["compressor"])
    for config in v2_codecs:
        if not isinstance(config, Mapping) or "id" not in config:
            raise KerchunkReferenceError(
                f"{path}/.zarray names a codec without an 'id': {config!r}; numcodecs codecs "
                "are written as {'id': 'zlib', 'level': 4}"
            )
        codec_id = str(config["id"])
        if codec_id in _CORE_ARRAY_BYTES:
            array_bytes = {"name": _CORE_ARRAY_BYTES[codec_id]}
            continue
        core = _core_compressor(codec_id, config, zdtype)
        if core is not None:
            bytes_bytes.append(core)
            continue
        name = f"numcodecs.{codec_id}"
        v3 = {"name": name, "configuration": {k: v for k, v in config.items() if k != "id"}}
        cls = _codec_class(path, name)
        if issubclass(cls, ArrayBytesCodec):
            array_bytes = v3
        elif issubclass(cls, ArrayArrayCodec):
            if bytes_bytes or array_bytes is not None:
                raise KerchunkReferenceError(
                    f"array {path!r}: the array filter {codec_id!r} follows a byte filter; "
                    "zarr v3 applies array filters first, so this chain has no v3 form"
                )
            array_array.append(v3)
        elif issubclass(cls, BytesBytesCodec):
            bytes_bytes.append(v3)
        else:  # pragma: no cover - every zarr codec is one of the three kinds
            raise KerchunkReferenceError(f"array {path!r}: codec {name!r} is of no known kind")
    if array_bytes is None:
        endian = getattr(zdtype, "endianness", None)
        array_bytes = {"name": "bytes"}
        if endian is not None and np.dtype(zdtype.to_native_dtype()).itemsize > 1:
            array_bytes["configuration"] = {"endian": str(endian)}
    return [*array_array, array_bytes, *bytes_bytes]

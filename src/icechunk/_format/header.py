"""The 39-byte header of metadata files and the (zstd) compression of their payload.

Layout: 12 bytes magic (UTF-8 of ``ICE🧊CHUNK``), 24 bytes implementation name left-aligned and
space-padded, 1 byte spec version, 1 byte file type, 1 byte compression (0 none, 1 zstd), then the
(compressed) flatbuffer.

Integrity: we write every zstd frame with its content checksum (the standard frame flag; the
last 4 bytes of the frame are the low 32 bits of the XXH64 of the decompressed payload), so a
damaged byte anywhere in the payload fails decompression with a :class:`FormatError` instead
of decoding into wrong values. Any zstd decoder, upstream's included, reads and verifies such
frames. Files written by upstream Icechunk carry no checksum (:func:`file_has_checksum` tells
them apart); readers validate their contents more closely instead.
"""

from __future__ import annotations

import enum

import zstandard

from .._exceptions import (
    FormatError,
    InvalidHeaderError,
    ObjectTruncatedError,
    UnsupportedSpecVersionError,
)
from .._version import IMPLEMENTATION_NAME, SPEC_VERSION

MAGIC = "ICE🧊CHUNK".encode()
IMPLEMENTATION_NAME_SIZE = 24
HEADER_SIZE = len(MAGIC) + IMPLEMENTATION_NAME_SIZE + 3

_SPEC_VERSION_POS = len(MAGIC) + IMPLEMENTATION_NAME_SIZE
_FILE_TYPE_POS = _SPEC_VERSION_POS + 1
_COMPRESSION_POS = _SPEC_VERSION_POS + 2
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class FileType(enum.IntEnum):
    """The file type byte of the header."""

    SNAPSHOT = 1
    MANIFEST = 2
    TRANSACTION_LOG = 4


class Compression(enum.IntEnum):
    """The compression byte of the header."""

    NONE = 0
    ZSTD = 1


def _implementation_name_field(name: str = IMPLEMENTATION_NAME) -> bytes:
    raw = name.encode("utf-8")[:IMPLEMENTATION_NAME_SIZE]
    return raw.ljust(IMPLEMENTATION_NAME_SIZE, b" ")


def encode_header(file_type: FileType, compression: Compression = Compression.ZSTD) -> bytes:
    """The 39 header bytes for a file of ``file_type``.

    Parameters
    ----------
    file_type
        Kind of metadata file.
    compression
        How the payload following the header is compressed.

    Returns
    -------
    bytes
        The header.
    """
    return MAGIC + _implementation_name_field() + bytes((SPEC_VERSION, file_type, compression))


def encode_file(
    file_type: FileType, flatbuffer_bytes: bytes, *, compression_level: int = 3
) -> bytes:
    """Header plus zstd-compressed flatbuffer: the bytes of a metadata file.

    Parameters
    ----------
    file_type
        Kind of metadata file.
    flatbuffer_bytes
        The serialized flatbuffer root table.
    compression_level
        Zstandard compression level.

    Returns
    -------
    bytes
        The complete file.
    """
    compressor = zstandard.ZstdCompressor(level=compression_level, write_checksum=True)
    return encode_header(file_type) + compressor.compress(flatbuffer_bytes)


def implementation_name(data: bytes) -> str:
    """The implementation name recorded in a file header (trailing spaces removed)."""
    field = data[len(MAGIC) : _SPEC_VERSION_POS]
    return field.decode("utf-8", errors="replace").rstrip(" ")


def _check_header(data: bytes, expected: FileType, what: str) -> int:
    """Validate the header and return the compression byte."""
    if len(data) < HEADER_SIZE:
        raise InvalidHeaderError(
            f"{what} is not a valid Icechunk file: {len(data)} bytes is shorter than the "
            f"{HEADER_SIZE}-byte header"
        )
    if data[: len(MAGIC)] != MAGIC:
        raise InvalidHeaderError(
            f"{what} is not a valid Icechunk file: bad magic bytes {bytes(data[: len(MAGIC)])!r}"
        )
    spec_version = data[_SPEC_VERSION_POS]
    if spec_version != SPEC_VERSION:
        raise UnsupportedSpecVersionError(
            f"{what} was written with Icechunk spec version {spec_version} by "
            f"{implementation_name(data)!r}; this implementation reads spec version {SPEC_VERSION}"
        )
    file_type = data[_FILE_TYPE_POS]
    if file_type != expected:
        try:
            found = FileType(file_type).name.lower().replace("_", " ")
        except ValueError:
            found = f"unknown file type {file_type}"
        raise InvalidHeaderError(
            f"{what} has the wrong file type: expected "
            f"{expected.name.lower().replace('_', ' ')} ({int(expected)}), found {found}"
        )
    return data[_COMPRESSION_POS]


def file_has_checksum(data: bytes) -> bool:
    """Whether a metadata file's payload is a zstd frame that carries a content checksum.

    Parameters
    ----------
    data
        The complete file (header included); its header must have been checked.

    Returns
    -------
    bool
        True for the files this package writes; False for uncompressed payloads and for
        files written by upstream Icechunk 1.1 (whose frames have no checksum).
    """
    if len(data) <= HEADER_SIZE or data[_COMPRESSION_POS] != Compression.ZSTD:
        return False
    try:
        return bool(zstandard.get_frame_parameters(data[HEADER_SIZE:]).has_checksum)
    except zstandard.ZstdError:
        return False


def _decompress_zstd(payload: bytes | memoryview, what: str) -> bytes:
    try:  # one call, into a buffer of the frame's stated size: no join of streamed pieces
        return zstandard.ZstdDecompressor().decompress(payload, allow_extra_data=False)
    except zstandard.ZstdError:
        pass  # no stated size, or damage: the streaming decoder below tells which
    decompressor = zstandard.ZstdDecompressor().decompressobj()
    try:
        out = decompressor.decompress(payload)
    except zstandard.ZstdError as exc:
        raise FormatError(f"{what} is corrupt: cannot decompress its zstd payload ({exc})") from exc
    if not decompressor.eof:
        raise ObjectTruncatedError(
            f"{what} is truncated: its zstd payload ends before the frame does"
        )
    if decompressor.unused_data:
        raise FormatError(f"{what} is corrupt: unexpected bytes after its zstd payload")
    return out


def decode_file(data: bytes, expected: FileType, *, what: str) -> bytes:
    """Check the header of a metadata file and return its decompressed flatbuffer.

    Parameters
    ----------
    data
        The complete file.
    expected
        The file type the caller expects.
    what
        Description of the object for error messages, e.g. ``"snapshot 7FN162DNG0098Y938PCG"``.

    Returns
    -------
    bytes
        The flatbuffer bytes.

    Raises
    ------
    InvalidHeaderError
        Too short, bad magic, wrong file type or unknown compression.
    UnsupportedSpecVersionError
        The spec version is not 1.
    FormatError
        The compressed payload is corrupt or truncated.
    """
    compression = _check_header(data, expected, what)
    payload = memoryview(data)[HEADER_SIZE:]
    if compression == Compression.NONE:
        if bytes(payload[: len(_ZSTD_MAGIC)]) == _ZSTD_MAGIC:
            raise InvalidHeaderError(
                f"{what} is corrupt: its header says the payload is uncompressed but it is a "
                "zstd frame (a damaged compression byte)"
            )
        return bytes(payload)
    if compression == Compression.ZSTD:
        return _decompress_zstd(payload, what)
    raise InvalidHeaderError(f"{what} uses unknown compression method {compression}")

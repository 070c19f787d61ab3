from __future__ import annotations

import pytest
import zstandard

from icechunk._exceptions import FormatError, InvalidHeaderError, UnsupportedSpecVersionError
from icechunk._format.header import (
    HEADER_SIZE,
    MAGIC,
    FileType,
    decode_file,
    encode_file,
    implementation_name,
)
from icechunk._version import IMPLEMENTATION_NAME

WHAT = "snapshot 7FN162DNG0098Y938PCG"
PAYLOAD = b"flatbuffer payload " * 20


def test_layout() -> None:
    data = encode_file(FileType.MANIFEST, PAYLOAD)
    assert HEADER_SIZE == 39
    assert data[:12] == "ICE🧊CHUNK".encode() == MAGIC
    assert data[12:36] == IMPLEMENTATION_NAME.encode().ljust(24, b" ")
    assert implementation_name(data) == IMPLEMENTATION_NAME
    assert data[36:39] == bytes([1, 2, 1])
    assert zstandard.ZstdDecompressor().decompress(data[39:]) == PAYLOAD


@pytest.mark.parametrize("file_type", list(FileType))
def test_roundtrip(file_type: FileType) -> None:
    data = encode_file(file_type, PAYLOAD, compression_level=1)
    assert data[37] == int(file_type)
    assert decode_file(data, file_type, what=WHAT) == PAYLOAD


def test_empty_payload() -> None:
    assert decode_file(encode_file(FileType.SNAPSHOT, b""), FileType.SNAPSHOT, what=WHAT) == b""


def test_uncompressed() -> None:
    data = encode_file(FileType.SNAPSHOT, b"")[:38] + b"\x00" + PAYLOAD
    assert decode_file(data, FileType.SNAPSHOT, what=WHAT) == PAYLOAD


def test_streamed_frame_without_content_size() -> None:
    compressor = zstandard.ZstdCompressor().compressobj()
    frame = compressor.compress(PAYLOAD) + compressor.flush()
    assert zstandard.get_frame_parameters(frame).content_size == zstandard.CONTENTSIZE_UNKNOWN
    data = encode_file(FileType.SNAPSHOT, b"")[:39] + frame
    assert decode_file(data, FileType.SNAPSHOT, what=WHAT) == PAYLOAD


@pytest.mark.parametrize("size", [0, 5, 12, 38])
def test_too_short(size: int) -> None:
    data = encode_file(FileType.SNAPSHOT, PAYLOAD)[:size]
    with pytest.raises(InvalidHeaderError, match="snapshot 7FN162DNG0098Y938PCG.*shorter"):
        decode_file(data, FileType.SNAPSHOT, what=WHAT)


def test_bad_magic() -> None:
    data = b"NOT AN ICECHUNK FILE" + encode_file(FileType.SNAPSHOT, PAYLOAD)[20:]
    with pytest.raises(InvalidHeaderError, match="7FN162DNG0098Y938PCG.*magic"):
        decode_file(data, FileType.SNAPSHOT, what=WHAT)


def test_wrong_file_type() -> None:
    data = encode_file(FileType.MANIFEST, PAYLOAD)
    with pytest.raises(InvalidHeaderError) as info:
        decode_file(data, FileType.SNAPSHOT, what=WHAT)
    message = str(info.value)
    assert WHAT in message and "expected snapshot" in message and "found manifest" in message


def test_unknown_file_type() -> None:
    data = bytearray(encode_file(FileType.MANIFEST, PAYLOAD))
    data[37] = 9
    with pytest.raises(InvalidHeaderError, match="unknown file type 9"):
        decode_file(bytes(data), FileType.MANIFEST, what=WHAT)


@pytest.mark.parametrize("version", [0, 2, 255])
def test_unsupported_spec_version(version: int) -> None:
    data = bytearray(encode_file(FileType.SNAPSHOT, PAYLOAD))
    data[36] = version
    with pytest.raises(UnsupportedSpecVersionError, match=f"spec version {version}"):
        decode_file(bytes(data), FileType.SNAPSHOT, what=WHAT)


def test_unknown_compression() -> None:
    data = bytearray(encode_file(FileType.SNAPSHOT, PAYLOAD))
    data[38] = 7
    with pytest.raises(InvalidHeaderError, match="compression"):
        decode_file(bytes(data), FileType.SNAPSHOT, what=WHAT)


@pytest.mark.parametrize("keep", [HEADER_SIZE, HEADER_SIZE + 4, HEADER_SIZE + 10, -1])
def test_truncated(keep: int) -> None:
    data = encode_file(FileType.SNAPSHOT, PAYLOAD)[:keep]
    with pytest.raises(FormatError, match=f"{WHAT} is (truncated|corrupt)"):
        decode_file(data, FileType.SNAPSHOT, what=WHAT)


def test_corrupt_payload() -> None:
    data = encode_file(FileType.SNAPSHOT, b"")[:39] + b"\x28\xb5\x2f\xfd" + b"\xff" * 40
    with pytest.raises(FormatError, match=f"{WHAT} is corrupt"):
        decode_file(data, FileType.SNAPSHOT, what=WHAT)


def test_garbage_after_frame() -> None:
    data = encode_file(FileType.SNAPSHOT, PAYLOAD) + b"junk"
    with pytest.raises(FormatError, match="corrupt"):
        decode_file(data, FileType.SNAPSHOT, what=WHAT)


def test_upstream_headers(upstream_repo) -> None:  # type: ignore[no-untyped-def]
    for kind, file_type in [
        ("snapshots", FileType.SNAPSHOT),
        ("manifests", FileType.MANIFEST),
        ("transactions", FileType.TRANSACTION_LOG),
    ]:
        for path in upstream_repo.files(kind):
            data = path.read_bytes()
            assert data[:12] == MAGIC
            assert implementation_name(data).startswith("ic-")
            assert data[36:39] == bytes([1, int(file_type), 1])
            assert decode_file(data, file_type, what=f"{kind} {path.name}")
            other = FileType.MANIFEST if file_type != FileType.MANIFEST else FileType.SNAPSHOT
            with pytest.raises(InvalidHeaderError):
                decode_file(data, other, what=path.name)

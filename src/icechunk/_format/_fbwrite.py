"""Small helpers around :class:`flatbuffers.Builder` shared by the snapshot and log encoders."""

from __future__ import annotations

from collections.abc import Sequence

import flatbuffers
import numpy as np


def new_builder(initial_size: int = 1024) -> flatbuffers.Builder:
    """A fresh builder."""
    return flatbuffers.Builder(initial_size)


def prepend_raw(builder: flatbuffers.Builder, raw: bytes, align: int = 1) -> int:
    """Prepend ``raw`` as an inline struct of alignment ``align``; return its offset."""
    size = len(raw)
    builder.Prep(align, size)
    builder.head = builder.head - size
    builder.Bytes[builder.head : builder.head + size] = raw
    return int(builder.Offset())


def offsets_vector(builder: flatbuffers.Builder, offsets: Sequence[int]) -> int:
    """A vector of uoffsets to already written tables or strings."""
    builder.StartVector(4, len(offsets), 4)
    for off in reversed(offsets):
        builder.PrependUOffsetTRelative(off)
    return int(builder.EndVector())


def structs_vector(
    builder: flatbuffers.Builder, items: Sequence[bytes], size: int, align: int
) -> int:
    """A vector of inline structs given as their raw little-endian bytes (each ``size`` long)."""
    builder.StartVector(size, len(items), align)
    raw = b"".join(items)
    builder.head = builder.head - len(raw)
    builder.Bytes[builder.head : builder.head + len(raw)] = raw
    return int(builder.EndVector())


def finish(builder: flatbuffers.Builder, root: int) -> bytes:
    """Finish the buffer with ``root`` as root table and return its bytes."""
    builder.Finish(root)
    return bytes(builder.Output())


def prepend_block(builder: flatbuffers.Builder, raw: bytes, align: int = 4) -> int:
    """Prepend a pre-laid-out region (``len(raw)`` a multiple of ``align``); return its offset.

    A byte at position ``r`` of ``raw`` then has the builder offset ``returned - r``.
    """
    builder.Prep(align, len(raw))
    builder.head = builder.head - len(raw)
    builder.Bytes[builder.head : builder.head + len(raw)] = raw
    return int(builder.Offset())


def uoffsets_vector(builder: flatbuffers.Builder, targets: np.ndarray) -> int:
    """A vector of uoffsets to objects at the builder offsets ``targets`` (int64 array)."""
    n = len(targets)
    builder.StartVector(4, n, 4)
    end = builder.Offset() + 4 * n
    values = (end - 4 * np.arange(n, dtype=np.int64)) - targets
    raw = values.astype("<u4").tobytes()
    builder.head = builder.head - len(raw)
    builder.Bytes[builder.head : builder.head + len(raw)] = raw
    return int(builder.EndVector())


def byte_vectors(items: list[bytes], at: int, nul: bool = False) -> tuple[bytes, np.ndarray]:
    """``items`` laid out as flatbuffers byte vectors (strings, with ``nul``) from block
    position ``at`` (a multiple of 4): their bytes, and the position of each vector."""
    lengths = np.fromiter(map(len, items), dtype=np.int64, count=len(items))
    spans = 4 + lengths + nul + (-(lengths + nul) % 4)
    starts = np.cumsum(spans) - spans
    if len(items) and int(lengths.sum()) > _LONG_ITEMS * len(items):  # one join beats indices
        pads = map(_PADDING.__getitem__, (spans - 4 - lengths).tolist())
        return b"".join(map(_vector, items, pads)), at + starts
    return _laid_out(np.frombuffer(b"".join(items), dtype=np.uint8), lengths, at, nul)


def _laid_out(flat: np.ndarray, lengths: np.ndarray, at: int, nul: int) -> tuple[bytes, np.ndarray]:
    """Vectors of ``lengths`` bytes taken in turn from ``flat``, laid out from ``at``."""
    spans = 4 + lengths + nul + (-(lengths + nul) % 4)
    starts = np.cumsum(spans) - spans
    out = np.zeros(int(spans.sum()), dtype=np.uint8)
    out.view("<u4")[starts // 4] = lengths
    if len(flat):
        begins = np.cumsum(lengths) - lengths
        out[np.repeat(starts + 4 - begins, lengths) + np.arange(len(flat))] = flat
    return out.tobytes(), at + starts


def string_vectors(items: list[str], at: int) -> tuple[bytes, np.ndarray]:
    """``items`` laid out as flatbuffers strings from block position ``at``, as
    :func:`byte_vectors` does (ASCII text is encoded once, not item by item)."""
    joined = "".join(items)
    if not joined.isascii() or len(joined) > _LONG_ITEMS * len(items):
        return byte_vectors([item.encode("utf-8") for item in items], at, nul=True)
    lengths = np.fromiter(map(len, items), dtype=np.int64, count=len(items))
    return _laid_out(np.frombuffer(joined.encode("ascii"), dtype=np.uint8), lengths, at, 1)


_LONG_ITEMS = 32  # mean item length from which ``byte_vectors`` joins items one by one
_PADDING = tuple(bytes(n) for n in range(8))


def _vector(item: bytes, padding: bytes) -> bytes:
    return len(item).to_bytes(4, "little") + item + padding

"""Manifests (file type 2): chunk references of arrays, held in memory as numpy columns.

A reference is one of three kinds: inline bytes kept in the manifest, a native chunk object
(``chunks/<id>``, offset, length) or a virtual location in another file (with an etag or
last-modified checksum). Per-chunk Python objects are avoided: an array's references are a
:class:`ChunkRefTable` whose rows are sorted by chunk coordinates.

Chunk checksums (beyond spec v1): a native reference may carry the CRC-32 of its chunk bytes,
written as an extra ``ChunkRef`` field (slot 8, ``uint32``) after the eight fields of spec v1.
Flatbuffers readers ignore fields beyond their schema, so upstream Icechunk reads such
manifests unchanged (and drops the field when it rewrites one); this package verifies the
checksum whenever it reads a whole native chunk, so a damaged chunk object is a
:class:`~icechunk._exceptions.ChecksumMismatchError` rather than silently changed values.
References without the field (written by upstream, or forks that lost it) are not checked.
"""

from __future__ import annotations

import enum
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property

import numpy as np

ChunkCoords = tuple[int, ...]


class RefKind(enum.IntEnum):
    INLINE = 0
    NATIVE = 1
    VIRTUAL = 2


@dataclass(frozen=True, slots=True)
class InlineChunk:
    """Chunk bytes stored inside the manifest."""

    data: bytes


@dataclass(frozen=True, slots=True)
class NativeChunk:
    """A byte range of the object ``chunks/<chunk_id>``.

    ``checksum`` is the :func:`chunk_checksum` of those bytes, when it was recorded.
    """

    chunk_id: bytes
    offset: int
    length: int
    checksum: int | None = None


def chunk_checksum(data: bytes | bytearray | memoryview) -> int:
    """The checksum recorded for native chunk bytes: their CRC-32 (zlib's, as an unsigned int)."""
    return zlib.crc32(data) & 0xFFFFFFFF


@dataclass(frozen=True, slots=True)
class VirtualChunk:
    """A byte range of a file outside the repository.

    ``last_modified`` is seconds since the epoch; ``etag`` and ``last_modified`` are
    alternative checksums (at most one is set).
    """

    location: str
    offset: int
    length: int
    etag: str | None = None
    last_modified: int | None = None


ChunkPayload = InlineChunk | NativeChunk | VirtualChunk


@dataclass(frozen=True, eq=False)
class ChunkRefTable:
    """The chunk references of one array, columnar, rows sorted by ``coords``."""

    coords: np.ndarray  # (n, ndim) uint32
    kind: np.ndarray  # (n,) uint8, RefKind
    chunk_id: np.ndarray  # (n, 12) uint8; zeros unless NATIVE
    offset: np.ndarray  # (n,) uint64
    length: np.ndarray  # (n,) uint64
    inline: np.ndarray  # (n,) object: bytes for INLINE rows, else None
    location: np.ndarray  # (n,) object: str for VIRTUAL rows, else None
    etag: np.ndarray  # (n,) object: str or None
    last_modified: np.ndarray  # (n,) uint32; 0 means none
    checksum: np.ndarray | None = None  # (n,) int64 chunk_checksum of NATIVE rows; -1: none

    def __post_init__(self) -> None:
        if self.checksum is None:
            object.__setattr__(self, "checksum", np.full(len(self), -1, dtype=np.int64))

    @property
    def checksums(self) -> np.ndarray:
        """The checksum column (typed accessor; never None after construction)."""
        assert self.checksum is not None
        return self.checksum

    def __len__(self) -> int:
        return int(self.kind.shape[0])

    @property
    def ndim(self) -> int:
        return int(self.coords.shape[1])

    @classmethod
    def empty(cls, ndim: int) -> ChunkRefTable:
        return cls.from_payloads(ndim, ())

    @classmethod
    def from_payloads(
        cls, ndim: int, items: Iterable[tuple[ChunkCoords, ChunkPayload]]
    ) -> ChunkRefTable:
        """Build a table from ``(coords, payload)`` pairs (any order, unique coords)."""
        items = list(items)
        n = len(items)
        coords = np.zeros((n, ndim), dtype=np.uint32)
        kind = np.zeros(n, dtype=np.uint8)
        chunk_id = np.zeros((n, 12), dtype=np.uint8)
        offset = np.zeros(n, dtype=np.uint64)
        length = np.zeros(n, dtype=np.uint64)
        inline = np.full(n, None, dtype=object)
        location = np.full(n, None, dtype=object)
        etag = np.full(n, None, dtype=object)
        last_modified = np.zeros(n, dtype=np.uint32)
        checksum = np.full(n, -1, dtype=np.int64)
        if n:
            coords[:] = np.array([c for c, _ in items], dtype=np.uint32).reshape(n, ndim)
        for row, (_, payload) in enumerate(items):
            if isinstance(payload, InlineChunk):
                inline[row] = payload.data
                length[row] = len(payload.data)
            elif isinstance(payload, NativeChunk):
                kind[row] = RefKind.NATIVE
                chunk_id[row] = np.frombuffer(payload.chunk_id, dtype=np.uint8)
                offset[row] = payload.offset
                length[row] = payload.length
                if payload.checksum is not None:
                    checksum[row] = payload.checksum
            else:
                kind[row] = RefKind.VIRTUAL
                location[row] = payload.location
                offset[row] = payload.offset
                length[row] = payload.length
                etag[row] = payload.etag
                last_modified[row] = payload.last_modified or 0
        return cls(
            coords, kind, chunk_id, offset, length, inline, location, etag, last_modified, checksum
        )._sorted()

    def _take(self, rows: np.ndarray) -> ChunkRefTable:
        return ChunkRefTable(
            self.coords[rows],
            self.kind[rows],
            self.chunk_id[rows],
            self.offset[rows],
            self.length[rows],
            self.inline[rows],
            self.location[rows],
            self.etag[rows],
            self.last_modified[rows],
            self.checksums[rows],
        )

    def _sorted(self) -> ChunkRefTable:
        if len(self) < 2 or self.ndim == 0:
            return self
        order = np.lexsort(self.coords.T[::-1])
        return self._take(order)

    @cached_property
    def _row_of(self) -> dict[ChunkCoords, int]:
        return {tuple(c): i for i, c in enumerate(self.coords.tolist())}

    def lookup(self, coords: ChunkCoords) -> ChunkPayload | None:
        """The reference at ``coords``, or None."""
        row = self._row_of.get(coords)
        return None if row is None else self.payload(row)

    def payload(self, row: int) -> ChunkPayload:
        """The reference in ``row`` as a payload object."""
        kind = self.kind[row]
        if kind == RefKind.INLINE:
            return InlineChunk(self.inline[row])
        if kind == RefKind.NATIVE:
            checksum = int(self.checksums[row])
            return NativeChunk(
                self.chunk_id[row].tobytes(),
                int(self.offset[row]),
                int(self.length[row]),
                None if checksum < 0 else checksum,
            )
        lm = int(self.last_modified[row])
        return VirtualChunk(
            self.location[row],
            int(self.offset[row]),
            int(self.length[row]),
            self.etag[row],
            lm or None,
        )

    def iter_coords(self) -> Iterable[ChunkCoords]:
        return (tuple(c) for c in self.coords.tolist())

    def items(self) -> Iterable[tuple[ChunkCoords, ChunkPayload]]:
        for row, c in enumerate(self.coords.tolist()):
            yield tuple(c), self.payload(row)

    def updated(self, changes: Mapping[ChunkCoords, ChunkPayload | None]) -> ChunkRefTable:
        """A new table with ``changes`` applied (a ``None`` payload deletes the ref)."""
        if not changes:
            return self
        keep = np.ones(len(self), dtype=bool)
        row_of = self._row_of
        for c in changes:
            row = row_of.get(c)
            if row is not None:
                keep[row] = False
        added = ChunkRefTable.from_payloads(
            self.ndim, ((c, p) for c, p in changes.items() if p is not None)
        )
        return concat_tables([self._take(np.flatnonzero(keep)), added])._sorted()

    def filtered(self, mask: np.ndarray) -> ChunkRefTable:
        """A new table with only the rows where ``mask`` is true."""
        return self._take(np.flatnonzero(mask))

    def extents(self) -> tuple[tuple[int, int], ...]:
        """Per-dimension half-open chunk index ranges covering every row."""
        if len(self) == 0:
            return tuple((0, 0) for _ in range(self.ndim))
        lo = self.coords.min(axis=0).tolist()
        hi = self.coords.max(axis=0).tolist()
        return tuple((int(a), int(b) + 1) for a, b in zip(lo, hi))


def concat_tables(tables: list[ChunkRefTable]) -> ChunkRefTable:
    """Rows of all tables, unsorted; tables must share ndim."""
    if len(tables) == 1:
        return tables[0]
    return ChunkRefTable(
        *(
            np.concatenate([getattr(t, name) for t in tables])
            for name in (
                "coords",
                "kind",
                "chunk_id",
                "offset",
                "length",
                "inline",
                "location",
                "etag",
                "last_modified",
                "checksums",
            )
        )
    )


@dataclass(frozen=True, eq=False)
class Manifest:
    """A manifest file: chunk reference tables keyed by 8-byte node id."""

    manifest_id: bytes
    arrays: Mapping[bytes, ChunkRefTable]

    @property
    def num_chunk_refs(self) -> int:
        return sum(len(t) for t in self.arrays.values())


def encode_manifest(manifest: Manifest) -> bytes:
    """Serialize ``manifest`` as a flatbuffer (no file header); see ``_codec_manifest``."""
    from ._codec_manifest import encode_manifest as encode

    return encode(manifest)


def decode_manifest(buf: bytes) -> Manifest:
    """Parse a manifest flatbuffer (no file header); raise FormatError if it is invalid."""
    from ._codec_manifest import decode_manifest as decode

    return decode(buf)

"""Zarr keys to nodes and chunks: ``a/b/zarr.json`` is node ``/a/b``, ``a/b/c/0/1`` its chunk.

Chunk keys are parsed with the chunk key encoding each array declares (``default`` with ``/``
or ``.``, or ``v2``), so any Zarr v3 array layout works.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from zarr.abc.store import ByteRequest, OffsetByteRequest, RangeByteRequest, SuffixByteRequest

from .._config import VirtualChunkSpec
from .._exceptions import InvalidKeyError
from .._format.manifest import ChunkCoords, InlineChunk
from .._format.snapshot import NodeSnapshot
from .._virtual import check_location_url
from . import virtual_refs
from ._nodes import is_descendant, parse_zarr_json
from .session import SessionCore

METADATA = "zarr.json"
V2_METADATA = frozenset({".zarray", ".zgroup", ".zattrs", ".zmetadata"})
# the last segment of a chunk key under any chunk key encoding: "c" (0-d), "0" ("/"), "c.0.1"
# (default encoding with "."), "0.1" (v2 encoding with ".")
_CHUNK_TAIL = re.compile(r"c|\d+|c(\.\d+)+|\d+(\.\d+)+")


@dataclass(frozen=True)
class MetadataKey:
    path: str  # absolute node path


@dataclass(frozen=True)
class ChunkKey:
    node: NodeSnapshot
    coords: ChunkCoords


def node_path(prefix: str) -> str:
    """The absolute node path of a zarr key prefix: ``""`` -> ``/``, ``a/b`` -> ``/a/b``."""
    prefix = prefix.strip("/")
    return "/" + prefix if prefix else "/"


def key_prefix(path: str) -> str:
    """The zarr key prefix (with trailing ``/``, or empty for the root) of node ``path``."""
    return "" if path == "/" else path[1:] + "/"


def _validate_key(key: str) -> None:
    if not key or key.startswith("/") or "//" in key or "\\" in key:
        raise InvalidKeyError(
            f"invalid zarr key {key!r}: keys are relative, '/'-separated, without empty segments"
        )
    if any(part in {".", ".."} for part in key.split("/")):
        raise InvalidKeyError(f"invalid zarr key {key!r}: '.' and '..' segments are not allowed")


def could_exist(key: str) -> bool:
    """Whether an Icechunk store can ever hold ``key``: a metadata or chunk key (v2 names too).

    ``foo`` or ``a/b/data.bin`` can never be stored; Zarr v2 metadata names (``.zarray``, ...)
    are never stored either but are probed by zarr, so they count as keys that may exist.
    """
    last = key.rsplit("/", 1)[-1]
    return last == METADATA or last in V2_METADATA or _CHUNK_TAIL.fullmatch(last) is not None


def _require_possible(key: str) -> None:
    """InvalidKeyError unless ``key`` is a valid key that :func:`could_exist`."""
    _validate_key(key)
    if not could_exist(key):
        raise InvalidKeyError(
            f"invalid key {key!r}: an Icechunk store holds only Zarr metadata "
            "(.../zarr.json) and chunk keys (.../c/0/1), so this key can never exist"
        )


def prefix_matches(key: str, prefix: str) -> bool:
    """Whether ``key`` is below the path ``prefix`` (``""`` and ``"/"`` are the root).

    A prefix names path segments: ``foo`` matches ``foo/zarr.json``, not ``foo-bar/zarr.json``.
    """
    prefix = prefix.strip("/")
    return not prefix or key == prefix or key.startswith(prefix + "/")


def value_range(byte_range: ByteRequest | None, size: int) -> tuple[int, int]:
    """The ``[start, end)`` of a value of ``size`` bytes that zarr's byte request asks for."""
    start, end = 0, size
    if isinstance(byte_range, RangeByteRequest):
        start, end = byte_range.start, min(byte_range.end, size)
    elif isinstance(byte_range, OffsetByteRequest):
        start = byte_range.offset
    elif isinstance(byte_range, SuffixByteRequest):
        start = max(0, size - byte_range.suffix)
    elif byte_range is not None:
        raise TypeError(f"Unexpected byte_range, got {byte_range!r}")
    return min(start, end), end


class StoreCore:
    """Key-level operations over a ``SessionCore``."""

    def __init__(self, session: SessionCore):
        self.session = session

    async def resolve(self, key: str) -> MetadataKey | ChunkKey | None:
        """What ``key`` names: a node's metadata, a chunk of an existing array, or nothing."""
        _validate_key(key)
        if key == METADATA:
            return MetadataKey("/")
        if key.endswith("/" + METADATA):
            return MetadataKey(node_path(key[: -len(METADATA) - 1]))
        nodes = await self.session.nodes()
        parts = key.split("/")
        for cut in range(len(parts) - 1, -1, -1):
            node = nodes.get(node_path("/".join(parts[:cut])))
            if node is None:
                continue
            if node.array is None:
                return None
            coords = self.session.encoding_of(node).parse(
                "/".join(parts[cut:]), len(node.array.shape)
            )
            return None if coords is None else ChunkKey(node, coords)
        return None

    async def resolve_for_write(self, key: str) -> MetadataKey | ChunkKey:
        resolved = await self.resolve(key)
        if resolved is None:
            raise InvalidKeyError(
                f"cannot write key {key!r}: it is neither a zarr.json metadata key nor a chunk "
                "key of an existing array (create the array's zarr.json first)"
            )
        return resolved

    async def get(self, key: str, byte_range: ByteRequest | None = None) -> bytes | None:
        """The bytes under ``key`` (or ``byte_range`` of them); None when nothing is there."""
        resolved = await self.resolve(key)
        if resolved is None:
            return None
        if isinstance(resolved, MetadataKey):
            node = await self.session.get_node(resolved.path)
            if node is None:
                return None
            start, end = value_range(byte_range, len(node.user_data))
            return node.user_data[start:end]
        payload = await self.session.get_chunk_ref(resolved.node, resolved.coords)
        if payload is None:
            return None
        if byte_range is None:
            return await self.session.read_chunk(payload)
        size = len(payload.data) if isinstance(payload, InlineChunk) else payload.length
        return await self.session.read_chunk(payload, *value_range(byte_range, size))

    async def exists(self, key: str) -> bool:
        _require_possible(key)
        resolved = await self.resolve(key)
        if resolved is None:
            return False
        if isinstance(resolved, MetadataKey):
            return await self.session.get_node(resolved.path) is not None
        return await self.session.get_chunk_ref(resolved.node, resolved.coords) is not None

    async def set(self, key: str, data: bytes) -> None:
        self.session._require_writable()
        resolved = await self.resolve_for_write(key)
        if isinstance(resolved, MetadataKey):
            parsed = parse_zarr_json(resolved.path, data)
            await self.session.set_metadata(resolved.path, parsed.user_data, parsed.array)
        else:
            await self.session.set_chunk(resolved.node, resolved.coords, data)

    async def delete(self, key: str) -> None:
        self.session._require_writable()
        resolved = await self.resolve(key)
        if isinstance(resolved, MetadataKey):
            await self.session.delete_node(resolved.path)
        elif isinstance(resolved, ChunkKey):
            await self.session.delete_chunk(resolved.node, resolved.coords)

    async def delete_dir(self, prefix: str) -> None:
        """Delete every key below ``prefix``: whole nodes, or the chunks under a chunk prefix."""
        self.session._require_writable()
        prefix = prefix.rstrip("/")
        if not prefix:
            await self.session.delete_node("/")
            return
        path = node_path(prefix)
        nodes = await self.session.nodes()
        if path in nodes:
            await self.session.delete_node(path)
            return
        keys = [k async for k in self.list_prefix(prefix)]
        for key in keys:
            await self.delete(key)

    async def list_prefix(self, prefix: str) -> AsyncIterator[str]:
        """Every existing key below the path ``prefix`` (see :func:`prefix_matches`)."""
        nodes = await self.session.nodes()
        stripped = prefix.strip("/")
        for path in sorted(nodes):
            node = nodes[path]
            base = key_prefix(path)
            if prefix_matches(base + METADATA, stripped):
                yield base + METADATA
            if node.array is not None and (
                prefix_matches(base.rstrip("/"), stripped) or stripped.startswith(base)
            ):
                for key in await self._chunk_keys(node):
                    if prefix_matches(key, stripped):
                        yield key

    async def _chunk_keys(self, node: NodeSnapshot) -> list[str]:
        table = await self.session.chunk_table(node)
        enc = self.session.encoding_of(node)
        base = key_prefix(node.path)
        return [base + enc.key(c) for c in table.iter_coords()]

    async def list_dir(self, prefix: str) -> AsyncIterator[str]:
        """Immediate children of ``prefix``: ``zarr.json``, child node names, chunk key heads."""
        prefix = prefix.strip("/")
        path = node_path(prefix)
        nodes = await self.session.nodes()
        seen: set[str] = set()
        node = nodes.get(path)
        if node is not None:
            seen.add(METADATA)
            if node.array is not None:
                encoding = self.session.encoding_of(node)
                if encoding.name == "default" and encoding.separator == "/":
                    seen.add("c")  # as upstream: an array's chunk folder is always listed
                else:
                    for key in await self._chunk_keys(node):
                        seen.add(key[len(key_prefix(path)) :].split("/")[0])
        for p in nodes:
            if is_descendant(p, path):
                seen.add(p[len(path) :].lstrip("/").split("/")[0])
        if node is None and not seen:
            parts = [k async for k in self.list_prefix(prefix)]
            seen.update(k[len(prefix) :].lstrip("/").split("/")[0] for k in parts)
        for name in sorted(seen):
            yield name

    async def getsize(self, key: str) -> int | None:
        _require_possible(key)
        resolved = await self.resolve(key)
        if isinstance(resolved, MetadataKey):
            node = await self.session.get_node(resolved.path)
            return None if node is None else len(node.user_data)
        if isinstance(resolved, ChunkKey):
            payload = await self.session.get_chunk_ref(resolved.node, resolved.coords)
            if payload is None:
                return None
            return len(payload.data) if isinstance(payload, InlineChunk) else payload.length
        return None

    async def is_empty(self, prefix: str) -> bool:
        async for _ in self.list_prefix(prefix):
            return False
        return True

    # --- virtual references ------------------------------------------------------------------

    async def set_virtual_ref(
        self,
        key: str,
        location: str,
        offset: int,
        length: int,
        checksum: str | datetime | None,
        validate_container: bool,
    ) -> None:
        """Stage a virtual reference for the chunk ``key``."""
        session = self.session
        check_location_url(location)
        if validate_container:
            session.virtual.validate(location)
        resolved = await self.resolve_for_write(key)
        if not isinstance(resolved, ChunkKey):
            raise InvalidKeyError(f"{key!r} is not a chunk key; virtual refs name chunks")
        chunk = virtual_refs.virtual_chunk(location, offset, length, checksum)
        session.set_chunk_ref(resolved.node, resolved.coords, chunk)

    async def set_virtual_refs(
        self, array_path: str, chunks: Iterable[VirtualChunkSpec], validate_containers: bool
    ) -> list[ChunkCoords] | None:
        """Stage many virtual references of one array; the indices skipped, or None."""
        node = await self.session.array_node(array_path)
        specs = chunks if isinstance(chunks, list | tuple) else list(chunks)
        return virtual_refs.set_virtual_refs(self.session, node, specs, validate_containers)

    async def set_virtual_refs_arr(
        self,
        array_path: str,
        chunk_grid_shape: Sequence[int],
        locations: Sequence[str],
        offsets: np.ndarray,
        lengths: np.ndarray,
        *,
        validate_containers: bool,
        arr_offset: Sequence[int] | None,
        checksum: datetime | str | None,
    ) -> list[ChunkCoords] | None:
        """:func:`virtual_refs.set_virtual_refs_arr` on the array at ``array_path``."""
        return virtual_refs.set_virtual_refs_arr(
            self.session,
            await self.session.array_node(array_path),
            chunk_grid_shape,
            locations,
            offsets,
            lengths,
            validate_containers=validate_containers,
            arr_offset=arr_offset,
            checksum=checksum,
        )

    async def chunk_ref_batches(
        self, array_path: str, batch_size: int
    ) -> AsyncIterator[virtual_refs.RefBatch]:
        """The chunk references of the array at ``array_path``, in batches of columns."""
        node = await self.session.array_node(array_path)
        async for batch in virtual_refs.iter_chunk_refs(self.session, node, batch_size):
            yield batch

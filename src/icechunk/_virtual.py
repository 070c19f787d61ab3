"""Virtual chunks: references into files outside the repository.

Reading one needs a virtual chunk container whose url prefix matches the chunk's location
(longest prefix wins) and an authorization for that prefix given when the repository was
opened; the source is fetched with the container's store settings and credentials, and a
recorded checksum (etag or last-modified time) must still match.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._exceptions import VirtualChunkError
from ._format.manifest import VirtualChunk


class VirtualChunkResolver:
    """Finds the container of a location, checks authorization, fetches the bytes.

    Parameters
    ----------
    containers
        Virtual chunk containers by url prefix (from the repository config).
    credentials
        Authorized url prefixes and their credentials (``None``: use the store's defaults).
    """

    def __init__(self, containers: Mapping[str, Any], credentials: Mapping[str, Any]):
        self._containers = dict(containers)
        self._credentials = dict(credentials)

    def container_for(self, location: str) -> Any | None:
        """The container with the longest url prefix matching ``location``, if any."""
        best = None
        for prefix, container in self._containers.items():
            if location.startswith(prefix) and (best is None or len(prefix) > len(best[0])):
                best = (prefix, container)
        return None if best is None else best[1]

    def validate(self, location: str) -> None:
        """Raise VirtualChunkError unless some container covers ``location``."""
        if self.container_for(location) is None:
            raise VirtualChunkError(
                f"no virtual chunk container covers {location!r}: add one with "
                "config.set_virtual_chunk_container(VirtualChunkContainer(url_prefix, store))"
            )

    async def fetch(self, chunk: VirtualChunk, start: int = 0, end: int | None = None) -> bytes:
        """The bytes ``[start, end)`` of the chunk (relative to the chunk)."""
        raise VirtualChunkError(f"reading virtual chunks is not available yet ({chunk.location})")

"""Engine-level fixtures for tests/core: repositories on a memory backend, driven without facades."""

from __future__ import annotations

import json

from icechunk._core.repository import EngineSettings, RepositoryCore
from icechunk._core.session import SessionCore
from icechunk._core.store import StoreCore
from icechunk.storage._memory import MemoryBackend

GROUP_JSON = json.dumps({"zarr_format": 3, "node_type": "group", "attributes": {}}).encode()


def array_json(shape: list[int], chunks: list[int]) -> bytes:
    """Zarr v3 metadata of a uint8 array."""
    return json.dumps(
        {
            "zarr_format": 3,
            "node_type": "array",
            "shape": shape,
            "data_type": "uint8",
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": chunks}},
            "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
            "fill_value": 0,
            "codecs": [{"name": "bytes"}],
            "attributes": {},
        }
    ).encode()


async def new_repository(inline_threshold: int = 4) -> RepositoryCore:
    core = RepositoryCore(MemoryBackend(), EngineSettings(inline_threshold=inline_threshold))
    await core.initialize(None)
    return core


async def with_array(session: SessionCore, path: str = "a", shape: int = 8) -> StoreCore:
    """Stage a root group and a 1-d array of ``shape`` elements in chunks of 2."""
    store = StoreCore(session)
    await store.set("zarr.json", GROUP_JSON)
    await store.set(f"{path}/zarr.json", array_json([shape], [2]))
    return store

"""The storage conformance suite against the in-memory backend."""

from __future__ import annotations

import pytest

from icechunk.storage._backend import StorageBackend
from icechunk.storage._memory import MemoryBackend

from .conformance import StorageBackendTests


class TestMemoryBackend(StorageBackendTests):
    @pytest.fixture
    def backend(self) -> StorageBackend:
        return MemoryBackend()

    def test_describe(self) -> None:
        assert "memory" in MemoryBackend("x").describe()

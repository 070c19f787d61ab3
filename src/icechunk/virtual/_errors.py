"""Errors of :mod:`icechunk.virtual`."""

from __future__ import annotations

from .._exceptions import IcechunkError, VirtualChunkError

__all__ = ["KerchunkLocationError", "KerchunkReferenceError"]


class KerchunkReferenceError(IcechunkError, ValueError):
    """A kerchunk reference set is malformed, or uses a feature that cannot be ingested."""


class KerchunkLocationError(VirtualChunkError, ValueError):
    """A reference points at a location that cannot be stored: relative, or in no container."""

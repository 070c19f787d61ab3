"""Compression of Icechunk's metadata files."""

from __future__ import annotations

import enum

from .._records import Record, instance_of, record, setting, u8
from . import defaults


class CompressionAlgorithm(enum.Enum):
    """The compression algorithm for Icechunk's metadata files.

    Attributes
    ----------
    Zstd
        The Zstd compression algorithm (the only one, and the default).
    """

    Zstd = 0

    @staticmethod
    def default() -> CompressionAlgorithm:
        """The default compression algorithm (``Zstd``).

        Returns
        -------
        CompressionAlgorithm
        """
        return CompressionAlgorithm.Zstd

    def __repr__(self) -> str:
        return f"CompressionAlgorithm.{self.name}"


@record
class CompressionConfig(Record):
    """How Icechunk compresses its metadata files.

    Parameters
    ----------
    algorithm
        The compression algorithm (default Zstd).
    level
        The compression level, 0-255 (default 3).
    """

    algorithm: CompressionAlgorithm | None = setting(
        default=None, check=instance_of(CompressionAlgorithm), effective=CompressionAlgorithm.Zstd
    )
    level: int | None = setting(default=None, check=u8, effective=defaults.COMPRESSION_LEVEL)

    @staticmethod
    def default() -> CompressionConfig:
        """The default compression configuration (all fields unset).

        Returns
        -------
        CompressionConfig
        """
        return CompressionConfig()

"""Package version and the implementation name written into metadata file headers."""

from __future__ import annotations

__version__ = "1.1.21"

# Written left-aligned, space-padded to 24 bytes, in every metadata file header.
IMPLEMENTATION_NAME = f"icechunk-py-{__version__}"

SPEC_VERSION = 1

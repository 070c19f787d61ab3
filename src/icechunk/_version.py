"""Package version and the implementation name written into metadata file headers."""

from __future__ import annotations

# The upstream Icechunk release whose Python API (and spec v1 format) this package implements.
# Kept as ``__version__`` (and as the distribution version) so that libraries and pip
# requirements written against upstream (``icechunk>=1.1``) accept this package.
__version__ = "1.1.21"

# This pure-Python implementation's own version (see CHANGELOG.md).
IMPLEMENTATION_VERSION = "0.1.0"

# Written left-aligned, space-padded to 24 bytes, in every metadata file header.
IMPLEMENTATION_NAME = f"icechunk-py-{__version__}"

SPEC_VERSION = 1

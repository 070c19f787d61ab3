"""The credential value objects behind :mod:`icechunk.credentials` (one module per store)."""

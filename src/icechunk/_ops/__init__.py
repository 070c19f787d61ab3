"""Maintenance operations: snapshot expiry, garbage collection, storage statistics."""

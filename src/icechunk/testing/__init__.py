"""Helpers for testing code that uses Icechunk (needs ``hypothesis``): see :mod:`.strategies`."""

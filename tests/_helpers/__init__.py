"""Helpers shared by test modules (servers on 127.0.0.1 and their fixtures)."""

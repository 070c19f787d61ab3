"""Helpers shared by the test modules: one home each (upstream's venv, servers, requirements)."""

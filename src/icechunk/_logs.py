"""Logging: ``ICECHUNK_LOG``-style filter directives mapped onto Python's ``logging``.

A directive is a comma-separated list of ``level`` or ``target=level`` items, as upstream
(``"debug"``, ``"icechunk=trace,info"``). Targets name loggers; ``icechunk`` is this package.
"""

from __future__ import annotations

import logging
import os
import platform
from importlib import import_module

from ._version import IMPLEMENTATION_VERSION, SPEC_VERSION, __version__

_LEVELS = {
    "trace": logging.DEBUG,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "off": logging.CRITICAL + 10,
}


def set_logs_filter(log_filter_directive: str | None) -> None:
    """Set log levels per module from a directive such as ``"icechunk=debug,info"``.

    ``None`` reads the ``ICECHUNK_LOG`` environment variable (default: warnings only).
    """
    directive = log_filter_directive
    if directive is None:
        directive = os.environ.get("ICECHUNK_LOG", "warn")
    default_level = logging.WARNING
    targets: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in directive.split(","))):
        target, _, level = item.rpartition("=")
        value = _LEVELS.get(level.lower())
        if value is None:
            raise ValueError(
                f"invalid log level {level!r} in {directive!r}; use one of {sorted(_LEVELS)}"
            )
        if target:
            targets[target] = value
        else:
            default_level = value
    logger = logging.getLogger("icechunk")
    logger.setLevel(targets.get("icechunk", default_level))
    for target, value in targets.items():
        logging.getLogger(target).setLevel(value)
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)


def initialize_logs() -> None:
    """Apply the ``ICECHUNK_LOG`` environment variable (done on ``import icechunk``)."""
    set_logs_filter(None)


def spec_version() -> int:
    """The Icechunk format specification version this implementation reads and writes."""
    return SPEC_VERSION


def print_debug_info() -> None:
    """Print the versions of Python, icechunk and related packages (for bug reports).

    This package is the pure-Python implementation of Icechunk: the report gives its own
    version next to the upstream Icechunk API version (``icechunk.__version__``) it implements.
    """
    print(f"platform:  {platform.platform()}")
    print(f"python:  {platform.python_version()}")
    print(
        f"icechunk:  {__version__} (pure-Python implementation {IMPLEMENTATION_VERSION} of the "
        f"upstream Icechunk {__version__} API; on-disk format spec v{SPEC_VERSION})"
    )
    for package in ("zarr", "numcodecs", "numpy", "xarray", "dask", "virtualizarr"):
        try:
            print(f"{package}:  {import_module(package).__version__}")
        except ModuleNotFoundError:
            continue

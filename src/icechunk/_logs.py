"""Logging: upstream's ``ICECHUNK_LOG`` filter directives mapped onto Python's ``logging``.

A directive is a comma-separated list of items, as upstream (Rust ``tracing`` syntax):
``level`` sets the default level, ``target=level`` or ``target:level`` the level of one target
(``icechunk=debug``, ``icechunk::repository:trace``) and a bare ``target`` enables everything
it logs. ``false``, ``0`` or ``off`` disable logging. Targets are module paths written with
``::``; those under ``icechunk`` select this package's loggers (``icechunk::session`` is the
logger ``icechunk.session``), others name upstream's Rust dependencies and have no effect here.
A target that looks like a misspelling of ``icechunk`` and a malformed item print a warning
to standard error; neither raises. Records go to standard output, formatted as upstream's.
"""

from __future__ import annotations

import logging
import os
import platform
import re
import sys
import time
from importlib import import_module

from ._version import IMPLEMENTATION_VERSION, SPEC_VERSION, __version__

__all__ = ["initialize_logs", "print_debug_info", "set_logs_filter", "spec_version"]

PACKAGE = "icechunk"
TRACE = 5
OFF = logging.CRITICAL + 10
DEFAULT_DIRECTIVE = "warn"
logging.addLevelName(TRACE, "TRACE")

_LEVELS = {
    "trace": TRACE,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "off": OFF,
}
_DISABLED = {"false", "0", "off", "none"}
# upstream's level names, as its formatter prints them
_LEVEL_NAMES = {TRACE: "TRACE", logging.DEBUG: "DEBUG", logging.INFO: "INFO",
                logging.WARNING: "WARN", logging.ERROR: "ERROR", logging.CRITICAL: "ERROR"}
_TARGET_LEVEL = re.compile(r"^(?P<target>.*[^:]):(?P<level>[A-Za-z]+)$")

_configured: set[str] = set()  # loggers whose level a directive set


class _StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stdout`` is at the time of the record."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    @property  # type: ignore[override]
    def stream(self):  # type: ignore[no-untyped-def]
        return sys.stdout

    @stream.setter
    def stream(self, value: object) -> None:
        pass


class _Formatter(logging.Formatter):
    """``2025-01-31T12:00:00.123456Z DEBUG icechunk::repository: message``, as upstream."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        micros = int(record.created % 1 * 1_000_000)
        level = _LEVEL_NAMES.get(record.levelno, record.levelname)
        target = record.name.replace(".", "::")
        text = f"{stamp}.{micros:06d}Z {level:>5} {target}: {record.getMessage()}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def _warn(message: str) -> None:
    sys.stderr.write(f"WARNING: {message}\n")
    sys.stderr.flush()


def _distance(a: str, b: str) -> int:
    """Levenshtein edit distance."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def _check_spelling(target: str) -> None:
    head = target.split("::", 1)[0].lower()
    if head != PACKAGE and _distance(head, PACKAGE) <= 2:
        _warn(
            f"log filter target {target!r} looks like a misspelling of {PACKAGE!r}; this "
            f"package's logs are selected with {PACKAGE!r} (e.g. ICECHUNK_LOG=icechunk=debug)"
        )


def _split_item(item: str) -> tuple[str, str | None]:
    """``(target, level)`` of one item; an empty target is the default level."""
    if "=" in item:
        target, _, level = item.rpartition("=")
        return target.strip(), level.strip()
    if item.lower() in _LEVELS:
        return "", item
    match = _TARGET_LEVEL.match(item)
    if match and match["level"].lower() in _LEVELS:
        return match["target"], match["level"]
    return item, None


def _parse(directive: str) -> tuple[int, dict[str, int]]:
    """The default level and the per-target levels of ``directive``."""
    if directive.strip().lower() in _DISABLED:
        return OFF, {}
    default = _LEVELS[DEFAULT_DIRECTIVE]
    targets: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in directive.split(","))):
        target, level = _split_item(item)
        if target:
            _check_spelling(target)
        if level is None:
            targets[target] = TRACE  # a bare target enables everything it logs
            continue
        value = _LEVELS.get(level.lower())
        if value is None:
            _warn(
                f"ignoring log filter item {item!r} of {directive!r}: unknown level {level!r}; "
                f"use one of trace, debug, info, warn, error, off"
            )
        elif target:
            targets[target] = value
        else:
            default = value
    return default, targets


def _logger_name(target: str) -> str | None:
    name = target.replace("::", ".")
    return name if name == PACKAGE or name.startswith(PACKAGE + ".") else None


def set_logs_filter(log_filter_directive: str | None) -> None:
    """Choose which log records are printed, with a directive such as ``"icechunk=debug"``.

    Parameters
    ----------
    log_filter_directive
        Comma-separated ``level``, ``target=level`` or ``target:level`` items (see the module
        documentation); ``"false"`` or ``"0"`` disables logging. ``None`` reads the
        ``ICECHUNK_LOG`` environment variable (default: warnings only).
    """
    directive = log_filter_directive
    if directive is None:
        directive = os.environ.get("ICECHUNK_LOG") or DEFAULT_DIRECTIVE
    default, targets = _parse(directive)
    for name in _configured:
        logging.getLogger(name).setLevel(logging.NOTSET)
    _configured.clear()
    package = logging.getLogger(PACKAGE)
    package.setLevel(default)
    for target, value in targets.items():
        logger_name = _logger_name(target)
        if logger_name is not None:
            logging.getLogger(logger_name).setLevel(value)
            _configured.add(logger_name)
    if not any(isinstance(h, _StdoutHandler) for h in package.handlers):
        handler = _StdoutHandler()
        handler.setFormatter(_Formatter())
        package.addHandler(handler)


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

"""Progress reporting for long operations (garbage collection, expiry, statistics, rewrites).

Operations take a :class:`Progress` and call :meth:`Progress.step` as work gets done; callers
choose what it shows with :func:`progress_bar`: a tqdm bar (which picks its notebook widget by
itself) when asked for, and nothing otherwise, so scripts and logs stay clean by default.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, Protocol


class Progress(Protocol):
    """What an operation reports its progress to."""

    def stage(self, description: str, total: int | None = None) -> None:
        """Start a new stage of the work, of ``total`` steps if known."""

    def step(self, n: int = 1) -> None:
        """Record ``n`` more steps of the current stage as done."""


class NoProgress:
    """Reports nothing: the default of every operation."""

    def stage(self, description: str, total: int | None = None) -> None:
        """Ignore the new stage."""

    def step(self, n: int = 1) -> None:
        """Ignore the steps."""


class TqdmProgress:
    """Shows each stage of an operation as a tqdm bar.

    Parameters
    ----------
    unit
        What one step is (``"object"``, ``"snapshot"``...).
    bar_options
        Passed on to :func:`tqdm.auto.tqdm` (``file=``, ``disable=``...).
    """

    def __init__(self, unit: str = "it", **bar_options: Any):
        self._unit = unit
        self._options = bar_options
        self._bar: Any = None

    def stage(self, description: str, total: int | None = None) -> None:
        """Close the bar of the previous stage and open one for this stage."""
        self.close()
        bar = _tqdm_class()
        self._bar = bar(total=total, desc=description, unit=self._unit, **self._options)

    def step(self, n: int = 1) -> None:
        """Advance the current bar by ``n``."""
        if self._bar is not None:
            self._bar.update(n)

    def close(self) -> None:
        """Close the current bar, if any."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _tqdm_class() -> Any:
    """tqdm's notebook widget where ipywidgets can draw it, its text bar elsewhere.

    ``tqdm.auto`` alone warns in notebooks without ipywidgets; the text bar works there.
    """
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        from tqdm.std import tqdm

        return tqdm
    from tqdm.auto import tqdm

    return tqdm


@contextlib.contextmanager
def progress_bar(enabled: bool, unit: str = "it", **bar_options: Any) -> Iterator[Progress]:
    """A :class:`Progress` showing tqdm bars when ``enabled``, otherwise one showing nothing.

    Parameters
    ----------
    enabled
        Whether to show anything (the ``progress=`` keyword of the public API).
    unit
        What one step is.
    bar_options
        Passed on to tqdm.
    """
    if not enabled:
        yield NoProgress()
        return
    progress = TqdmProgress(unit, **bar_options)
    try:
        yield progress
    finally:
        progress.close()

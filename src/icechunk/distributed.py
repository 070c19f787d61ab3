"""Helpers for distributed array frameworks: get fork sessions out of tasks and merge them.

These functions import neither dask nor distributed; ``icechunk.dask`` builds its tree
reduction out of them, and other frameworks can do the same.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .session import ForkSession, Session
from .store import IcechunkStore

__all__ = ["extract_session", "merge_sessions"]


def extract_session(zarray: Any, axis: Any = None, keepdims: Any = None) -> Session:
    """The Icechunk session behind a zarr array (as returned by a write task).

    Parameters
    ----------
    zarray
        A ``zarr.Array`` (or ``zarr.Group``) opened on an ``IcechunkStore``.
    axis, keepdims
        Ignored; accepted so that the function can serve as a reduction's chunk function.

    Returns
    -------
    Session
        The session of the array's store (a ``ForkSession`` for distributed writes).
    """
    store = getattr(zarray, "store", None)
    if not isinstance(store, IcechunkStore):
        raise TypeError(
            "extract_session expects a zarr array stored in an IcechunkStore; got "
            f"{type(zarray).__name__} with store {type(store).__name__}"
        )
    return store.session


def _flatten(items: Any) -> Iterator[Any]:
    if isinstance(items, list | tuple):
        for item in items:
            yield from _flatten(item)
    else:
        yield items


def merge_sessions(*sessions: ForkSession | list[Any] | tuple[Any, ...]) -> ForkSession:
    """Merge fork sessions (possibly in nested lists) into the first one, and return it.

    A session that appears more than once (several tasks of one worker write through the same
    fork) is merged once.

    Parameters
    ----------
    sessions
        ``ForkSession`` objects, or lists of them.

    Returns
    -------
    ForkSession
        The first session, holding the changes of all of them.

    Raises
    ------
    TypeError
        When given anything but ``ForkSession`` objects (merge plain sessions with
        ``Session.merge(*forks)`` instead).
    """
    flat = list(_flatten(sessions))
    if not flat:
        raise ValueError("merge_sessions needs at least one ForkSession")
    for s in flat:
        if not isinstance(s, ForkSession):
            raise TypeError(
                "merge_sessions only accepts ForkSession objects. Received "
                f"{type(s).__name__!r} instead. To merge forks into the session they came "
                "from, use session.merge(*forks)"
            )
    first, rest = flat[0], _unique(flat[1:], exclude=flat[0])
    if rest:
        first.merge(*rest)
    return first


def _unique(sessions: list[ForkSession], exclude: ForkSession) -> list[ForkSession]:
    seen = {id(exclude)}
    out = []
    for s in sessions:
        if id(s) not in seen:
            seen.add(id(s))
            out.append(s)
    return out

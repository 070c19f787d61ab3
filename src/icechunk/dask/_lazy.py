"""Deferred writes and progress bars for the dask integrations.

``to_icechunk(..., compute=False)`` returns a :class:`LazyWrite`: a ``dask.delayed.Delayed``
whose :meth:`LazyWrite.compute` runs the writes and merges them into the session. Passed to
``dask.compute``, ``Client.compute`` or ``Client.persist`` instead, it computes to the merged
``ForkSession`` of the workers, which the caller merges with ``session.merge(...)``: merging
has to happen in the process that holds the session, which a task of the graph is not.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import dask
from dask.delayed import Delayed

from ..session import ForkSession, Session


@contextlib.contextmanager
def progress_context(enabled: bool) -> Iterator[None]:
    """A ``dask.diagnostics.ProgressBar`` around the block when ``enabled``.

    It reports on the local schedulers (threads, processes, synchronous); on a
    ``distributed`` cluster use ``distributed.progress`` or the dashboard instead.
    """
    if not enabled:
        yield
        return
    from dask.diagnostics import ProgressBar

    with ProgressBar():
        yield


class LazyWrite(Delayed):
    """The writes of ``to_icechunk(..., compute=False)``, not yet run.

    ``write.compute()`` runs them (keywords go to ``dask.compute``, e.g. ``scheduler=``)
    and merges the result into the session given to ``to_icechunk``; commit the session
    afterwards. ``dask.compute(write)``, ``client.compute(write)`` and ``client.persist(write)``
    work as for any ``Delayed`` (for ``distributed.progress`` or
    ``dask.diagnostics.ProgressBar``): they give the merged ``ForkSession``, to merge with
    ``session.merge(fork)`` before committing.
    """

    __slots__ = ("_local", "_session")

    def __init__(
        self,
        key: Any,
        dsk: Any,
        session: Session,
        local: Sequence[ForkSession],
        layer: Any = None,
    ):
        super().__init__(key, dsk, layer=layer)
        object.__setattr__(self, "_session", session)
        object.__setattr__(self, "_local", tuple(local))

    @classmethod
    def of(
        cls, merged: Delayed | None, session: Session, local: Sequence[ForkSession]
    ) -> LazyWrite:
        """Wrap ``merged`` (computing to a ForkSession, or None when nothing is lazy)."""
        if merged is None:
            merged = dask.delayed(_nothing)()
        return cls(merged.key, merged.dask, session, local, layer=merged._layer)

    def compute(self, progress: bool = False, **kwargs: Any) -> None:  # type: ignore[override]
        """Run the writes and merge them into the session (then commit it).

        Parameters
        ----------
        progress
            Show a ``dask.diagnostics.ProgressBar`` (local schedulers).
        **kwargs
            Passed on to ``dask.compute``.
        """
        plain = Delayed(self.key, self.dask, layer=self._layer)
        with progress_context(progress):
            (merged,) = dask.compute(plain, **kwargs)
        forks = [*self._local, *([merged] if merged is not None else [])]
        unique = list({id(f): f for f in forks if f is not self._session}.values())
        if unique:
            self._session.merge(*unique)

    def _rebuild(self, dsk: Any, *, rename: Any = None) -> LazyWrite:
        plain = super()._rebuild(dsk, rename=rename)
        return LazyWrite(plain.key, plain.dask, self._session, self._local, layer=plain._layer)

    def __repr__(self) -> str:
        return f"LazyWrite({self.key!r}, session={self._session!r})"


def _nothing() -> None:
    return None

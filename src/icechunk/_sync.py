"""The one place where blocking methods run coroutines: on zarr's IO event loop.

zarr already awaits our store on its own background loop; running every sync facade call
there too means the engine's objects only ever live on one loop, so sync and async calls can
be mixed freely, from plain scripts, threads, and notebooks whose own loop is running.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any, ParamSpec, TypeVar

from zarr.core.sync import _get_loop
from zarr.core.sync import sync as _zarr_sync

from ._exceptions import AsyncContextError

T = TypeVar("T")
P = ParamSpec("P")


def _on_io_loop() -> bool:
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        return False
    return running is _get_loop()


def sync(coro: Coroutine[Any, Any, T], *, method: str = "this method") -> T:
    """Run ``coro`` to completion on zarr's IO loop and return its result.

    Raises
    ------
    AsyncContextError
        When called from a coroutine already running on that loop, where blocking would
        deadlock; the message names the ``_async`` method to await instead.
    """
    if _on_io_loop():
        coro.close()
        raise AsyncContextError(
            f"{method} cannot block inside zarr's event loop (for example inside an async store "
            f"call); await the `_async` version of {method} instead"
        )
    return _zarr_sync(coro)


def sync_iter(agen: AsyncIterator[T], *, method: str = "this method") -> Iterator[T]:
    """Iterate an async iterator from blocking code.

    Items are fetched in batches that double in size (up to 256) per round trip to the IO
    loop, so short walks stay lazy and long ones do not pay a round trip per item.
    """
    batch_size = 8

    async def next_batch(size: int) -> tuple[list[T], bool]:
        items: list[T] = []
        try:
            while len(items) < size:
                items.append(await agen.__anext__())
        except StopAsyncIteration:
            return items, True
        return items, False

    while True:
        items, done = sync(next_batch(batch_size), method=method)
        yield from items
        if done:
            return
        batch_size = min(batch_size * 2, 256)


def blocking(method: Callable[P, Coroutine[Any, Any, T]], doc: str) -> Callable[P, T]:
    """The blocking twin of the coroutine function ``method`` (named ``x_async``).

    The twin is named ``x`` (from ``method.__qualname__``), takes the same arguments, has
    ``doc`` as its docstring and runs ``method`` through :func:`sync`, whose error names
    ``Owner.x``. Assign it in the class body (``x = blocking(x_async, "...")``); for a static
    method, wrap the twin in ``staticmethod``. Iterators and context managers are written by
    hand (:func:`sync_iter`).
    """
    inner: Any = getattr(method, "__func__", method)  # a staticmethod in its class body
    qualname: str = inner.__qualname__.removesuffix("_async")

    @functools.wraps(inner)
    def twin(*args: P.args, **kwargs: P.kwargs) -> T:
        return sync(inner(*args, **kwargs), method=qualname)

    twin.__name__ = qualname.rsplit(".", 1)[-1]
    twin.__qualname__ = qualname
    twin.__doc__ = doc
    return twin

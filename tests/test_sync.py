"""``icechunk._sync``: blocking twins made from coroutine methods, and the error inside the loop."""

from __future__ import annotations

import inspect

import pytest

from icechunk._exceptions import AsyncContextError
from icechunk._sync import blocking, sync


class Thing:
    async def add_async(self, x: int, *, y: int = 1) -> int:
        """Async version of :meth:`add`."""
        return x + y

    add = blocking(add_async, "Add ``y`` to ``x``.")

    @staticmethod
    async def name_async(suffix: str) -> str:
        """Async version of :meth:`name`."""
        return "thing" + suffix

    name = staticmethod(blocking(name_async, "The name."))


def test_the_twin_runs_the_coroutine_and_is_named_and_documented_once() -> None:
    assert Thing().add(1, y=5) == 6
    assert Thing.name("!") == Thing().name("?")[:-1] + "!" == "thing!"
    assert (Thing.add.__name__, Thing.add.__qualname__) == ("add", "Thing.add")
    assert Thing.name.__qualname__ == "Thing.name"
    assert Thing.add.__doc__ == "Add ``y`` to ``x``."
    assert Thing.add_async.__doc__ == "Async version of :meth:`add`."
    assert inspect.signature(Thing.add) == inspect.signature(Thing.add_async)
    assert not inspect.iscoroutinefunction(Thing.add)


def test_calling_the_twin_inside_the_io_loop_names_the_async_method() -> None:
    async def blocking_inside_the_loop() -> int:
        return Thing().add(1)

    message = (
        "Thing.add cannot block inside zarr's event loop (for example inside an async store "
        "call); await the `_async` version of Thing.add instead"
    )
    with pytest.raises(AsyncContextError) as raised:
        sync(blocking_inside_the_loop())
    assert str(raised.value) == message

"""zarr's own hierarchy state machine run against ``IcechunkStore``.

``zarr.testing.stateful.ZarrHierarchyStateMachine`` drives random group/array creation,
writes, resizes, deletes and listings against a store and compares everything with a zarr
``MemoryStore``. Here the store is a writable session's store, on in-memory storage and on
local filesystem storage.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import hypothesis.strategies as st
import pytest
from hypothesis import note, settings
from hypothesis.stateful import precondition, rule, run_state_machine_as_test
from zarr.testing.stateful import ZarrHierarchyStateMachine

import icechunk

SETTINGS = settings(max_examples=30, stateful_step_count=30)


def _machine(make_storage: Callable[[], icechunk.Storage]) -> type[ZarrHierarchyStateMachine]:
    class IcechunkHierarchyStateMachine(ZarrHierarchyStateMachine):
        def __init__(self) -> None:
            repo = icechunk.Repository.create(make_storage())
            self.session = repo.writable_session("main")
            super().__init__(self.session.store)

        @precondition(lambda self: bool(self.all_groups))
        @rule(data=st.data())
        def check_list_dir(self, data: st.DataObject) -> None:
            """As zarr's rule, but an array's chunk folder ``c`` is always listed (as upstream
            does), where the model lists it only while a chunk exists."""
            path = self.draw_directory(data)
            note(f"list_dir for {path=!r}")
            model_ls = set(self._sync_iter(self.model.list_dir(path)))
            store_ls = set(self._sync_iter(self.store.list_dir(path)))
            is_array = path in self.all_arrays
            assert model_ls - {"c"} == store_ls - {"c"}, (model_ls, store_ls)
            assert ("c" in store_ls) == ("c" in model_ls or is_array), (path, store_ls)

    return IcechunkHierarchyStateMachine


def test_zarr_hierarchy_in_memory() -> None:
    machine = _machine(icechunk.in_memory_storage)
    run_state_machine_as_test(machine, settings=SETTINGS)


def test_zarr_hierarchy_local(tmp_path: Path) -> None:
    counter = iter(range(10**9))

    def make() -> icechunk.Storage:
        return icechunk.local_filesystem_storage(str(tmp_path / f"repo{next(counter)}"))

    machine = _machine(make)
    run_state_machine_as_test(machine, settings=SETTINGS)


@pytest.mark.parametrize("kind", ["memory", "local"])
def test_store_is_an_icechunk_store(kind: str, tmp_path: Path) -> None:
    """The machine really exercises our store, not a stand-in."""
    storage = (
        icechunk.in_memory_storage()
        if kind == "memory"
        else icechunk.local_filesystem_storage(str(tmp_path / "r"))
    )
    machine = _machine(lambda: storage)()
    assert isinstance(machine.store, icechunk.IcechunkStore)
    assert not machine.store.read_only

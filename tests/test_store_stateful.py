"""A state machine interleaving zarr writes, deletes and resizes with commits.

Every operation goes to an ``IcechunkStore`` (a writable session's store) and to a zarr
``MemoryStore`` model. After every step the store must hold exactly the model's keys and bytes,
zarr must see the same hierarchy and array contents in both, and a repository freshly opened
from storage must show the last committed state (and nothing staged since).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import hypothesis.extra.numpy as npst
import hypothesis.strategies as st
import numpy as np
import pytest
import zarr
from hypothesis import note, settings
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from zarr.abc.store import Store
from zarr.core.buffer import cpu, default_buffer_prototype
from zarr.core.sync import sync
from zarr.storage import MemoryStore

import icechunk
from icechunk._exceptions import NoChangesToCommitError

SETTINGS = settings(max_examples=30, stateful_step_count=40)

NAMES = st.sampled_from(["a", "b", "c"])
DTYPE = np.dtype("int16")


async def _collect(it: AsyncIterator[str]) -> list[str]:
    return [k async for k in it]


def dump(store: Store) -> dict[str, bytes]:
    """Every key of ``store`` with its bytes."""

    async def run() -> dict[str, bytes]:
        out: dict[str, bytes] = {}
        for key in await _collect(store.list_prefix("")):
            buf = await store.get(key, default_buffer_prototype())
            assert buf is not None, f"listed key {key!r} has no value"
            out[key] = buf.to_bytes()
        return out

    return sync(run())


def hierarchy(store: Store) -> dict[str, Any]:
    """What zarr sees: every member path with its kind, and each array's contents."""
    root = zarr.open_group(store=store, mode="r")
    out: dict[str, Any] = {}
    for path, obj in root.members(max_depth=None):
        if isinstance(obj, zarr.Array):
            out[path] = ("array", obj.shape, obj.chunks, obj[...].tolist(), dict(obj.attrs))
        else:
            out[path] = ("group", dict(obj.attrs))
    return out


def _model_from(contents: dict[str, bytes]) -> MemoryStore:
    return MemoryStore({k: cpu.Buffer.from_bytes(v) for k, v in contents.items()})


class CommitStateMachine(RuleBasedStateMachine):
    make_storage: Callable[[], icechunk.Storage]

    def __init__(self) -> None:
        super().__init__()
        self.storage = type(self).make_storage()
        config = icechunk.RepositoryConfig.default()
        # small threshold: both inline chunks and chunk objects are exercised
        config.inline_chunk_threshold_bytes = 8
        self.repo = icechunk.Repository.create(self.storage, config=config)
        self.session = self.repo.writable_session("main")
        self.model = MemoryStore()
        self.committed: dict[str, bytes] = {}
        self.committed_snapshot = self.repo.lookup_branch("main")
        self.commits = 0

    @property
    def store(self) -> icechunk.IcechunkStore:
        return self.session.store

    # --- helpers ---------------------------------------------------------------------------

    def nodes(self, kind: str) -> list[str]:
        out = []
        for key, value in self.model._store_dict.items():
            is_metadata = key == "zarr.json" or key.endswith("/zarr.json")
            if is_metadata and json.loads(value.to_bytes())["node_type"] == kind:
                out.append(key[: -len("zarr.json")].rstrip("/"))
        return sorted(out)

    def both(self) -> list[Store]:
        return [self.model, self.store]

    @initialize()
    def init_root(self) -> None:
        for store in self.both():
            zarr.create_group(store=store, attributes={"root": True})
        self.commit("root group")

    # --- hierarchy -------------------------------------------------------------------------

    @rule(data=st.data(), name=NAMES)
    def add_group(self, data: st.DataObject, name: str) -> None:
        parent = data.draw(st.sampled_from(self.nodes("group")), label="parent")
        path = f"{parent}/{name}".lstrip("/")
        note(f"create_group {path!r} (overwrite)")
        for store in self.both():
            zarr.create_group(store=store, path=path, overwrite=True, attributes={"p": path})

    @rule(
        data=st.data(),
        name=NAMES,
        shape=npst.array_shapes(min_dims=1, max_dims=2, min_side=0, max_side=6),
        fill=st.integers(-5, 5),
    )
    def add_array(
        self, data: st.DataObject, name: str, shape: tuple[int, ...], fill: int
    ) -> None:
        parent = data.draw(st.sampled_from(self.nodes("group")), label="parent")
        path = f"{parent}/{name}".lstrip("/")
        chunks = tuple(data.draw(st.integers(1, 4), label="chunk") for _ in shape)
        values = data.draw(
            npst.arrays(DTYPE, shape, elements=st.integers(-100, 100)), label="values"
        )
        note(f"create_array {path!r} shape={shape} chunks={chunks} fill={fill}")
        for store in self.both():
            arr = zarr.create_array(
                store=store,
                name=path,
                shape=shape,
                chunks=chunks,
                dtype=DTYPE,
                fill_value=fill,
                compressors=None,
                overwrite=True,
            )
            arr[...] = values

    @precondition(lambda self: bool(self.nodes("array")))
    @rule(data=st.data())
    def write_region(self, data: st.DataObject) -> None:
        path = data.draw(st.sampled_from(self.nodes("array")), label="array")
        shape = zarr.open_array(store=self.model, path=path).shape
        selection = tuple(
            slice(lo, lo + n)
            for side in shape
            for lo in [data.draw(st.integers(0, side), label="lo")]
            for n in [data.draw(st.integers(0, side - lo), label="n")]
        )
        size = tuple(s.stop - s.start for s in selection)
        values = data.draw(npst.arrays(DTYPE, size, elements=st.integers(-100, 100)))
        note(f"write {path!r}[{selection}]")
        for store in self.both():
            zarr.open_array(store=store, path=path)[selection] = values

    @precondition(lambda self: bool(self.nodes("array")))
    @rule(data=st.data())
    def resize(self, data: st.DataObject) -> None:
        path = data.draw(st.sampled_from(self.nodes("array")), label="array")
        ndim = zarr.open_array(store=self.model, path=path).ndim
        new_shape = tuple(data.draw(st.integers(0, 7), label="side") for _ in range(ndim))
        note(f"resize {path!r} to {new_shape}")
        for store in self.both():
            zarr.open_array(store=store, path=path).resize(new_shape)

    @precondition(lambda self: bool(self.nodes("array") + self.nodes("group")[1:]))
    @rule(data=st.data(), value=st.integers(0, 3))
    def set_attribute(self, data: st.DataObject, value: int) -> None:
        path = data.draw(st.sampled_from(self.nodes("array") + self.nodes("group")))
        note(f"attrs of {path!r} = {value}")
        for store in self.both():
            zarr.open(store=store, path=path, mode="r+").attrs["v"] = value

    @precondition(lambda self: len(self.nodes("group")) + len(self.nodes("array")) > 1)
    @rule(data=st.data())
    def delete_node(self, data: st.DataObject) -> None:
        candidates = [p for p in self.nodes("group") + self.nodes("array") if p]
        path = data.draw(st.sampled_from(sorted(candidates)), label="node")
        parent, _, name = path.rpartition("/")
        note(f"del {parent!r}[{name!r}]")
        for store in self.both():
            del zarr.open_group(store=store, path=parent)[name]

    def chunk_keys(self) -> list[str]:
        """Existing chunk keys (the root is always a group, so chunks are below ``x/c/``)."""
        arrays = set(self.nodes("array"))
        return sorted(
            key
            for key in self.model._store_dict
            if "/c/" in key and key.rpartition("/c/")[0] in arrays
        )

    @precondition(lambda self: bool(self.chunk_keys()))
    @rule(data=st.data())
    def delete_chunk(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(self.chunk_keys()), label="chunk")
        note(f"delete chunk {key!r}")
        for store in self.both():
            sync(store.delete(key))

    # --- transactions ----------------------------------------------------------------------

    @precondition(lambda self: self.session.has_uncommitted_changes)
    @rule(message=st.sampled_from(["one", "two", "three"]))
    def commit(self, message: str) -> None:
        snapshot = self.session.commit(message)
        note(f"commit -> {snapshot}")
        assert self.session.read_only
        assert self.repo.lookup_branch("main") == snapshot
        self.committed = dump(self.model)
        self.committed_snapshot = snapshot
        self.commits += 1
        self.session = self.repo.writable_session("main")
        assert self.session.snapshot_id == snapshot
        assert not self.session.has_uncommitted_changes
        with pytest.raises(NoChangesToCommitError):
            self.session.commit("nothing changed")

    @precondition(lambda self: self.session.has_uncommitted_changes)
    @rule(how=st.sampled_from(["discard_changes", "new session"]))
    def drop_changes(self, how: str) -> None:
        note(how)
        if how == "discard_changes":
            self.session.discard_changes()
            assert not self.session.has_uncommitted_changes
        else:
            self.session = self.repo.writable_session("main")
        self.model = _model_from(self.committed)

    # --- invariants ------------------------------------------------------------------------

    @invariant()
    def store_matches_model(self) -> None:
        assert dump(self.store) == dump(self.model)

    @invariant()
    def zarr_view_matches_model(self) -> None:
        if "zarr.json" not in self.model._store_dict:
            return
        assert hierarchy(self.store) == hierarchy(self.model)

    @invariant()
    def reopened_repository_shows_last_commit(self) -> None:
        repo = icechunk.Repository.open(self.storage)
        assert repo.lookup_branch("main") == self.committed_snapshot
        session = repo.readonly_session(branch="main")
        assert session.snapshot_id == self.committed_snapshot
        assert dump(session.store) == self.committed
        if self.committed:
            assert hierarchy(session.store) == hierarchy(_model_from(self.committed))
        history = list(repo.ancestry(branch="main"))
        assert len(history) == self.commits + 1


def _run(make_storage: Callable[[], icechunk.Storage]) -> None:
    machine = type("Machine", (CommitStateMachine,), {"make_storage": staticmethod(make_storage)})
    run_state_machine_as_test(machine, settings=SETTINGS)


def test_commits_in_memory() -> None:
    _run(icechunk.in_memory_storage)


def test_commits_local(tmp_path: Path) -> None:
    counter = iter(range(10**9))
    _run(lambda: icechunk.local_filesystem_storage(str(tmp_path / f"repo{next(counter)}")))

"""A state machine over version control: branches, tags, commits, forks and rebases.

Every operation goes to a real ``Repository`` and to a small in-memory model of version
control: snapshots (id, parent, message, data), branches, live tags and the names of deleted
tags, and the one writable session the machine holds (its branch, base snapshot, staged data and
the chunks it touched). After every step the repository must show the model's refs, every
branch's and tag's ancestry must be the model's chain of snapshots down to the initial one,
and the writable session must read exactly the model's staged data. Every snapshot the model
knows is read back when a run ends.

The data is a small hierarchy of groups and 1-d ``int16`` arrays of 3 chunks, written with
zarr. A conflicting commit opens a second writable session on the same branch, commits from
it, then commits the machine's session with a conflict solver: the model predicts which chunks
conflict and so whether the rebase fails or which side wins.

Only the public API is used (exceptions as ``icechunk.IcechunkError`` / ``ValueError``), so the
file also runs against upstream Icechunk.
"""

from __future__ import annotations

import itertools
import pickle
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
import numpy as np
import pytest
import zarr
import zarr.errors
from hypothesis import note, settings
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

import icechunk
from icechunk._exceptions import ChunkWriteConflictError

SETTINGS = settings(max_examples=25, stateful_step_count=25)

INITIAL_ID = "1CECHNKREP0F1RSTCMT0"
INITIAL_MESSAGE = "Repository initialized"

SHAPE = 6
CHUNK = 2
N_CHUNKS = SHAPE // CHUNK
DTYPE = "int16"

# Node paths ("" is the root group); a path can hold a group or an array.
PATHS = ["", "a", "b", "g", "g/a", "g/h", "g/h/a"]
BRANCHES = ["main", "dev", "feature"]
TAGS = ["v1", "v2", "v3", "v4"]
SOLVERS = ["detector", "fail", "ours", "theirs"]

MESSAGES = st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), max_size=12)
VALUES = st.integers(-50, 50)

# A node of the model: (kind, node number, values); kind "group" (values None) or "array".
Node = tuple[str, int, tuple[int, ...] | None]
Tree = dict[str, Node]


def _parent(path: str) -> str:
    return path.rsplit("/", 1)[0] if "/" in path else ""


def _name(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def plain(tree: Tree) -> dict[str, Any]:
    """What the data looks like from outside: paths, kinds and array values."""
    return {
        p: ("group",) if kind == "group" else ("array", vals) for p, (kind, _, vals) in tree.items()
    }


def read_tree(store: icechunk.IcechunkStore) -> dict[str, Any]:
    """Everything zarr sees in ``store``, in the shape of :func:`plain`."""
    try:
        root = zarr.open_group(store, mode="r")
    except zarr.errors.GroupNotFoundError:
        return {}
    out: dict[str, Any] = {"": ("group",)}
    for path, obj in root.members(max_depth=None):
        if isinstance(obj, zarr.Array):
            out[path] = ("array", tuple(int(v) for v in obj[:].tolist()))
        else:
            out[path] = ("group",)
    return out


def chunks_of(start: int, stop: int) -> set[int]:
    return set(range(start // CHUNK, (stop - 1) // CHUNK + 1))


class Snap:
    def __init__(self, parent: str | None, message: str, tree: Tree):
        self.parent = parent
        self.message = message
        self.tree = tree


class VersionControlMachine(RuleBasedStateMachine):
    make_storage: Callable[[], icechunk.Storage]

    def __init__(self) -> None:
        super().__init__()
        self.snaps: dict[str, Snap] = {}
        self.branches: dict[str, str] = {}
        self.tags: dict[str, str] = {}
        self.deleted_tags: set[str] = set()
        self.nid = itertools.count()
        # the writable session: branch, base snapshot, staged tree, touched (node, chunk)
        self.branch = "main"
        self.base = INITIAL_ID
        self.pending: Tree = {}
        self.touched: set[tuple[int, int]] = set()

    # --- model helpers -------------------------------------------------------------------------

    @property
    def base_tree(self) -> Tree:
        return self.snaps[self.base].tree

    @property
    def dirty(self) -> bool:
        base_ids = {n[1] for n in self.base_tree.values()}
        ids = {n[1] for n in self.pending.values()}
        return base_ids != ids or any(nid in ids for nid, _ in self.touched)

    def arrays(self, tree: Tree) -> list[str]:
        return sorted(p for p, n in tree.items() if n[0] == "array")

    def creatable(self) -> list[str]:
        return [
            p
            for p in PATHS
            if p not in self.pending
            and (p == "" or self.pending.get(_parent(p), ("array",))[0] == "group")
        ]

    def chain(self, snapshot_id: str) -> list[tuple[str, str | None, str]]:
        out = []
        current: str | None = snapshot_id
        while current is not None:
            snap = self.snaps[current]
            out.append((current, snap.parent, snap.message))
            current = snap.parent
        return out

    def open_session(self, branch: str) -> None:
        self.session = self.repo.writable_session(branch)
        self.branch = branch
        self.base = self.branches[branch]
        self.pending = dict(self.base_tree)
        self.touched = set()

    def record(self, snapshot_id: str, parent: str, message: str, tree: Tree) -> None:
        assert snapshot_id not in self.snaps
        self.snaps[snapshot_id] = Snap(parent, message, dict(tree))
        info = self.repo.lookup_snapshot(snapshot_id)
        assert (info.id, info.parent_id, info.message) == (snapshot_id, parent, message)
        got = read_tree(self.repo.readonly_session(snapshot_id=snapshot_id).store)
        assert got == plain(tree)

    def snapshot_ids(self) -> list[str]:
        # in creation order: the ids are random, so sorting them would make the choices of
        # hypothesis mean different snapshots from one run to the next
        return list(self.snaps)

    # --- data operations, applied to a store and a tree ------------------------------------------

    @staticmethod
    def write(
        store: icechunk.IcechunkStore,
        tree: Tree,
        touched: set[tuple[int, int]],
        path: str,
        start: int,
        values: list[int],
    ) -> None:
        stop = start + len(values)
        zarr.open_array(store, path=path)[start:stop] = np.asarray(values, dtype=DTYPE)
        kind, nid, old = tree[path]
        assert old is not None
        tree[path] = (kind, nid, old[:start] + tuple(values) + old[stop:])
        touched.update((nid, c) for c in chunks_of(start, stop))

    def draw_write(
        self,
        data: st.DataObject,
        store: icechunk.IcechunkStore,
        tree: Tree,
        touched: set[tuple[int, int]],
    ) -> None:
        path = data.draw(st.sampled_from(self.arrays(tree)), label="array")
        start = data.draw(st.integers(0, SHAPE - 1), label="start")
        values = data.draw(st.lists(VALUES, min_size=1, max_size=SHAPE - start), label="values")
        self.write(store, tree, touched, path, start, values)

    def delete_path(self, store: icechunk.IcechunkStore, tree: Tree, path: str) -> None:
        del zarr.open_group(store, path=_parent(path))[_name(path)]
        for p in [p for p in tree if p == path or p.startswith(path + "/")]:
            del tree[p]

    # --- lifecycle -------------------------------------------------------------------------------

    @initialize()
    def init(self) -> None:
        self.storage = type(self).make_storage()
        self.repo = icechunk.Repository.create(self.storage)
        self.snaps[INITIAL_ID] = Snap(None, INITIAL_MESSAGE, {})
        self.branches["main"] = INITIAL_ID
        self.open_session("main")
        # a first commit with a few nodes, so that most steps have arrays to work on
        root = zarr.group(self.session.store)
        self.pending[""] = ("group", next(self.nid), None)
        for path in ("a", "g", "g/a"):
            if path == "g":
                root.create_group(path)
                self.pending[path] = ("group", next(self.nid), None)
            else:
                root.create_array(path, shape=(SHAPE,), chunks=(CHUNK,), dtype=DTYPE, fill_value=0)
                self.pending[path] = ("array", next(self.nid), (0,) * SHAPE)
        self.write(self.session.store, self.pending, self.touched, "a", 0, [1] * SHAPE)
        self.commit("first commit")

    def teardown(self) -> None:
        if not hasattr(self, "repo"):
            return
        reopened = icechunk.Repository.open(self.storage)
        assert reopened.list_branches() == set(self.branches)
        assert reopened.list_tags() == set(self.tags)
        for snapshot_id, snap in self.snaps.items():
            session = reopened.readonly_session(snapshot_id=snapshot_id)
            assert session.snapshot_id == snapshot_id
            assert read_tree(session.store) == plain(snap.tree), snapshot_id

    # --- writes in the session -------------------------------------------------------------------

    @precondition(lambda self: bool(self.arrays(self.pending)))
    @rule(data=st.data())
    def write_data(self, data: st.DataObject) -> None:
        self.draw_write(data, self.session.store, self.pending, self.touched)

    @precondition(lambda self: bool(self.creatable()))
    @rule(data=st.data(), kind=st.sampled_from(["group", "array"]))
    def create_node(self, data: st.DataObject, kind: str) -> None:
        path = data.draw(st.sampled_from(self.creatable()), label="path")
        if path == "":
            zarr.group(self.session.store)
            kind = "group"
        else:
            parent = zarr.open_group(self.session.store, path=_parent(path))
            if kind == "group":
                parent.create_group(_name(path))
            else:
                parent.create_array(
                    _name(path), shape=(SHAPE,), chunks=(CHUNK,), dtype=DTYPE, fill_value=0
                )
        self.pending[path] = (kind, next(self.nid), None if kind == "group" else (0,) * SHAPE)

    @precondition(lambda self: len(self.pending) > 1)
    @rule(data=st.data())
    def delete_node(self, data: st.DataObject) -> None:
        path = data.draw(st.sampled_from(sorted(p for p in self.pending if p)), label="path")
        self.delete_path(self.session.store, self.pending, path)

    @rule()
    def discard(self) -> None:
        self.session.discard_changes()
        self.pending = dict(self.base_tree)
        self.touched = set()

    # --- commits ---------------------------------------------------------------------------------

    @rule(message=MESSAGES)
    def commit(self, message: str) -> None:
        if self.branch not in self.branches:
            # the branch was deleted under the session
            with pytest.raises(icechunk.IcechunkError):
                self.session.commit(message)
            self.open_session("main")
        elif not self.dirty:
            with pytest.raises(icechunk.IcechunkError, match="(?i)no changes"):
                self.session.commit(message)
        elif self.base != self.branches[self.branch]:
            with pytest.raises(icechunk.ConflictError):
                self.session.commit(message)
            self.open_session(self.branch)
        else:
            snapshot_id = self.session.commit(message)
            assert self.session.read_only
            self.record(snapshot_id, self.base, message, self.pending)
            self.branches[self.branch] = snapshot_id
            self.open_session(self.branch)

    @rule(message=MESSAGES)
    def flush(self, message: str) -> None:
        if not self.dirty:
            with pytest.raises(icechunk.IcechunkError, match="(?i)no changes"):
                self.session.flush(message)
            return
        snapshot_id = self.session.flush(message)
        self.record(snapshot_id, self.base, message, self.pending)
        # flushing moves no branch
        self.open_session(self.branch if self.branch in self.branches else "main")

    # --- branches and tags -------------------------------------------------------------------------

    @rule(name=st.sampled_from(BRANCHES), data=st.data())
    def create_branch(self, name: str, data: st.DataObject) -> None:
        target = data.draw(st.sampled_from(self.snapshot_ids()), label="target")
        if name in self.branches:
            with pytest.raises(icechunk.IcechunkError):
                self.repo.create_branch(name, target)
        else:
            self.repo.create_branch(name, target)
            self.branches[name] = target

    @rule(name=st.sampled_from(BRANCHES))
    def delete_branch(self, name: str) -> None:
        if name == "main" or name not in self.branches:
            with pytest.raises(icechunk.IcechunkError):
                self.repo.delete_branch(name)
        else:
            self.repo.delete_branch(name)
            del self.branches[name]

    @rule(
        name=st.sampled_from(BRANCHES),
        data=st.data(),
        guard=st.sampled_from(["none", "right", "wrong"]),
    )
    def reset_branch(self, name: str, data: st.DataObject, guard: str) -> None:
        target = data.draw(st.sampled_from(self.snapshot_ids()), label="target")
        if name not in self.branches:
            with pytest.raises(icechunk.IcechunkError):
                self.repo.reset_branch(name, target)
            return
        tip = self.branches[name]
        if guard == "wrong":
            others = [s for s in self.snapshot_ids() if s != tip]
            if not others:
                return
            wrong = data.draw(st.sampled_from(others), label="wrong from")
            with pytest.raises(icechunk.IcechunkError):
                self.repo.reset_branch(name, target, from_snapshot_id=wrong)
            return
        self.repo.reset_branch(name, target, from_snapshot_id=tip if guard == "right" else None)
        self.branches[name] = target

    @rule(name=st.sampled_from(TAGS), data=st.data())
    def create_tag(self, name: str, data: st.DataObject) -> None:
        target = data.draw(st.sampled_from(self.snapshot_ids()), label="target")
        if name in self.tags or name in self.deleted_tags:
            with pytest.raises(icechunk.IcechunkError):
                self.repo.create_tag(name, target)
        else:
            self.repo.create_tag(name, target)
            self.tags[name] = target

    @rule(name=st.sampled_from(TAGS))
    def delete_tag(self, name: str) -> None:
        if name not in self.tags:
            with pytest.raises(icechunk.IcechunkError):
                self.repo.delete_tag(name)
        else:
            self.repo.delete_tag(name)
            self.deleted_tags.add(name)
            del self.tags[name]

    # --- sessions ----------------------------------------------------------------------------------

    @rule(data=st.data(), how=st.sampled_from(["branch", "tag", "snapshot"]))
    def checkout_readonly(self, data: st.DataObject, how: str) -> None:
        if how == "branch":
            name = data.draw(st.sampled_from(sorted(self.branches)), label="branch")
            session, expected = self.repo.readonly_session(branch=name), self.branches[name]
        elif how == "tag" and self.tags:
            name = data.draw(st.sampled_from(sorted(self.tags)), label="tag")
            session, expected = self.repo.readonly_session(tag=name), self.tags[name]
        else:
            expected = data.draw(st.sampled_from(self.snapshot_ids()), label="snapshot")
            session = self.repo.readonly_session(snapshot_id=expected)
        assert session.read_only
        assert session.snapshot_id == expected
        assert read_tree(session.store) == plain(self.snaps[expected].tree)

    @rule(name=st.sampled_from(BRANCHES))
    def switch_branch(self, name: str) -> None:
        if name not in self.branches:
            with pytest.raises(icechunk.IcechunkError):
                self.repo.writable_session(name)
            return
        self.open_session(name)

    @precondition(lambda self: bool(self.arrays(self.pending)))
    @rule(data=st.data(), n_forks=st.integers(1, 2))
    def fork_and_merge(self, data: st.DataObject, n_forks: int) -> None:
        if self.dirty:
            with pytest.raises(ValueError):
                self.session.fork()
            return
        fork = self.session.fork()
        shipped = pickle.dumps(fork)
        merged = dict(self.pending)
        written: dict[tuple[Any, int], Any] = {}  # chunk -> values, by the forks merged so far
        for i in range(n_forks):
            worker = pickle.loads(shipped)
            tree, touched = dict(self.pending), set()
            for _ in range(data.draw(st.integers(1, 2), label=f"writes in fork {i}")):
                self.draw_write(data, worker.store, tree, touched)
            back = pickle.loads(pickle.dumps(worker))
            values = {}
            for nid, c in touched:
                path = next(p for p, n in tree.items() if n[1] == nid)
                new = tree[path][2]
                assert new is not None
                values[(nid, c)] = (path, new[c * CHUNK : (c + 1) * CHUNK])
            if any(k in written and written[k] != v[1] for k, v in values.items()):
                # two forks wrote one chunk differently: refused, nothing of this fork merged
                with pytest.raises(ChunkWriteConflictError):
                    self.session.merge(back)
                continue
            self.session.merge(back)
            for (nid, c), (path, chunk_values) in values.items():
                kind, _, vals = merged[path]
                assert vals is not None
                merged[path] = (
                    kind,
                    nid,
                    vals[: c * CHUNK] + chunk_values + vals[(c + 1) * CHUNK :],
                )
                written[(nid, c)] = chunk_values
            self.touched |= touched
        self.pending = merged

    @precondition(
        lambda self: (
            self.branch in self.branches
            and self.base == self.branches[self.branch]
            and {n[1] for n in self.pending.values()} == {n[1] for n in self.base_tree.values()}
            and bool(self.arrays(self.pending))
        )
    )
    @rule(data=st.data(), solver=st.sampled_from(SOLVERS), their_message=MESSAGES, message=MESSAGES)
    def conflicting_commit(
        self, data: st.DataObject, solver: str, their_message: str, message: str
    ) -> None:
        """Another session commits first; ours commits with a solver and rebases."""
        other = self.repo.writable_session(self.branch)
        theirs, their_touched = dict(self.base_tree), set()
        for _ in range(data.draw(st.integers(1, 3), label="their writes")):
            self.draw_write(data, other.store, theirs, their_touched)
        if data.draw(st.integers(0, 3), label="they delete a node") == 0:
            path = data.draw(st.sampled_from(sorted(p for p in theirs if p)), label="their delete")
            self.delete_path(other.store, theirs, path)
        free = [p for p in ("x", "y") if p not in theirs and "" in theirs]
        if free and data.draw(st.booleans(), label="they create a group"):
            zarr.open_group(other.store).create_group(free[0])
            theirs[free[0]] = ("group", next(self.nid), None)
        their_id = other.commit(their_message)
        self.record(their_id, self.base, their_message, theirs)
        self.branches[self.branch] = their_id

        for _ in range(data.draw(st.integers(1, 2), label="our writes")):
            self.draw_write(data, self.session.store, self.pending, self.touched)

        their_ids = {n[1] for n in theirs.values()}

        def conflicts() -> tuple[set[tuple[int, int]], set[tuple[int, int]], set[tuple[int, int]]]:
            ids = {n[1] for n in self.pending.values()}
            live = {(nid, c) for nid, c in self.touched if nid in ids}
            hard = {(nid, c) for nid, c in live if nid not in their_ids}
            return live, hard, (live - hard) & their_touched

        live, hard, double = conflicts()
        if solver == "theirs" and not hard and double == live:
            # UseTheirs would drop every change of ours, which hits a known bug (see
            # test_use_theirs_dropping_every_change): write one more chunk they did not touch
            spare = [
                (p, c)
                for p in self.arrays(self.pending)
                for c in range(N_CHUNKS)
                if self.pending[p][1] in their_ids and (self.pending[p][1], c) not in their_touched
            ]
            if spare:
                path, c = data.draw(st.sampled_from(spare), label="spare chunk")
                value = data.draw(VALUES, label="spare value")
                self.write(self.session.store, self.pending, self.touched, path, c * CHUNK, [value])
                live, hard, double = conflicts()
            else:
                solver = "ours"
        rebase_with = {
            "detector": icechunk.ConflictDetector(),
            "fail": icechunk.BasicConflictSolver(on_chunk_conflict=icechunk.VersionSelection.Fail),
            "ours": icechunk.BasicConflictSolver(
                on_chunk_conflict=icechunk.VersionSelection.UseOurs
            ),
            "theirs": icechunk.BasicConflictSolver(
                on_chunk_conflict=icechunk.VersionSelection.UseTheirs
            ),
        }[solver]
        note(f"solver={solver} hard={sorted(hard)} double={sorted(double)}")
        if hard or (double and solver in ("detector", "fail")):
            with pytest.raises(icechunk.RebaseFailedError):
                self.session.commit(message, rebase_with=rebase_with)
            assert self.session.snapshot_id == self.base
            return

        expected = dict(theirs)
        by_id = {n[1]: p for p, n in self.pending.items()}
        for nid, c in sorted(live):
            if (nid, c) in double and solver == "theirs":
                continue
            path = by_id[nid]
            kind, _, vals = expected[path]
            ours = self.pending[path][2]
            assert vals is not None and ours is not None
            expected[path] = (
                kind,
                nid,
                vals[: c * CHUNK] + ours[c * CHUNK : (c + 1) * CHUNK] + vals[(c + 1) * CHUNK :],
            )
        snapshot_id = self.session.commit(message, rebase_with=rebase_with)
        self.record(snapshot_id, their_id, message, expected)
        self.branches[self.branch] = snapshot_id
        self.open_session(self.branch)

    # --- invariants --------------------------------------------------------------------------------

    @invariant()
    def refs_match(self) -> None:
        if not hasattr(self, "repo"):
            return
        assert self.repo.list_branches() == set(self.branches)
        assert self.repo.list_tags() == set(self.tags)
        for name, target in self.branches.items():
            assert self.repo.lookup_branch(name) == target
        for name, target in self.tags.items():
            assert self.repo.lookup_tag(name) == target

    @invariant()
    def ancestry_matches(self) -> None:
        if not hasattr(self, "repo"):
            return
        refs = [{"branch": b} for b in self.branches] + [{"tag": t} for t in self.tags]
        for ref in refs:
            target = self.branches[ref["branch"]] if "branch" in ref else self.tags[ref["tag"]]
            history = list(self.repo.ancestry(**ref))
            got = [(h.id, h.parent_id, h.message) for h in history]
            assert got == self.chain(target), ref
            assert got[-1] == (INITIAL_ID, None, INITIAL_MESSAGE)
            for child, parent in itertools.pairwise(history):
                assert child.parent_id == parent.id
                assert child.written_at >= parent.written_at

    @invariant()
    def session_matches(self) -> None:
        if not hasattr(self, "repo"):
            return
        assert not self.session.read_only
        assert self.session.snapshot_id == self.base
        assert self.session.has_uncommitted_changes == self.dirty
        assert read_tree(self.session.store) == plain(self.pending)


def _run(make_storage: Callable[[], icechunk.Storage]) -> None:
    machine = type(
        "Machine", (VersionControlMachine,), {"make_storage": staticmethod(make_storage)}
    )
    run_state_machine_as_test(machine, settings=SETTINGS)


def test_version_control_in_memory() -> None:
    _run(icechunk.in_memory_storage)


def test_version_control_local(tmp_path: Path) -> None:
    _run(lambda: icechunk.local_filesystem_storage(tempfile.mkdtemp(dir=tmp_path)))


# --- divergences from upstream found by the machine ------------------------------------------------


def _one_array_repo() -> icechunk.Repository:
    repo = icechunk.Repository.create(icechunk.in_memory_storage())
    session = repo.writable_session("main")
    root = zarr.group(session.store)
    root.create_array("a", shape=(4,), chunks=(2,), dtype=DTYPE, fill_value=0)[:] = 1
    session.commit("base")
    return repo


def test_use_theirs_dropping_every_change() -> None:
    repo = _one_array_repo()
    ours = repo.writable_session("main")
    theirs = repo.writable_session("main")
    zarr.open_array(theirs.store, path="a")[0] = 5
    zarr.open_array(ours.store, path="a")[1] = 7
    theirs.commit("theirs")
    solver = icechunk.BasicConflictSolver(on_chunk_conflict=icechunk.VersionSelection.UseTheirs)
    ours.commit("ours", rebase_with=solver)
    assert [h.message for h in repo.ancestry(branch="main")][:3] == ["ours", "theirs", "base"]
    assert zarr.open_array(repo.readonly_session("main").store, path="a")[:].tolist() == [
        5,
        1,
        1,
        1,
    ]


def test_commit_to_deleted_branch_is_a_conflict() -> None:
    repo = _one_array_repo()
    repo.create_branch("dev", repo.lookup_branch("main"))
    session = repo.writable_session("dev")
    zarr.open_array(session.store, path="a")[0] = 2
    repo.delete_branch("dev")
    with pytest.raises(icechunk.ConflictError):
        session.commit("to nowhere")


def test_failed_rebase_leaves_the_session_intact() -> None:
    """A rebase that fails changes nothing in the session, even what the solver settled."""
    repo = _one_array_repo()
    session = repo.writable_session("main")
    zarr.open_group(session.store).create_array(
        "b", shape=(4,), chunks=(2,), dtype=DTYPE, fill_value=0
    )[:] = 1
    session.commit("b")
    ours = repo.writable_session("main")
    theirs = repo.writable_session("main")
    zarr.open_array(theirs.store, path="a")[0] = 5
    del zarr.open_group(theirs.store)["b"]
    zarr.open_array(ours.store, path="a")[1] = 7
    zarr.open_array(ours.store, path="b")[0] = 7
    theirs.commit("theirs")
    solver = icechunk.BasicConflictSolver(on_chunk_conflict=icechunk.VersionSelection.UseTheirs)
    with pytest.raises(icechunk.RebaseFailedError):
        ours.rebase(solver)
    assert zarr.open_array(ours.store, path="a")[:].tolist() == [1, 7, 1, 1]
    assert ours.status().updated_chunks == {"/a": [[0]], "/b": [[0]]}


def test_rebase_failure_lists_every_conflict() -> None:
    repo = _one_array_repo()
    ours = repo.writable_session("main")
    theirs = repo.writable_session("main")
    zarr.open_array(theirs.store, path="a")[0] = 5
    zarr.open_group(theirs.store).attrs["x"] = 1
    zarr.open_array(ours.store, path="a")[1] = 7
    zarr.open_group(ours.store).attrs["x"] = 2
    theirs.commit("theirs")
    with pytest.raises(icechunk.RebaseFailedError) as info:
        ours.rebase(icechunk.BasicConflictSolver())
    assert sorted(str(c.conflict_type) for c in info.value.conflicts) == sorted(
        str(t)
        for t in (
            icechunk.ConflictType.ChunkDoubleUpdate,
            icechunk.ConflictType.ZarrMetadataDoubleUpdate,
        )
    )

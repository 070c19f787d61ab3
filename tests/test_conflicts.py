"""Conflict detection between a change set and one commit, and the solvers' verdicts
(``icechunk._conflicts``), on hand-built change sets and transaction logs."""

from __future__ import annotations

from icechunk._change_set import ArrayDefinition, ChangeSet
from icechunk._conflicts import (
    BasicConflictSolver,
    Conflict,
    ConflictDetector,
    ConflictType,
    VersionSelection,
    detect_conflicts,
)
from icechunk._format.manifest import InlineChunk
from icechunk._format.snapshot import ArrayNodeData, DimensionShape, NodeSnapshot
from icechunk._format.transaction_log import TransactionLog

GROUP, ARRAY, OTHER = b"g" * 8, b"a" * 8, b"o" * 8
BASE_PATHS = {GROUP: "/g", ARRAY: "/g/a", OTHER: "/o"}
BASE_PATHS_BY_PATH = {path: node_id for node_id, path in BASE_PATHS.items()}
SHAPE = (DimensionShape(4, 2),)
DEFINITION = ArrayDefinition(b"{}", SHAPE, None)


def _array(node_id: bytes, path: str) -> NodeSnapshot:
    return NodeSnapshot(node_id, path, b"{}", ArrayNodeData(SHAPE, None, ()))


def _their_nodes(*nodes: NodeSnapshot) -> dict[str, NodeSnapshot]:
    base = {"/g": NodeSnapshot(GROUP, "/g", b"{}"), "/g/a": _array(ARRAY, "/g/a")}
    return base | {n.path: n for n in nodes}


def _kinds(conflicts: list[Conflict]) -> list[tuple[ConflictType, str]]:
    return [(c.conflict_type, c.path) for c in conflicts]


def test_no_overlap_is_no_conflict() -> None:
    ours = ChangeSet()
    ours.set_chunk(ARRAY, (0,), InlineChunk(b"x"))
    theirs = TransactionLog(b"s" * 12, updated_chunks={ARRAY: frozenset({(1,)})})
    assert detect_conflicts(ours, theirs, _their_nodes(), BASE_PATHS) == []


def test_same_chunk_written_on_both_sides() -> None:
    ours = ChangeSet()
    ours.set_chunk(ARRAY, (0,), InlineChunk(b"x"))
    ours.set_chunk(ARRAY, (1,), InlineChunk(b"y"))
    theirs = TransactionLog(b"s" * 12, updated_chunks={ARRAY: frozenset({(1,), (0,)})})
    [conflict] = detect_conflicts(ours, theirs, _their_nodes(), BASE_PATHS)
    assert conflict == Conflict(ConflictType.ChunkDoubleUpdate, "/g/a", [[0], [1]])
    assert str(conflict) == "ChunkDoubleUpdate at /g/a chunks [[0], [1]]"


def test_new_node_where_they_made_one_and_under_an_array() -> None:
    theirs_new = NodeSnapshot(b"n" * 8, "/new", b"{}")
    ours = ChangeSet()
    ours.add_group("/new", b"m" * 8, b"{}")
    ours.add_group("/g/a/child", b"c" * 8, b"{}")  # below their array
    theirs = TransactionLog(b"s" * 12, new_groups=frozenset({b"n" * 8}))
    found = detect_conflicts(ours, theirs, _their_nodes(theirs_new), BASE_PATHS)
    assert _kinds(found) == [
        (ConflictType.NewNodeConflictsWithExistingNode, "/new"),
        (ConflictType.NewNodeInInvalidGroup, "/g/a"),
    ]


def test_new_node_in_a_group_they_deleted() -> None:
    ours = ChangeSet()
    ours.add_array("/o/x", b"x" * 8, DEFINITION)
    theirs = TransactionLog(b"s" * 12, deleted_groups=frozenset({OTHER}))
    found = detect_conflicts(ours, theirs, _their_nodes(), BASE_PATHS)
    assert _kinds(found) == [(ConflictType.NewNodeInInvalidGroup, "/o")]


def test_metadata_and_chunks_against_their_updates_and_deletes() -> None:
    ours = ChangeSet()
    ours.update_array("/g/a", ARRAY, DEFINITION)
    ours.update_group("/g", GROUP, b"{}")
    ours.set_chunk(ARRAY, (0,), InlineChunk(b"x"))
    theirs = TransactionLog(
        b"s" * 12, updated_arrays=frozenset({ARRAY}), deleted_groups=frozenset({GROUP})
    )
    found = detect_conflicts(ours, theirs, _their_nodes(), BASE_PATHS)
    assert _kinds(found) == [
        (ConflictType.ZarrMetadataDoubleUpdate, "/g/a"),
        (ConflictType.ZarrMetadataUpdateOfDeletedGroup, "/g"),
        (ConflictType.ChunksUpdatedInUpdatedArray, "/g/a"),
    ]


def test_our_deletes_of_what_they_updated() -> None:
    ours = ChangeSet()
    ours.delete_array("/g/a", ARRAY)
    ours.delete_group("/o", OTHER)
    theirs = TransactionLog(
        b"s" * 12,
        updated_chunks={ARRAY: frozenset({(0,)})},
        updated_groups=frozenset({OTHER}),
    )
    found = detect_conflicts(ours, theirs, _their_nodes(), BASE_PATHS)
    assert _kinds(found) == [
        (ConflictType.DeleteOfUpdatedArray, "/g/a"),
        (ConflictType.DeleteOfUpdatedGroup, "/o"),
    ]


def _double_update() -> tuple[ChangeSet, list[Conflict]]:
    ours = ChangeSet()
    ours.set_chunk(ARRAY, (0,), InlineChunk(b"ours"))
    ours.set_chunk(ARRAY, (1,), InlineChunk(b"only ours"))
    return ours, [Conflict(ConflictType.ChunkDoubleUpdate, "/g/a", [[0]])]


def test_detector_leaves_every_conflict_unsolved() -> None:
    _, conflicts = _double_update()
    resolution = ConflictDetector()._resolve(conflicts, {"/g/a": ARRAY})
    assert resolution.unsolved == conflicts


def test_use_theirs_drops_only_our_conflicting_chunks() -> None:
    ours, conflicts = _double_update()
    solver = BasicConflictSolver(on_chunk_conflict=VersionSelection.UseTheirs)
    resolution = solver._resolve(conflicts, {"/g/a": ARRAY})
    assert resolution.unsolved == []
    resolution.apply(ours)
    assert ours.get_chunk(ARRAY, (0,)) == (False, None)
    assert ours.get_chunk(ARRAY, (1,)) == (True, InlineChunk(b"only ours"))


def test_use_ours_keeps_our_chunks_and_fail_fails() -> None:
    ours, conflicts = _double_update()
    keep = BasicConflictSolver(on_chunk_conflict=VersionSelection.UseOurs)
    resolution = keep._resolve(conflicts, {"/g/a": ARRAY})
    resolution.apply(ours)
    assert resolution.unsolved == []
    assert ours.get_chunk(ARRAY, (0,)) == (True, InlineChunk(b"ours"))
    fail = BasicConflictSolver(on_chunk_conflict=VersionSelection.Fail)
    assert fail._resolve(conflicts, {"/g/a": ARRAY}).unsolved == conflicts


def test_deletes_of_updated_nodes_win_unless_told_to_fail() -> None:
    conflicts = [
        Conflict(ConflictType.DeleteOfUpdatedArray, "/g/a"),
        Conflict(ConflictType.DeleteOfUpdatedGroup, "/o"),
        Conflict(ConflictType.ZarrMetadataDoubleUpdate, "/g"),
    ]
    lenient = BasicConflictSolver()._resolve(conflicts, BASE_PATHS_BY_PATH)
    assert lenient.unsolved == conflicts[2:]  # metadata conflicts are never solved
    strict = BasicConflictSolver(
        fail_on_delete_of_updated_array=True, fail_on_delete_of_updated_group=True
    )._resolve(conflicts, BASE_PATHS_BY_PATH)
    assert strict.unsolved == conflicts


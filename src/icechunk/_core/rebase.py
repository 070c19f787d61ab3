"""Rebase: replay a session's change set over the commits that landed on its branch."""

from __future__ import annotations

from .. import _refs
from .._conflicts import ConflictSolver, detect_conflicts
from .._exceptions import IcechunkError, RebaseFailedError, SessionError
from .._format.ids import encode_id
from .session import SessionCore


async def rebase_session(session: SessionCore, solver: ConflictSolver) -> None:
    """Move ``session`` onto its branch tip, one commit at a time, oldest first.

    Raises
    ------
    RebaseFailedError
        When ``solver`` leaves conflicts unsolved; the session stays based on the last
        commit it was rebased onto without conflict.
    """
    if session.read_only:
        raise SessionError("a read-only session cannot be rebased")
    if session.branch is None:
        raise SessionError("only a session on a branch can be rebased")
    tip_ref = await _refs.read_branch(session.assets.backend, session.branch)
    tip = tip_ref.snapshot_id
    pending = []
    current: bytes | None = tip
    while current is not None and current != session.snapshot_id:
        pending.append(current)
        current = (await session.assets.fetch_snapshot_header(current)).parent_id
    if current is None:
        raise IcechunkError(
            f"cannot rebase: the session's base {encode_id(session.snapshot_id)} is not an "
            f"ancestor of the tip of branch {session.branch!r} (was the branch reset?)"
        )
    for snapshot_id in reversed(pending):
        await _apply_commit(session, snapshot_id, solver)
    session.branch_version = tip_ref.version


async def _apply_commit(session: SessionCore, snapshot_id: bytes, solver: ConflictSolver) -> None:
    base = await session.base_snapshot()
    base_paths = {n.node_id: n.path for n in base.nodes}
    theirs = await session.assets.fetch_transaction_log(snapshot_id)
    their_snapshot = await session.assets.fetch_snapshot(snapshot_id)
    their_nodes = {n.path: n for n in their_snapshot.nodes}
    conflicts = detect_conflicts(session.change_set, theirs, their_nodes, base_paths)
    if conflicts:
        ids = {path: nid for nid, path in base_paths.items()}
        resolution = solver._resolve(conflicts, ids)
        if resolution.unsolved:
            raise RebaseFailedError(encode_id(snapshot_id), conflicts)
        resolution.apply(session.change_set)
    session.move_base(snapshot_id)

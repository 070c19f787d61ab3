"""Public value types describing history: ``SnapshotInfo`` and ``Diff``."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

from ._exceptions import InvalidCommitMetadataError
from ._format._coords import sorted_coord_lists
from ._format.ids import encode_id
from ._format.snapshot import ManifestFileInfo as _FormatManifestFileInfo
from ._format.snapshot import Snapshot, SnapshotHeader


@dataclass(frozen=True)
class ManifestFileInfo:
    """A manifest file a snapshot points to."""

    id: str
    size_bytes: int
    num_chunk_refs: int

    @classmethod
    def _from_format(cls, info: _FormatManifestFileInfo) -> ManifestFileInfo:
        return cls(encode_id(info.manifest_id), info.size_bytes, info.num_chunk_refs)


@dataclass(frozen=True)
class SnapshotInfo:
    """One commit of the history: id, parent, time, message and metadata."""

    id: str
    parent_id: str | None
    written_at: _dt.datetime
    message: str
    metadata: dict[str, Any] = field(default_factory=dict, hash=False)
    manifests: list[ManifestFileInfo] = field(default_factory=list, hash=False, repr=False)

    @classmethod
    def _from_snapshot(cls, snapshot: Snapshot | SnapshotHeader) -> SnapshotInfo:
        return cls(
            id=encode_id(snapshot.snapshot_id),
            parent_id=None if snapshot.parent_id is None else encode_id(snapshot.parent_id),
            written_at=_dt.datetime.fromtimestamp(snapshot.flushed_at / 1e6, tz=_dt.UTC).replace(
                microsecond=snapshot.flushed_at % 1_000_000
            ),
            message=snapshot.message,
            metadata=dict(snapshot.metadata),
            manifests=[ManifestFileInfo._from_format(m) for m in snapshot.manifest_files],
        )

    def _repr_html_(self) -> str:
        from ._display import snapshot_info_html

        return snapshot_info_html(self)


def check_commit_metadata(metadata: Any, where: str = "metadata") -> None:
    """Raise InvalidCommitMetadataError unless ``metadata`` is JSON: what a snapshot can hold.

    Dictionaries need string keys; values are None, bool, int, float, str, lists and dicts.
    """
    if metadata is None or isinstance(metadata, bool | int | float | str):
        return
    if isinstance(metadata, list | tuple):
        for i, value in enumerate(metadata):
            check_commit_metadata(value, f"{where}[{i}]")
        return
    if isinstance(metadata, dict):
        for key, value in metadata.items():
            if not isinstance(key, str):
                raise InvalidCommitMetadataError(
                    f"'{type(key).__name__}' object cannot be cast as a JSON object key: commit "
                    f"metadata keys must be strings ({where} has {key!r})"
                )
            check_commit_metadata(value, f"{where}[{key!r}]")
        return
    raise InvalidCommitMetadataError(
        f"'{type(metadata).__name__}' object cannot be cast as a JSON value: commit metadata "
        f"holds only None, bool, numbers, str, lists and dicts ({where} is {metadata!r}); "
        "convert it first, for example to a string"
    )


_SHOWN_CHUNKS = 10  # chunk indices a Diff's repr lists per array


class Diff:
    """The changes between two versions (or a session's uncommitted changes), by node path.

    ``updated_chunks`` maps each array path to its changed chunk indices, sorted; they are
    made into lists when the attribute is first read (a status of millions of changed chunks
    costs nothing until then).
    """

    def __init__(
        self,
        new_groups: AbstractSet[str] = frozenset(),
        new_arrays: AbstractSet[str] = frozenset(),
        deleted_groups: AbstractSet[str] = frozenset(),
        deleted_arrays: AbstractSet[str] = frozenset(),
        updated_groups: AbstractSet[str] = frozenset(),
        updated_arrays: AbstractSet[str] = frozenset(),
        updated_chunks: Mapping[str, Iterable[Sequence[int]]] | None = None,
    ) -> None:
        self.new_groups: set[str] = set(new_groups)
        self.new_arrays: set[str] = set(new_arrays)
        self.deleted_groups: set[str] = set(deleted_groups)
        self.deleted_arrays: set[str] = set(deleted_arrays)
        self.updated_groups: set[str] = set(updated_groups)
        self.updated_arrays: set[str] = set(updated_arrays)
        self._chunks = dict(updated_chunks or {})
        self._chunk_lists: dict[str, list[list[int]]] | None = None

    @property
    def updated_chunks(self) -> dict[str, list[list[int]]]:
        """Changed chunk indices per array path, in ascending order."""
        if self._chunk_lists is None:
            self._chunk_lists = {
                path: _index_lists(indices) for path, indices in self._chunks.items()
            }
        return self._chunk_lists

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Diff):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in _DIFF_FIELDS)

    __hash__ = None  # type: ignore[assignment]

    def is_empty(self) -> bool:
        """Whether nothing changed."""
        return not any(
            (
                self.new_groups,
                self.new_arrays,
                self.deleted_groups,
                self.deleted_arrays,
                self.updated_groups,
                self.updated_arrays,
                self.updated_chunks,
            )
        )

    def _repr_html_(self) -> str:
        from ._display import diff_html

        return diff_html(self)

    def __repr__(self) -> str:
        sections = (
            ("Groups created", self.new_groups),
            ("Arrays created", self.new_arrays),
            ("Group definitions updated", self.updated_groups),
            ("Array definitions updated", self.updated_arrays),
            ("Groups deleted", self.deleted_groups),
            ("Arrays deleted", self.deleted_arrays),
        )
        out = [
            f"{title}:\n" + "".join(f"    {path}\n" for path in sorted(paths)) + "\n"
            for title, paths in sections
            if paths
        ]
        if self.updated_chunks:
            out.append("Chunks updated:\n")
            for path, chunks in sorted(self.updated_chunks.items()):
                out.append(f"    {path}:\n")
                out += [f"        [{_join(c)}]\n" for c in sorted(chunks)[:_SHOWN_CHUNKS]]
                if len(chunks) > _SHOWN_CHUNKS:
                    out.append(f"        ... {len(chunks) - _SHOWN_CHUNKS} more\n")
        return "".join(out)


DIFF_PATH_FIELDS = (  # the Diff attributes that are sets of node paths
    "new_groups",
    "new_arrays",
    "deleted_groups",
    "deleted_arrays",
    "updated_groups",
    "updated_arrays",
)
_DIFF_FIELDS = (*DIFF_PATH_FIELDS, "updated_chunks")


def _index_lists(indices: Iterable[Sequence[int]]) -> list[list[int]]:
    """Chunk indices as sorted lists of ints (lists given as such are kept)."""
    if isinstance(indices, list) and all(isinstance(i, list) for i in indices):
        return indices
    if isinstance(indices, AbstractSet):
        return sorted_coord_lists(indices)
    return sorted(list(i) for i in indices)


def _join(index: list[int]) -> str:
    return ", ".join(str(int(i)) for i in index)

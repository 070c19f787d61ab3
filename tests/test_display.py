"""Notebook display: ``_repr_html_`` is well-formed (parses as XML) and shows the values."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest
import zarr

import icechunk


def parse(fragment: str) -> ET.Element:
    """The fragment as XML (fails on any unclosed tag or unescaped ``<``/``&``)."""
    return ET.fromstring(fragment)


def text(fragment: str) -> str:
    return " ".join(t.strip() for t in parse(fragment).itertext() if t.strip())


def cells(fragment: str) -> list[list[str]]:
    """The rows of every table (header and data cells)."""
    return [
        ["".join(c.itertext()) for c in row if c.tag in ("td", "th")]
        for row in parse(fragment).iter("tr")
    ]


class _Tags(HTMLParser):
    """Checks with the HTML parser too: every opened tag is closed, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack.pop() == tag, tag


def balanced(fragment: str) -> bool:
    checker = _Tags()
    checker.feed(fragment)
    checker.close()
    return not checker.stack


@pytest.fixture
def repo() -> icechunk.Repository:
    config = icechunk.RepositoryConfig.default()
    config.inline_chunk_threshold_bytes = 11
    repo = icechunk.Repository.create(icechunk.in_memory_storage(), config)
    s = repo.writable_session("main")
    root = zarr.group(s.store)
    root.create_array("a", shape=(6, 4), chunks=(2, 2), dtype="i4", fill_value=0)[:] = 1
    first = s.commit("first <b>bold</b> & co", metadata={"author": "ana & bo"})
    repo.create_branch("dev", first)
    repo.create_tag("v1", first)
    return repo


def test_repository_html(repo: icechunk.Repository) -> None:
    fragment = repo._repr_html_()
    assert balanced(fragment)
    rows = cells(fragment)
    assert ["main", repo.lookup_branch("main")] in rows
    assert ["dev", repo.lookup_branch("dev")] in rows
    assert ["v1", repo.lookup_tag("v1")] in rows
    assert ["inline_chunk_threshold_bytes", "11"] in rows
    assert "In-memory" in text(fragment) or "InMemory" in text(fragment)
    assert "Branches (2)" in text(fragment) and "Tags (1)" in text(fragment)


def test_session_html_and_repr_say_whether_dirty(repo: icechunk.Repository) -> None:
    session = repo.writable_session("main")
    base = session.snapshot_id
    clean = session._repr_html_()
    assert ["uncommitted changes", "none"] in cells(clean)
    assert ["mode", "writable"] in cells(clean) and ["base snapshot", base] in cells(clean)
    assert "uncommitted" not in repr(session)

    root = zarr.open_group(session.store)
    root["a"][0:2, 0:4] = 5
    root.create_group("g")
    dirty = session._repr_html_()
    assert balanced(dirty)
    assert ["uncommitted changes", "1 nodes, 2 chunks"] in cells(dirty)
    assert ["new", "group", "/g"] in cells(dirty)
    assert ["/a", "2", "[0, 0] [0, 1]"] in cells(dirty)
    assert "uncommitted changes" in repr(session)

    session.commit("more")
    assert "uncommitted" not in repr(session)
    readonly = repo.readonly_session(tag="v1")._repr_html_()
    assert ["mode", "read-only"] in cells(readonly) and ["branch", "(none)"] in cells(readonly)


def test_diff_html_tables(repo: icechunk.Repository) -> None:
    s = repo.writable_session("main")
    root = zarr.open_group(s.store)
    root["a"][:] = 2  # 6 chunks
    root["a"].attrs["units"] = "m"
    root.create_array("b", shape=(2,), chunks=(1,), dtype="f8", fill_value=0)
    s.commit("update")
    diff = repo.diff(from_tag="v1", to_branch="main")
    fragment = diff._repr_html_()
    assert balanced(fragment)
    rows = cells(fragment)
    assert ["new", "array", "/b"] in rows
    assert ["updated (definition or attributes)", "array", "/a"] in rows
    assert ["/a", "6", "[0, 0] [0, 1] [1, 0] [1, 1] [2, 0] ..."] in rows
    assert "icechunk.Diff (2 nodes, 6 chunks)" in text(fragment)
    empty = repo.diff(from_tag="v1", to_tag="v1")._repr_html_()
    assert "no changes" in text(empty) and ["(none)"] in cells(empty)


def test_snapshot_info_html_escapes_and_shows_fields(repo: icechunk.Repository) -> None:
    info = repo.lookup_snapshot(repo.lookup_tag("v1"))
    fragment = info._repr_html_()
    assert "<b>bold</b>" not in fragment  # escaped, not markup
    rows = cells(fragment)
    assert ["message", "first <b>bold</b> & co"] in rows
    assert ["metadata: author", "ana & bo"] in rows
    assert ["id", info.id] in rows and ["parent", info.parent_id] in rows
    assert any(r[0] == info.manifests[0].id for r in rows)


def test_history_table_and_text(repo: icechunk.Repository) -> None:
    history = icechunk.History(repo.ancestry(branch="main"))
    assert [i.message for i in history] == ["first <b>bold</b> & co", "Repository initialized"]
    fragment = history._repr_html_()
    assert balanced(fragment)
    rows = cells(fragment)
    assert rows[0] == ["id", "time", "message"]
    assert rows[1][0] == history[0].id and rows[1][2] == history[0].message
    assert "History (2 snapshots)" in text(fragment)
    assert repr(history).splitlines()[0].startswith(history[0].id)
    assert len(icechunk.History(repo.ancestry(branch="main"), limit=1)) == 1


def test_long_tables_are_cut(repo: icechunk.Repository) -> None:
    for i in range(55):
        repo.create_tag(f"t{i:02d}", repo.lookup_branch("main"))
    rows = cells(repo._repr_html_())
    assert ["... 6 more"] in rows  # 56 tags, 50 shown


def test_history_of_branches_is_a_graph(repo: icechunk.Repository) -> None:
    s = repo.writable_session("dev")
    zarr.open_group(s.store).attrs["on"] = "dev"
    on_dev = s.commit("on dev")
    s = repo.writable_session("main")
    zarr.open_group(s.store).attrs["on"] = "main"
    on_main = s.commit("on main")
    graph = icechunk.History.of_branches(repo)
    assert [i.id for i in graph][:2] == [on_main, on_dev]
    rows = cells(graph._repr_html_())
    assert rows[0] == ["dev", "main", "id", "time", "message"]
    assert rows[1][:3] == ["", "●", on_main]
    assert rows[2][:3] == ["●", "", on_dev]
    assert all(r[:2] == ["●", "●"] for r in rows[3:])  # shared history
    text = repr(graph).splitlines()
    assert text[0] == "branches: dev, main" and text[1].startswith(f"│ ●  {on_main}")
    assert len(icechunk.History.of_branches(repo, ["dev"], limit=2)) == 2

"""Search by name (``davdrive.name_search``): only what the user sees is found, in path
order, counted without hidden matches, with a fixed number of statements."""

from __future__ import annotations

import pytest

from davdrive import node_admin
from davdrive.errors import BadRequest
from davdrive.name_search import MAX_QUERY, clean_query, search
from davdrive.paths import split_path
from davdrive.server import DriveApp
from tests.conftest import put_file, recorded_statements
from tests.unit.test_folder_archive import drive_of
from tests.web.conftest import office  # noqa: F401  (a fixture)
from tests.web.drive_trees import drive_tree


def _found(app: DriveApp, login: str, path: str, text: str, limit: int = 200
           ) -> tuple[list[str], bool]:
    with drive_of(app, login) as drive:
        folder = drive.node_at(split_path(path))
        assert folder is not None
        found = search(drive, folder, text, limit)
        return [h.path for h in found.hits], found.more


def test_the_query_is_trimmed_normalised_and_bounded() -> None:
    assert clean_query("  Cafe\u0301 ") == "Caf\u00e9"  # NFC, as names are stored
    assert clean_query("   ") == ""
    assert clean_query("a" * MAX_QUERY) == "a" * MAX_QUERY
    for bad in ("a" * (MAX_QUERY + 1), "a\x00b", "tab\there"):
        with pytest.raises(BadRequest):
            clean_query(bad)


def test_results_come_in_path_order_each_folder_before_its_items(
    office: DriveApp,  # noqa: F811
) -> None:
    with drive_of(office, None) as drive:
        for path in ("/a", "/a b", "/a/a x"):
            node_admin.make_folders(drive.session, drive, path)
        folder = drive.node_at(["a"])
        assert folder is not None
        put_file(drive, folder, "A.txt", b"")
        drive.session.commit()
    paths, more = _found(office, "mary", "/", "A")
    assert paths == ["/a", "/a/a x", "/a/A.txt", "/a b"] and not more


def test_hidden_matches_are_neither_shown_nor_counted(office: DriveApp) -> None:  # noqa: F811
    drive_tree(office)  # Minutes: assembly.txt; board.txt (degree 3); olga's note.txt
    # mary: assembly.txt and agenda.txt match "a"; /Board is a pass-through folder she
    # sees; board.txt also matches but degree 3 hides it
    assert _found(office, "mary", "/", "a") == (
        ["/Board", "/Board/Public/agenda.txt", "/Minutes/assembly.txt"], False)
    assert _found(office, "mary", "/", "a", limit=3) == (
        ["/Board", "/Board/Public/agenda.txt", "/Minutes/assembly.txt"], False)
    assert _found(office, "mary", "/", "a", limit=2) == (
        ["/Board", "/Board/Public/agenda.txt"], True)
    assert _found(office, "mary", "/Minutes", "board") == ([], False)
    assert _found(office, "olga", "/Minutes", "NOTE") == (["/Minutes/note.txt"], False)
    assert _found(office, "mary", "/Minutes", "note") == ([], False)
    assert _found(office, "root", "/Minutes", "board") == (["/Minutes/board.txt"], False)


def test_an_empty_search_is_refused(office: DriveApp) -> None:  # noqa: F811
    with drive_of(office, "mary") as drive:
        root = drive.node_at([])
        assert root is not None
        with pytest.raises(BadRequest):
            search(drive, root, "  ")


def test_a_search_runs_the_same_statements_for_5_or_400_matches(
    office: DriveApp,  # noqa: F811
) -> None:
    def statements(count: int) -> int:
        with drive_of(office, None) as drive:
            folder, _ = node_admin.make_folders(drive.session, drive, f"/F{count}/Deep")
            for n in range(count):
                put_file(drive, folder, f"match-{n}.txt", b"")
            drive.session.commit()
        with drive_of(office, "mary") as drive:
            top = drive.node_at([f"F{count}"])
            assert top is not None
            with recorded_statements(office.runtime.engine) as seen:
                found = search(drive, top, "match", limit=1000)
            assert len(found.hits) == count
            return len(seen)

    assert statements(5) == statements(400) <= 4  # the walk, the ancestors, pass-through

"""A file the read fast path found readable is kept per process, and any change of
the tree, made anywhere, is seen at the next request (davdrive/readable_files.py).

Issue 12 (small GET): a file read again by the same account in an unchanged
tree costs the sign-in statement only; the tree's version that validates the
kept answer is read by that same statement. What is checked here is that a
kept answer is never served once something it depends on changed: a node
classified by the command line in another process, a row changed by SQL typed
by hand, content replaced or deleted through another server process (its own
caches), the actor's rights (tests/http/test_cache_versions.py covers those).
Expected answers come from the rules (DESIGN 3 and 5): a private file of
someone else, or above the reader's degree, is 404; a deleted file is 404; a
replaced file is read with its new bytes and ETag.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from werkzeug.test import Client

from davdrive.runtime import Runtime, open_runtime
from davdrive.server import DriveApp, create_app
from davdrive.settings import Settings
from tests.conftest import Dav, add_user, basic
from tests.http.test_cache_versions import davdrive_cli, team_folder
from tests.http.test_statement_counts import SIGN_IN, shapes


@pytest.fixture
def reader(app: DriveApp, runtime: Runtime, dav: Dav) -> Dav:
    """A reader (degree 0, no right on the root) of /Team, where the writer
    ``tester`` stored notes.txt (shared); the file read twice, so that its answer
    is kept."""
    add_user(runtime, "reader", "reader-pw", documents="read", category="readers",
             root_right="none")
    team_folder(runtime, "readers", "read")
    assert dav("PUT", "/dav/Team/notes.txt", b"the notes\n").status_code == 201
    reader = Dav(Client(app), basic("reader", "reader-pw"))
    for _ in range(2):
        response = reader("GET", "/dav/Team/notes.txt")
        assert response.status_code == 200 and response.data == b"the notes\n"
    return reader


@pytest.fixture
def other_server(settings: Settings, fast_passwords: object) -> Iterator[Dav]:
    """A second server on the same data folder, with caches of its own (as another
    worker process has), signed in as the writer ``tester``."""
    runtime = open_runtime(settings, fast_passwords)  # type: ignore[arg-type]
    try:
        yield Dav(Client(create_app(settings, runtime, clean_temp=False)))
    finally:
        runtime.close()


def test_a_file_read_again_in_an_unchanged_tree_costs_the_sign_in_only(
    app: DriveApp, reader: Dav, dav: Dav
) -> None:
    status, seen = shapes(app, reader, "GET", "/dav/Team/notes.txt")
    assert status == 200 and seen == Counter(SIGN_IN)
    status, seen = shapes(app, reader, "HEAD", "/dav/Team/notes.txt")
    assert status == 200 and seen == Counter(SIGN_IN)
    # Any change of the tree, even elsewhere, and the path is walked again.
    assert dav("PUT", "/dav/elsewhere.txt", b"x").status_code == 201
    status, seen = shapes(app, reader, "GET", "/dav/Team/notes.txt")
    assert status == 200 and seen["select user_account"] == 1 and seen["path walk"] == 1


def test_a_hidden_or_missing_name_is_walked_every_time(
    app: DriveApp, reader: Dav, dav: Dav
) -> None:
    """Only readable files are kept: a file the reader may not see (in the root,
    where the reader has no right) and a name that does not exist keep costing the
    same statements, every time (hidden == missing)."""
    assert dav("PUT", "/dav/elsewhere.txt", b"x").status_code == 201
    for _ in range(2):
        status, hidden = shapes(app, reader, "GET", "/dav/elsewhere.txt")
        assert status == 404
        status, missing = shapes(app, reader, "GET", "/dav/nothing.txt")
        assert status == 404
        assert hidden["path walk"] == 1 and hidden == missing


def test_made_private_by_the_command_line_in_another_process(
    app: DriveApp, reader: Dav
) -> None:
    davdrive_cli(app.settings, "node", "set", "/Team/notes.txt", "--visibility", "private")
    assert reader("GET", "/dav/Team/notes.txt").status_code == 404
    assert reader("HEAD", "/dav/Team/notes.txt").status_code == 404


def test_a_change_typed_in_sql_is_seen_at_once(app: DriveApp, reader: Dav) -> None:
    """UPDATE node SET min_degree = 3 by hand, outside any davdrive code (a plain
    connection to the database, SQLite or PostgreSQL: the triggers count the change):
    the reader (degree 0) gets 404 at the next request."""
    by_hand = create_engine(app.settings.database_url)
    try:
        with by_hand.begin() as conn:
            changed = conn.execute(
                text("UPDATE node SET min_degree = 3 WHERE name = 'notes.txt'")
            ).rowcount
    finally:
        by_hand.dispose()
    assert changed == 1
    assert reader("GET", "/dav/Team/notes.txt").status_code == 404


def test_replaced_through_another_server_process(reader: Dav, other_server: Dav) -> None:
    before = reader("GET", "/dav/Team/notes.txt").headers["ETag"]
    assert other_server("PUT", "/dav/Team/notes.txt", b"the new notes\n").status_code == 204
    response = reader("GET", "/dav/Team/notes.txt")
    assert response.status_code == 200 and response.data == b"the new notes\n"
    assert response.headers["ETag"] != before


def test_deleted_through_another_server_process(reader: Dav, other_server: Dav) -> None:
    assert other_server("DELETE", "/dav/Team/notes.txt").status_code == 204
    assert reader("GET", "/dav/Team/notes.txt").status_code == 404

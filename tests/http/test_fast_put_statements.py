"""What a fast PUT costs in SQL, statement by statement (issue 12: "statement count of a
fast PUT (exact, derived)").

The expected lists are derived from the rules each statement serves, not copied from
a run: if one is added, dropped or reordered, the test names it. The sign-in's own
statements (the credential cache and account checks, in ``auth/``) come first and
are checked only to touch no drive table.
"""

from __future__ import annotations

from sqlalchemy import event
from werkzeug.test import Client

from davdrive.server import DriveApp
from provider.fast_put import ANSWERED
from tests.conftest import WRITE_LOCK_STATEMENTS, Dav, basic, recorded_statements
from tests.http.club import Club

# Stands for the write lock's statement: BEGIN IMMEDIATE on SQLite, the advisory lock on
# PostgreSQL (davdrive/write_lock.py).
WRITE_LOCK = "(write lock)"

# After the sign-in, a PUT of a new name in a visible folder runs exactly these, on
# Core connections (no ORM session), with ONE commit (its fsync makes the 201 durable):
NEW_FILE = [
    ("WITH RECURSIVE walk", "one walk yields the parent folder and shows the name is free "
                            "(seen or not: the walk finds any live holder of the key)"),
    ("SELECT dav_lock.token", "the one lock query: the target, locks above it, its folder"),
    (WRITE_LOCK, "the write lock, before re-reading what the write depends on"),
    ("SELECT node.id, node.parent_id, node.name_key, node.kind FROM node WHERE",
     "one re-read: the folder chain is still live where it was, and what holds the "
     "name now (a race)"),
    ("INSERT INTO blob ", "the blob row, or the one a concurrent upload inserted"),
    ("INSERT INTO blob_inline", "the content: small, it is made durable by this commit"),
    ("INSERT INTO node ", "the file"),
    ("SELECT audit_event.hash", "the previous link of the audit chain"),
    ("INSERT INTO audit_event", "the audit event"),
]

# Overwriting one's own file: no name check and no pass-through query (the path
# resolves), but the claim on the row and a version of the previous content.
OVERWRITE = [
    ("WITH RECURSIVE walk", "one walk resolves the file and its folder"),
    ("SELECT dav_lock.token", "the one lock query"),
    (WRITE_LOCK, "the write lock"),
    ("SELECT node.id, node.parent_id, node.name_key FROM node WHERE node.id IN",
     "the folder chain is still live where it was"),
    ("SELECT node.id, node.parent_id, node.name,", "what holds the name now (a race)"),
    ("INSERT INTO blob ", "the blob row"),
    ("INSERT INTO blob_inline", "the content, durable with this commit"),
    ("UPDATE node SET updated_at", "claim: the file is still where the request found it"),
    ("INSERT INTO node_version", "the previous content is kept as a version"),
    ("SELECT node_version.id", "versions past the number kept"),
    ("UPDATE node SET blob_sha256", "the file's new content"),
    ("SELECT audit_event.hash", "the previous link of the audit chain"),
    ("INSERT INTO audit_event", "the audit event"),
]

DRIVE_TABLES = ("node", "dav_lock", "blob", "audit_event", "folder_right", "walk")


class Recorder:
    def __init__(self, app: DriveApp) -> None:
        self.app = app
        self.fast = False

    def __call__(self, environ, start_response):  # type: ignore[no-untyped-def]
        answer = self.app(environ, start_response)
        self.fast = bool(environ.get(ANSWERED))
        return answer


def _put(app: DriveApp, path: str, body: bytes) -> tuple[int, bool, list[str]]:
    status, fast, seen, _ = _put_counting(app, path, body)
    return status, fast, seen


def _put_counting(
    app: DriveApp, path: str, body: bytes, auth: str = basic("tester", "secret")
) -> tuple[int, bool, list[str], int]:
    """The PUT's status, whether the fast path answered, its statements and its commits
    (the engine's "commit" event: one per COMMIT sent to the database)."""
    recorder = Recorder(app)
    dav = Dav(Client(recorder), auth)
    commits: list[int] = []

    def count(_conn):  # type: ignore[no-untyped-def]
        commits.append(1)

    event.listen(app.runtime.engine, "commit", count)
    try:
        with recorded_statements(app.runtime.engine) as seen:
            status = dav("PUT", path, body).status_code
    finally:
        event.remove(app.runtime.engine, "commit", count)
    return status, recorder.fast, seen, len(commits)


def _after_sign_in(seen: list[str]) -> list[str]:
    first = next(i for i, s in enumerate(seen) if s.startswith("WITH RECURSIVE walk"))
    for statement in seen[:first]:
        assert not any(f" {t} " in f" {statement} " for t in DRIVE_TABLES[:-1]), (
            f"the sign-in reads the drive: {statement}"
        )
    return seen[first:]


def _check(seen: list[str], expected: list[tuple[str, str]]) -> None:
    got = _after_sign_in(seen)
    problems = [
        f"#{i + 1}: expected {want!r} ({why}), ran {s[:90]!r}"
        for i, ((want, why), s) in enumerate(zip(expected, got, strict=False))
        if not (s in WRITE_LOCK_STATEMENTS if want == WRITE_LOCK else s.startswith(want))
    ]
    assert len(got) == len(expected) and not problems, (
        f"{len(got)} statements after the sign-in, {len(expected)} expected\n"
        + "\n".join(problems) + "\n--- ran:\n" + "\n".join(s[:110] for s in got)
    )


def test_a_fast_put_of_a_new_file_runs_exactly_the_derived_statements(app: DriveApp) -> None:
    """PUT /dav/Folder/new.txt (new, small): the statements above and exactly one
    commit; before issue 12's second round it ran 12 statements and two commits."""
    dav = Dav(Client(app))
    assert dav("MKCOL", "/dav/Folder").status_code == 201
    assert dav("PUT", "/dav/Folder/warm.txt", b"warm the caches").status_code == 201
    status, fast, seen, commits = _put_counting(app, "/dav/Folder/new.txt", b"new content")
    assert (status, fast) == (201, True)
    _check(seen, NEW_FILE)
    assert commits == 1, f"{commits} commits: one makes the 201 durable, more cost an fsync each"
    assert dav("GET", "/dav/Folder/new.txt").data == b"new content"


def test_a_new_file_below_a_pass_through_folder_is_as_cheap(club: Club) -> None:
    """PUT /dav/Club/new.txt by wendy, who may write in /Club and sees the root only as
    a pass-through folder: the same statements (the folders above a folder one may
    create in are seen, so no pass-through query) and one commit."""
    wendy = club.as_("wendy")
    assert wendy("PUT", "/dav/Club/warm.txt", "warm the caches").status_code == 201
    status, fast, seen, commits = _put_counting(
        club.app, "/dav/Club/new.txt", b"new content", auth=basic("wendy", "wendy-password")
    )
    assert (status, fast, commits) == (201, True, 1)
    _check(seen, NEW_FILE)


def test_a_fast_overwrite_commits_once(app: DriveApp) -> None:
    """PUT over one's own file: one commit too (the version, the new content and the
    audit event are one transaction)."""
    dav = Dav(Client(app))
    assert dav("MKCOL", "/dav/Folder").status_code == 201
    assert dav("PUT", "/dav/Folder/file.txt", b"first").status_code == 201
    status, fast, _, commits = _put_counting(app, "/dav/Folder/file.txt", b"second")
    assert (status, fast, commits) == (204, True, 1)
    assert dav("GET", "/dav/Folder/file.txt").data == b"second"


def test_a_fast_overwrite_runs_exactly_the_derived_statements(app: DriveApp) -> None:
    dav = Dav(Client(app))
    assert dav("MKCOL", "/dav/Folder").status_code == 201
    assert dav("PUT", "/dav/Folder/file.txt", b"first").status_code == 201
    status, fast, seen = _put(app, "/dav/Folder/file.txt", b"second")
    assert (status, fast) == (204, True)
    _check(seen, OVERWRITE)


def test_the_fast_path_runs_fewer_statements_than_wsgidav(app: DriveApp) -> None:
    """The control: the same PUT through WsgiDAV (an If-None-Match header sends it
    there) costs more, so the counts above measure the fast path itself."""
    dav = Dav(Client(app))
    assert dav("MKCOL", "/dav/Folder").status_code == 201
    recorder = Recorder(app)
    with recorded_statements(app.runtime.engine) as seen:
        response = Dav(Client(recorder))("PUT", "/dav/Folder/b.txt", b"x", If_None_Match="*")
    assert response.status_code == 201 and not recorder.fast
    assert len(_after_sign_in(seen)) > len(NEW_FILE)

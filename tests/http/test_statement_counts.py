"""Exact SQL statements of the hot requests of a signed-in (cached) user.

Issue 12: "Per-process caches for the signed-in actor and each category's
folder rights ... One 'any lock here?' query per write." The expected shapes
come from the design, not from a recording:

- sign-in of a cached password: ONE select of the account by primary key
  (user row joined with its category: versions, sign-in facts, actor); no
  app-password look-up, no ORM load of User or Category;
- folder rights: none while the category's version is unchanged (one
  select of category + folder_right when it changed);
- a path: one recursive walk over (parent_id, name_key) for the path and
  all its prefixes; a missing last name adds one walk up from the candidates
  of pass-through folders (hidden == missing, tests/http/test_hidden_sql_shape.py);
- a write: ONE select of dav_lock, whatever WsgiDAV checks (the parent of a
  new file, then the file itself);
- the rest is the write itself: the write lock, the re-read of the chain under
  it, the blob row, the node row(s), the audit record.

Each test counts statements by shape (``shape``), so a failure shows which
kind of statement appeared or vanished.
"""

from __future__ import annotations

import re
from collections import Counter

from davdrive import node_admin, tree
from davdrive.server import DriveApp
from tests.conftest import WRITE_LOCK_STATEMENTS, Dav, recorded_statements

_FROM = re.compile(r"\bFROM (\w+)")
_PARENTHESES = re.compile(r"\([^()]*\)")


def top_level(statement: str) -> str:
    """``statement`` without its parenthesised parts (sub-queries, argument lists)."""
    while True:
        stripped = _PARENTHESES.sub("", statement)
        if stripped == statement:
            return statement
        statement = stripped


def shape(statement: str) -> str:
    """A short name for a statement: its verb and first table."""
    if statement.startswith("WITH RECURSIVE walk"):
        return "path walk"
    if statement.startswith("WITH RECURSIVE"):
        return "ancestors walk"
    if statement in WRITE_LOCK_STATEMENTS:
        return "write lock"
    verb = statement.split(" ", 1)[0].upper()
    if verb == "SELECT":
        # The main FROM; a SELECT of sub-queries only (EXISTS...) is named by the first.
        found = _FROM.search(top_level(statement)) or _FROM.search(statement)
        return f"select {found.group(1) if found else '?'}"
    if verb == "INSERT":
        return "insert " + statement.split()[2]
    if verb in ("UPDATE", "DELETE"):
        words = statement.split()
        return f"{verb.lower()} {words[2] if verb == 'DELETE' else words[1]}"
    return statement[:30]


def shapes(app: DriveApp, dav: Dav, method: str, path: str, body: bytes = b"",
           **headers: str) -> tuple[int, Counter[str]]:
    with recorded_statements(app.runtime.engine) as statements:
        response = dav(method, path, body, **headers)
    return response.status_code, Counter(shape(s) for s in statements)


def warm(dav: Dav) -> None:
    """Sign in once (argon2, then cached) and load the category's rights once."""
    assert dav("MKCOL", "/dav/Docs").status_code == 201
    for i in range(3):
        assert dav("PUT", f"/dav/Docs/f{i}.txt", f"content {i}\n".encode()).status_code == 201


SIGN_IN = {"select user_account": 1}


def test_get_of_a_file_by_a_cached_user_is_two_selects(app: DriveApp, dav: Dav) -> None:
    """GET /dav/Docs/big.bin (stored as a file): the account by primary key, the
    path walk; nothing else. GET /dav/Docs/f1.txt (small: its bytes are kept in
    the database, docs/durable-writes.md): the same two, the walk reads the bytes."""
    warm(dav)
    big = b"x" * (app.settings["storage.inline_blob_bytes"] + 1)
    assert dav("PUT", "/dav/Docs/big.bin", big).status_code == 201
    status, seen = shapes(app, dav, "GET", "/dav/Docs/big.bin")
    assert status == 200
    assert seen == Counter({**SIGN_IN, "path walk": 1})
    with recorded_statements(app.runtime.engine) as statements:
        response = dav("GET", "/dav/Docs/f1.txt")
    assert response.status_code == 200 and response.data == b"content 1\n"
    assert Counter(shape(s) for s in statements) == Counter({**SIGN_IN, "path walk": 1})


def test_head_and_missing_file_cost_the_same_fixed_statements(
    app: DriveApp, dav: Dav
) -> None:
    """HEAD /dav/Docs/f1.txt is the GET's two selects; GET of a missing name adds
    only the pass-through walk (the same as for a hidden one)."""
    warm(dav)
    status, seen = shapes(app, dav, "HEAD", "/dav/Docs/f1.txt")
    assert status == 200 and seen == Counter({**SIGN_IN, "path walk": 1})
    status, seen = shapes(app, dav, "GET", "/dav/Docs/nothing.txt")
    assert status == 404
    assert seen == Counter({**SIGN_IN, "path walk": 1, "ancestors walk": 1})


def test_propfind_depth_1_by_a_cached_user(app: DriveApp, dav: Dav) -> None:
    """PROPFIND /dav/Docs/ Depth 1 (allprop) over three files, on the read fast
    path (docs/fast-path.md): sign-in, path, ONE guard query asking whether a
    live lock or a dead property exists on the folder or a child (its first
    table is dav_lock), then its children, ONE page of both kinds (no folder
    among them: no query of the folders). No rights query, no per-entry query."""
    warm(dav)
    status, seen = shapes(app, dav, "PROPFIND", "/dav/Docs/", Depth="1")
    assert status == 207
    assert seen == Counter({
        **SIGN_IN, "path walk": 1, "select node": 1, "select dav_lock": 1,
    })


def test_put_of_a_new_file_runs_one_lock_query(app: DriveApp, dav: Dav) -> None:
    """PUT /dav/Docs/new.txt (WsgiDAV checks locks on /Docs, then on /Docs/new.txt):
    one dav_lock select for both."""
    warm(dav)
    status, seen = shapes(app, dav, "PUT", "/dav/Docs/new.txt", b"new\n")
    assert status == 201
    assert seen["select dav_lock"] == 1
    # The fast PUT (provider/fast_put.py, tests/http/test_fast_put_statements.py):
    # one walk (it also shows the name free: no name check, and no pass-through
    # walk, as the actor may create there), the lock query, then under the write
    # lock one re-read (the chain still live, the name still free), the blob row
    # and its kept bytes, the node, the audit link.
    assert seen == Counter({
        **SIGN_IN, "path walk": 1, "select dav_lock": 1,
        "select node": 1, "write lock": 1, "insert blob": 1, "insert blob_inline": 1,
        "insert node": 1, "select audit_event": 1, "insert audit_event": 1,
    })


def test_put_overwrite_runs_one_lock_query(app: DriveApp, dav: Dav) -> None:
    """PUT /dav/Docs/f1.txt over an existing file (WsgiDAV checks its locks twice):
    one dav_lock select; the previous content is kept as a version."""
    warm(dav)
    status, seen = shapes(app, dav, "PUT", "/dav/Docs/f1.txt", b"changed\n")
    assert status == 204
    assert seen == Counter({
        **SIGN_IN, "path walk": 1, "select dav_lock": 1, "select node": 2, "write lock": 1,
        "insert blob": 1, "insert blob_inline": 1, "update node": 2,
        "insert node_version": 1, "select node_version": 1, "select audit_event": 1,
        "insert audit_event": 1,
    })


def test_a_lock_on_the_folder_still_refuses_a_new_file_with_one_query(
    app: DriveApp, dav: Dav
) -> None:
    """LOCK /dav/Docs/ (depth 0), then PUT /dav/Docs/new.txt without the lock
    token: 423 (RFC 4918 7.4: the lock protects the folder's members list),
    decided from the one lock query."""
    warm(dav)
    lock_body = (
        '<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/>'
        "</D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>"
    )
    assert dav("LOCK", "/dav/Docs/", lock_body, Depth="0").status_code == 200
    status, seen = shapes(app, dav, "PUT", "/dav/Docs/new.txt", b"new\n")
    assert status == 423
    assert seen["select dav_lock"] == 1
    status, seen = shapes(app, dav, "PUT", "/dav/Docs/f1.txt", b"changed\n")
    assert status == 204  # a depth-0 lock on the folder does not cover its files
    assert seen["select dav_lock"] == 1


def test_rights_are_read_once_per_category_version(app: DriveApp, dav: Dav) -> None:
    """GET /dav/Docs/f1.txt after a folder right of the user's category changed:
    the rights are read once (one select of category + folder_right), then not
    again while the version stays."""
    warm(dav)
    with app.runtime.sessions() as session:
        folder = tree.resolve_chain(session, ["Docs"])
        assert folder is not None
        node_admin.set_folder_rights(session, folder[-1], {"docs-write": "write"})
        session.commit()
    status, seen = shapes(app, dav, "HEAD", "/dav/Docs/f1.txt")
    assert status == 200
    assert seen == Counter({**SIGN_IN, "path walk": 1, "select category": 1})
    status, seen = shapes(app, dav, "HEAD", "/dav/Docs/f1.txt")
    # Nothing changed since: the file found readable is kept (davdrive.readable_files).
    assert status == 200 and seen == Counter(SIGN_IN)

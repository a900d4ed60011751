"""The PUT fast path answers exactly as WsgiDAV does (issue 12, "a fast path ... applying
the same policy functions").

Differential: the same sequence of requests runs against two drives built alike, one
with ``dav.fast_put`` on and one with it off. Every answer must match (status, headers
but the Date, body), and so must what was stored: every live node row, every byte,
every audit event. Users see all (ada, mia), part (wendy, walt, carol: hidden files)
or none (nina) of /Club. The fast app must have answered the plain requests itself,
and handed the others (locks, If headers, ownCloud headers, folders, junk) on.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from werkzeug.test import Client

from davdrive import tree
from davdrive.models import AuditEvent, Node, User
from davdrive.passwords import Passwords
from davdrive.runtime import open_runtime
from davdrive.server import create_app
from davdrive.settings import load_settings
from provider.fast_put import ANSWERED
from tests.conftest import Dav, add_user, basic
from tests.http.club import LOCKINFO, Club, build_club

LOCK_DEPTH0 = LOCKINFO


class Recorder:
    """The app, remembering whether the fast path answered the last request."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.fast = False

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        answer = self.app(environ, start_response)
        self.fast = bool(environ.get(ANSWERED))
        return answer


def _club(tmp: Path, fast: bool) -> tuple[Club, Recorder]:
    settings = load_settings(None, {}, {
        "data_dir": str(tmp / "data"), "server.port": 0, "dav.fast_put": fast,
    })
    runtime = open_runtime(settings, Passwords(time_cost=1, memory_cost=8, parallelism=1))
    with runtime.sessions() as session:
        tree.get_root(session)
        session.commit()
    add_user(runtime, "tester", "secret", documents="write")
    add_user(runtime, "nina", "nina-password", documents="write", category="outsider",
             root_right="none")
    app = create_app(settings, runtime)
    recorder = Recorder(app)
    club = build_club(app, runtime)
    club.app = recorder  # type: ignore[assignment]
    return club, recorder


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[tuple[Club, Recorder], tuple[Club, Recorder]]]:
    fast = _club(tmp_path / "fast", True)
    slow = _club(tmp_path / "slow", False)
    yield fast, slow
    fast[0].runtime.close()
    slow[0].runtime.close()


# (login, method, path, body, headers); "{token}" in a header is the login's last lock token.
STEPS: list[tuple[str, str, str, bytes, dict[str, str]]] = [
    ("wendy", "PUT", "/Club/new.txt", b"hello", {}),
    ("wendy", "PUT", "/Club/new.txt", b"hello again", {}),  # overwrite: 204, a version
    ("wendy", "PUT", "/Club/NEW.txt", b"case-insensitive", {}),  # the same file
    ("walt", "PUT", "/Club/new.txt", b"not mine", {}),  # 403: only the creator modifies
    ("mia", "PUT", "/Club/new.txt", b"manager", {}),  # manage: 204
    ("carol", "PUT", "/Club/carol.txt", b"read only", {}),  # 403
    ("carol", "PUT", "/Club/Public.txt", b"read only", {}),  # 403 on a visible file
    ("wendy", "PUT", "/Club/Degree3.txt", b"hidden name", {}),  # 409 not available
    ("wendy", "PUT", "/Club/Budget.txt", b"hidden name", {}),  # 409 (doc type)
    ("carol", "PUT", "/Club/Degree3.txt", b"hidden name", {}),  # 403 (may not create)
    ("carol", "PUT", "/Club/Nothing-here.txt", b"missing", {}),  # 403, as hidden
    ("wendy", "PUT", "/Club/Deep/Inner.txt", b"in a hidden folder", {}),  # 409 no parent
    ("wendy", "PUT", "/Club/Deep", b"onto a hidden folder", {}),  # 409
    ("wendy", "PUT", "/Club/System", b"onto a folder", {}),  # 405
    ("wendy", "PUT", "/Club/System/x.txt", b"protected folder", {}),  # 403
    ("wendy", "PUT", "/Club/Fixed.txt", b"protected file", {}),  # 403
    ("wendy", "PUT", "/Club/bad:name.txt", b"windows", {}),  # 400
    ("wendy", "PUT", "/Club/._junk", b"finder", {}),  # accepted, dropped
    ("wendy", "PUT", "/Club/empty.txt", b"", {}),  # 0 bytes (sent without Content-Length)
    ("wendy", "PUT", "/Club/empty.txt", b"now with content", {}),
    ("wendy", "PUT", "/Club/page.html", b"<b>active</b>", {}),
    ("wendy", "PUT", "/Club/caf\u00e9.txt".encode().decode("latin-1"), b"nfc", {}),
    ("wendy", "PUT", "/Club/new.txt", b"guarded", {"If-Match": '"nope"'}),  # 412
    ("wendy", "PUT", "/Club/mtime.txt", b"oc", {"X-OC-Mtime": "1600000000"}),
    ("wendy", "PUT", "/Club/sum.txt", b"oc", {"OC-Checksum": "SHA1:" + "0" * 40}),  # 400
    ("wendy", "PUT", "/Nowhere/x.txt", b"no parent", {}),  # 409
    ("wendy", "PUT", "/root.txt", b"root", {}),  # no right on the root: 403
    ("nina", "PUT", "/Club/x.txt", b"sees none", {}),  # /Club is absent for her
    ("nina", "PUT", "/nina.txt", b"root", {}),
    ("ada", "PUT", "/Club/Degree3.txt", b"document admin", {}),  # sees all: 204
    ("ada", "PUT", "/Club/Fixed.txt", b"document admin", {}),  # protected: 403
    ("tester", "PUT", "/backoffice/x.txt", b"branch", {}),
    ("tester", "PUT", "/top.txt", b"root right write", {}),
    ("tester", "PUT", "/files/tester/via-layout.txt", b"layout", {}),
    # Locks: WsgiDAV answers every PUT they concern, 423 without the token.
    ("wendy", "LOCK", "/Club/locked.txt", LOCKINFO.encode(), {"Timeout": "Second-600"}),
    ("wendy", "PUT", "/Club/locked.txt", b"no token", {}),  # 423
    ("wendy", "PUT", "/Club/locked.txt", b"token", {"If": "(<{token}>)"}),  # 204
    ("mia", "LOCK", "/Club/System", LOCK_DEPTH0.encode(), {"Depth": "0"}),  # 403 protected
    ("mia", "LOCK", "/Club", LOCK_DEPTH0.encode(), {"Depth": "0", "Timeout": "Second-600"}),
    ("wendy", "PUT", "/Club/under-a-locked-folder.txt", b"x", {}),  # 423 (new member)
    ("wendy", "PUT", "/Club/new.txt", b"existing member", {}),  # a depth-0 lock spares it
    ("mia", "PUT", "/Club/new.txt", b"existing member", {}),
    ("mia", "UNLOCK", "/Club", b"", {"Lock-Token": "<{token}>"}),
    ("wendy", "PUT", "/Club/under-a-locked-folder.txt", b"x", {}),  # 201 now
]

# Requests the fast path must answer itself (index into STEPS); every other PUT is
# handed on because of a header, a lock, a folder, a junk name or a layout path.
FAST = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 14, 15, 16, 19, 20, 21, 26, 29, 30, 32, 40, 41, 43}


def _token(response: Any) -> str | None:
    found = re.search(r"opaquelocktoken:[0-9A-Za-z-]+", response.headers.get("Lock-Token", ""))
    return found.group(0) if found else None


def _run(club: Club, recorder: Recorder) -> list[tuple[Any, ...]]:
    answers = []
    tokens: dict[str, str] = {}
    for i, (login, method, path, body, headers) in enumerate(STEPS):
        dav = Dav(Client(recorder), basic(login, "secret" if login == "tester"
                                          else f"{login}-password"))
        sent = {k: v.replace("{token}", tokens.get(login, "")) for k, v in headers.items()}
        response = dav(method, "/dav" + path, body, **{k.replace("-", "_"): v
                                                       for k, v in sent.items()})
        token = _token(response)
        if token is not None:
            tokens[login] = token
        data = re.sub(rb"opaquelocktoken:[0-9A-Za-z-]+", b"<token>", response.data)
        data = re.sub(rb"Second-\d+", b"Second-n", data)
        # A LOCK body's length follows its remaining seconds (Second-600 or
        # Second-599): compared once normalised, through the body.
        varies = ("Date", "Lock-Token") + (("Content-Length",) if method == "LOCK" else ())
        kept = [(k, v) for k, v in response.headers.items() if k not in varies]
        answers.append((i, login, method, path, response.status, kept, data, recorder.fast))
    return answers


def _stored(club: Club) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], dict[str, bytes]]:
    with club.runtime.sessions() as session:
        logins = {uid: login for uid, login in session.execute(select(User.id, User.login))}
        nodes = session.scalars(select(Node).where(Node.deleted_at.is_(None))).all()
        by_id = {n.id: n for n in nodes}

        def path(n: Node) -> str:
            parts = []
            while n.parent_id is not None:
                parts.append(n.name)
                n = by_id[n.parent_id]
            return "/" + "/".join(reversed(parts))

        rows = sorted(
            (path(n), n.kind, logins.get(n.owner_id or 0), n.size, n.blob_sha256, n.visibility,
             n.content_type, n.doc_type, n.min_degree, n.protected)
            for n in nodes
        )
        events = [
            (e.user_login, e.action, e.path, e.target_path, e.outcome, e.detail)
            for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))
        ]
    contents = {row[0]: club.content(row[0]) or b"" for row in rows if row[1] == "file"}
    return rows, events, contents


def test_fast_and_wsgidav_puts_answer_and_store_the_same(pair: Any) -> None:
    """Rule: the fast path is an optimisation only. Same status, headers and body for
    every request; same node rows, bytes and audit events afterwards."""
    (fast_club, fast_rec), (slow_club, slow_rec) = pair
    fast = _run(fast_club, fast_rec)
    slow = _run(slow_club, slow_rec)
    for f, s in zip(fast, slow, strict=True):
        assert f[:7] == s[:7], f"step {f[0]} {f[1]} {f[2]} {f[3]}: fast {f[4:7]} != {s[4:7]}"
    assert not any(s[7] for s in slow), "the slow drive must never take the fast path"
    answered = {f[0] for f in fast if f[7]}
    assert answered == FAST, (
        f"fast path answered {sorted(answered)}, expected {sorted(FAST)}: "
        + ", ".join(f"{f[0]}:{f[3]}" for f in fast if (f[0] in FAST) != f[7])
    )
    assert _stored(fast_club) == _stored(slow_club)


def test_the_differential_sees_a_difference(pair: Any) -> None:
    """The comparison can fail: one more PUT on one side shows in rows and events."""
    (fast_club, fast_rec), (slow_club, _) = pair
    Dav(Client(fast_rec), basic("wendy", "wendy-password"))("PUT", "/dav/Club/extra.txt", b"1")
    assert _stored(fast_club) != _stored(slow_club)

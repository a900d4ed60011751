"""Rule 4 through locks and COPY: a lock on a hidden item tells nobody it exists.

Security finding 1: "423 Locked" bodies listed every conflicting lock's href,
hidden ones included, because WsgiDAV checks locks before the rights; a
read-only member sending DELETE or MOVE to a visible folder learned the names
of hidden files that anyone had locked. Finding 7: COPY told a read-only
member that a folder holds hidden items before checking the destination, and
DELETE, MOVE and COPY of the drive's root answered 500.

Rights come before locks everywhere: each answer here is compared with the
answer to the same request when nothing is locked.
"""

from __future__ import annotations

import pytest

from davdrive import node_admin
from davdrive.policy import SYSTEM
from davdrive.services import Drive
from tests.conftest import Dav, put_file
from tests.http.club import HIDDEN, LOCKINFO, METHODS, MISSING, SECRET, Club, _request

DEPTH_LOCK = LOCKINFO  # an exclusive write lock; Depth comes from the header


def _lock(dav: Dav, path: str) -> str:
    response = dav("LOCK", "/dav" + path, LOCKINFO, Depth="0")
    assert response.status_code == 200, (path, response.status_code, response.data)
    return response.headers["Lock-Token"]


def _answer(dav: Dav, method: str, path: str, **headers: str) -> tuple[int, bytes]:
    response = dav(method, "/dav" + path, DEPTH_LOCK if method == "LOCK" else "", **headers)
    return response.status_code, response.data


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("hidden", HIDDEN)
def test_hidden_items_locked_by_someone_answer_exactly_like_missing_ones(
    club: Club, method: str, hidden: str
) -> None:
    """The hidden-vs-missing suite again, with every hidden item locked by a manager."""
    mia = club.as_("mia")  # manager of degree 3: she sees and locks them all
    for path in HIDDEN:
        _lock(mia, path)
    carol = club.as_("carol")
    missing = MISSING if hidden.count("/") == 2 else "/Club/Nowhere/Inner.txt"
    got = _request(carol, method, hidden)
    expected = _request(carol, method, missing)
    assert got == expected, f"{method} {hidden}: {got[0]} vs missing {expected[0]}"
    assert b"Degree3" not in got[2] and b"Budget" not in got[2] and b"Inner" not in got[2]
    assert club.content(hidden) == SECRET


@pytest.mark.parametrize(
    ("method", "headers"),
    [
        ("DELETE", {}),
        ("MOVE", {"Destination": "/dav/Club-moved"}),
        ("COPY", {"Destination": "/dav/Club-copy"}),
        ("LOCK", {"Depth": "infinity"}),
    ],
)
def test_a_read_only_member_learns_nothing_from_locks_on_hidden_items(
    club: Club, method: str, headers: dict[str, str]
) -> None:
    """DELETE /dav/Club (a visible folder) answered 423 naming /dav/Club/Degree3.txt."""
    carol = club.as_("carol")
    before = _answer(carol, method, "/Club", **headers)
    for path in HIDDEN:
        _lock(club.as_("mia"), path)
    after = _answer(carol, method, "/Club", **headers)
    assert after == before, f"{method}: {after} vs unlocked {before}"
    assert after[0] == 403
    for word in (b"Degree3", b"Budget", b"Inner", b"Deep", b"423"):
        assert word not in after[1]
    root_before = _answer(carol, method, "/", **headers)
    assert root_before[0] in (403, 404) or (method == "LOCK" and root_before[0] == 403)


def _box_with_hidden_file(club: Club) -> None:
    """/Club/Box, owned by wendy, holding her a.txt and b.txt hidden from her (degree 3)."""
    wendy = club.as_("wendy")
    assert wendy("MKCOL", "/dav/Club/Box").status_code == 201
    wendy("PUT", "/dav/Club/Box/a.txt", "a")
    wendy("PUT", "/dav/Club/Box/b.txt", "b")
    with club.runtime.sessions() as session:
        node_admin.node_set(session, node_admin.resolve_path(session, "/Club/Box/b.txt"),
                            min_degree=3)
        session.commit()
    assert wendy("GET", "/dav/Club/Box/b.txt").status_code == 404


@pytest.mark.parametrize(
    ("method", "headers"),
    [
        ("DELETE", {}),
        ("MOVE", {"Destination": "/dav/Club/Box2"}),
        ("LOCK", {"Depth": "infinity"}),
    ],
)
def test_the_owner_of_a_folder_learns_nothing_from_a_lock_on_a_hidden_file_inside(
    club: Club, method: str, headers: dict[str, str]
) -> None:
    """A depth-infinity operation on one's own folder stops at what one may not change
    (rule 7), the same way whether or not the hidden file is locked, and never names it."""
    _box_with_hidden_file(club)
    wendy = club.as_("wendy")
    before = _answer(wendy, method, "/Club/Box", **headers)
    _lock(club.as_("mia"), "/Club/Box/b.txt")
    after = _answer(wendy, method, "/Club/Box", **headers)
    assert after == before
    assert after[0] == 403 and b"b.txt" not in after[1]
    assert club.content("/Club/Box/b.txt") == b"b"


def test_a_lock_on_a_visible_item_still_blocks_and_is_named(club: Club) -> None:
    """The control: locks keep working on what the user sees (423 naming it)."""
    wendy, mia = club.as_("wendy"), club.as_("mia")
    assert wendy("MKCOL", "/dav/Club/Shared").status_code == 201
    wendy("PUT", "/dav/Club/Shared/w.txt", "w")
    _lock(mia, "/Club/Shared/w.txt")
    response = wendy("DELETE", "/dav/Club/Shared")
    assert response.status_code == 423
    assert b"/dav/Club/Shared/w.txt" in response.data
    assert club.content("/Club/Shared/w.txt") == b"w"


def test_copy_checks_the_destination_before_looking_inside_the_source(club: Club) -> None:
    """COPY /dav/Club by a read-only member said 'the folder holds items you may not
    read'; now it gets the answer of any COPY into a folder where it may not create."""
    with club.runtime.sessions() as session:
        drive = Drive(session, club.runtime.blobs, SYSTEM, club.runtime.drive_options)
        plain = drive.make_folder(node_admin.resolve_path(session, "/Club"), "Plain")
        put_file(drive, plain, "Open.txt", b"open")
        session.commit()
    carol = club.as_("carol")
    with_hidden = carol("COPY", "/dav/Club", Destination="/dav/Club/Copy")
    without = carol("COPY", "/dav/Club/Plain", Destination="/dav/Club/Copy")
    assert with_hidden.status_code == without.status_code == 403
    assert with_hidden.data == without.data
    assert b"hold" not in with_hidden.data


@pytest.mark.parametrize("login", ["carol", "wendy", "ada"])
@pytest.mark.parametrize(
    ("method", "headers"),
    [
        ("DELETE", {}),
        ("MOVE", {"Destination": "/dav/Elsewhere"}),
        ("COPY", {"Destination": "/dav/Club/Everything"}),
    ],
)
def test_the_root_of_the_drive_is_never_deleted_moved_or_copied(
    club: Club, login: str, method: str, headers: dict[str, str]
) -> None:
    """DELETE, MOVE and COPY of /dav/ itself answered 500 (split_path(None))."""
    response = club.as_(login)(method, "/dav/", **headers)
    assert response.status_code == 403, (response.status_code, response.data)
    assert b"Internal" not in response.data
    assert club.content("/Club/Public.txt") == b"public"
    assert club.content("/Club/Everything/Public.txt") is None


def test_a_refused_overwrite_is_403_before_any_lock_and_logs_no_traceback(
    club: Club, caplog: pytest.LogCaptureFixture
) -> None:
    """PUT over another writer's locked file: the rights answer (403), not the lock
    (423); and a refusal is not an error: no traceback in the log."""
    wendy, walt = club.as_("wendy"), club.as_("walt")
    wendy("PUT", "/dav/Club/Hers.txt", "hers")
    _lock(club.as_("mia"), "/Club/Hers.txt")
    with caplog.at_level("DEBUG"):
        assert walt("PUT", "/dav/Club/Hers.txt", "his").status_code == 403
        assert walt("PUT", "/dav/Club/Degree3.txt", "his").status_code == 409
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records]
    assert club.content("/Club/Hers.txt") == b"hers"


def test_a_lock_conflict_answer_keeps_only_the_items_the_actor_sees(club: Club) -> None:
    """The last line of defence: whatever reached a lock first, a 423 body names
    only what the signed-in actor sees (here a degree-1 member, then a manager)."""
    from davdrive.accounts import actor_for, get_user
    from provider.context import ENV_KEY, RequestContext
    from provider.rights_first import visible_hrefs

    hrefs = ["/dav/Club/Degree3.txt", "/dav/Club/Public.txt", "/dav/Club/Deep/Inner.txt",
             "/dav/Club/", "/dav/Club/Budget.txt", "/elsewhere/x"]

    def seen_by(login: str) -> list[str]:
        environ: dict[str, object] = {"wsgidav.provider": club.app.provider}
        ctx = RequestContext(club.runtime, environ)
        environ[ENV_KEY] = ctx
        try:
            ctx.actor = actor_for(get_user(ctx.session, login))
            return visible_hrefs(environ, hrefs)
        finally:
            ctx.close()

    assert seen_by("carol") == ["/dav/Club/Public.txt", "/dav/Club/"]
    assert seen_by("mia") == hrefs[:5]

"""Locks are events of the history (issue: every lock audited; DESIGN 2 and 8).

Rules: a LOCK granted records a ``lock`` event under the signed-in user, with the
client's address and the item's drive path (names decoded, the mount left out),
in the transaction that stores the lock; an UNLOCK records ``unlock``; a DELETE
that takes a locked item away records ``unlock`` saying why; a refused LOCK
records nothing; the chain still verifies.
"""

from __future__ import annotations

from sqlalchemy import select
from werkzeug.test import TestResponse

from davdrive import audit
from davdrive.models import AuditEvent
from davdrive.server import DriveApp
from tests.conftest import Dav


def lockinfo(scope: str = "exclusive") -> str:
    return (
        '<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope>'
        f"<D:{scope}/></D:lockscope><D:locktype><D:write/></D:locktype>"
        "<D:owner>tester's laptop</D:owner></D:lockinfo>"
    )


def _events(app: DriveApp, *actions: str) -> list[tuple[str, str, str, str]]:
    with app.runtime.sessions() as session:
        rows = session.execute(
            select(AuditEvent.user_login, AuditEvent.ip, AuditEvent.action, AuditEvent.path)
            .where(AuditEvent.action.in_(actions)).order_by(AuditEvent.id)).all()
        assert audit.verify(session) is None
    return [tuple(r) for r in rows]  # type: ignore[misc]


ADDRESS = "192.0.2.7"


def _from(dav: Dav, method: str, path: str, body: str, **headers: str) -> TestResponse:
    """``dav(...)`` from the client address ``ADDRESS``."""
    hdrs = {"Authorization": dav.auth, **{k.replace("_", "-"): v for k, v in headers.items()}}
    return dav.client.open(path, method=method, data=body.encode(), headers=hdrs,
                           buffered=True, environ_base={"REMOTE_ADDR": ADDRESS})


def _token(answer: object) -> str:
    return answer.headers["Lock-Token"]  # type: ignore[attr-defined,no-any-return]


def test_lock_and_unlock_are_recorded_with_user_address_and_drive_path(
    app: DriveApp, dav: Dav
) -> None:
    assert dav("MKCOL", "/dav/Réunions").status_code == 201
    assert dav("PUT", "/dav/R%C3%A9unions/ordre du jour.txt", b"1. budget").status_code == 201
    locked = _from(dav, "LOCK", "/dav/R%C3%A9unions/ordre%20du%20jour.txt", lockinfo(),
                   Depth="0")
    assert locked.status_code == 200
    path = "/Réunions/ordre du jour.txt"
    assert _events(app, "lock", "unlock") == [("tester", ADDRESS, "lock", path)]
    with app.runtime.sessions() as session:
        detail = session.scalars(select(AuditEvent.detail)
                                 .where(AuditEvent.action == "lock")).one()
    assert "exclusive" in detail and "depth 0" in detail
    unlocked = _from(dav, "UNLOCK", "/dav/R%C3%A9unions/ordre%20du%20jour.txt", "",
                     Lock_Token=_token(locked))
    assert unlocked.status_code == 204
    assert _events(app, "lock", "unlock") == [
        ("tester", ADDRESS, "lock", path), ("tester", ADDRESS, "unlock", path)]


def test_deleting_a_locked_item_records_its_unlock(app: DriveApp, dav: Dav) -> None:
    dav("PUT", "/dav/a.txt", b"a")
    token = _token(dav("LOCK", "/dav/a.txt", lockinfo(), Depth="0"))
    assert dav("DELETE", "/dav/a.txt", If=f"({token})").status_code == 204
    with app.runtime.sessions() as session:
        unlock = session.scalars(select(AuditEvent).where(AuditEvent.action == "unlock")).one()
    assert (unlock.user_login, unlock.path) == ("tester", "/a.txt")
    assert "deleted or moved" in unlock.detail
    assert [e[2] for e in _events(app, "lock", "unlock", "delete")] == [
        "lock", "delete", "unlock"], "the locks go once the item is gone"


def test_a_refused_lock_records_nothing(app: DriveApp, dav: Dav) -> None:
    dav("PUT", "/dav/b.txt", b"b")
    first = dav("LOCK", "/dav/b.txt", lockinfo(), Depth="0")
    second = dav("LOCK", "/dav/b.txt", lockinfo(), Depth="0")
    assert (first.status_code, second.status_code) == (200, 423)
    assert [e[2] for e in _events(app, "lock")] == ["lock"]

"""WebDAV locks as seen from outside WebDAV: the web drive's changes respect them.

A WebDAV client that opened a document for editing holds a lock (``dav_lock``,
shared by every process). The browser never holds lock tokens, so a change made
there is refused (Locked, 423) while a live lock covers the item: a lock on the
item itself, a depth-infinity lock on a folder above it, and, for a folder
moved or deleted with what it holds, any lock below it. Lock roots are stored as
WsgiDAV writes them: the quoted URL path under the drive's mount
(``urllib.parse.quote``, as ``get_ref_url``), a folder's without its final "/".
"""

from __future__ import annotations

import time
from urllib.parse import quote

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from davdrive.errors import Locked
from davdrive.models import Lock
from davdrive.paths import split_path


def _root(mount: str, parts: list[str]) -> str:
    """The lock root of the item at ``parts``: its quoted URL path, without a final "/"."""
    return quote(mount.rstrip("/") + "/" + "/".join(parts)).rstrip("/")


def lock_holder(session: Session, mount: str, path: str, *, below: bool = False,
                now: float | None = None) -> str | None:
    """The principal of a live lock that forbids changing the item at ``path`` (with
    ``below``: or anything it holds), or None; one statement."""
    now = time.time() if now is None else now
    parts = split_path(path)
    root = _root(mount, parts)
    ancestors = [_root(mount, parts[:i]) for i in range(len(parts))]
    conditions = [Lock.root == root,
                  and_(Lock.root.in_(ancestors), Lock.depth == "infinity")]
    if below:  # roots starting with root + "/": "/" sorts just before "0" (bytewise)
        column = Lock.root
        if session.get_bind().dialect.name == "postgresql":
            column = column.collate("C")  # type: ignore[assignment]
        conditions.append(and_(column > root + "/", column < root + "0"))
    found = session.scalars(
        select(Lock.principal).where(or_(*conditions),
                                     or_(Lock.expire < 0, Lock.expire >= now)).limit(1)
    ).first()
    return found


def require_unlocked(session: Session, mount: str, path: str, *, below: bool = False) -> None:
    """Locked (423) when a live WebDAV lock forbids changing ``path`` (see
    ``lock_holder``); the message names no holder (the lock may be on an item the
    user does not see) and says that nothing changed."""
    if lock_holder(session, mount, path, below=below) is not None:
        where = f"{path} or something it holds" if below else path
        raise Locked(
            f"{where} is locked: it is open for editing in a WebDAV client. Try again once "
            "it is closed; nothing was changed."
        )

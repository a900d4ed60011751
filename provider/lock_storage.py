"""WebDAV lock storage in SQL, shared by every server process.

Implements the interface of ``wsgidav.lock_man.lock_storage.LockStorageDict``
(lock dictionaries keyed by token, roots are normalised ref-URLs). WsgiDAV
does not pass the request to its lock storage, so each call runs in its own
short session. ``locks_for_roots`` serves a whole folder listing in one query.

The database enforces the locking rules: ``create`` takes the write lock
(``davdrive.write_lock``), reads the conflicting live locks and inserts the
new row in one transaction, so no thread or process can slip a conflicting
lock in between; a conflict raises 423 naming the locked items. The limits on
locks per item and per user are counted in that transaction too (507 past
them). WsgiDAV's in-process check before it only answers sooner. Given an
``Audited`` (who, from where, which drive path), ``create`` and ``delete``
record the ``lock`` / ``unlock`` event in the same transaction as the row.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, false, func, or_, select
from sqlalchemy.orm import Session, sessionmaker
from wsgidav import util
from wsgidav.dav_error import (
    HTTP_INSUFFICIENT_STORAGE,
    HTTP_LOCKED,
    DAVError,
    DAVErrorCondition,
    PRECONDITION_CODE_LockConflict,
)
from wsgidav.lock_man.lock_manager import (
    generate_lock_token,
    normalize_lock_root,
    validate_lock,
)

from davdrive import audit
from davdrive.models import Lock
from davdrive.prepared import Prepared
from davdrive.write_lock import take_write_lock

DEFAULT_TIMEOUT = 604800.0  # one week
MAX_TIMEOUT = 4 * 604800.0


@dataclass(frozen=True)
class LockLimits:
    owner_max_bytes: int
    per_item: int
    per_user: int


@dataclass(frozen=True)
class Audited:
    """Who locks or unlocks, from which address, and the drive path of the lock's root."""

    user: str
    ip: str
    path: str


def owner_text(owner: str | bytes | None) -> str:
    """The lock's owner XML as stored: text (the column is text on every database;
    bytes would be kept as a BLOB by SQLite but as their escaped hex by PostgreSQL)."""
    if isinstance(owner, bytes):
        return owner.decode("utf-8")
    return owner or ""


def owner_bytes(stored: str | bytes) -> bytes:
    """The owner XML as WsgiDAV wants it (bytes), from a stored value (text, or bytes
    in rows an earlier release wrote to SQLite)."""
    return stored if isinstance(stored, bytes) else stored.encode("utf-8")


def _to_dict(row: Lock) -> dict[str, Any]:
    return {
        "token": row.token,
        "root": row.root,
        "principal": row.principal,
        "owner": owner_bytes(row.owner),
        "scope": row.scope,
        "type": row.type,
        "depth": row.depth,
        "timeout": row.timeout,
        "expire": row.expire,
    }


def _live(now: float) -> Any:
    return or_(Lock.expire < 0, Lock.expire >= now)


def live_condition(now: float) -> Any:
    """The condition "this lock has not expired at ``now``", for other queries."""
    return _live(now)


def lock_conflicts(
    candidates: list[dict[str, Any]], url: str, scope: str
) -> list[str]:
    """Roots of the ``candidates`` that forbid a new ``scope`` lock on ``url``
    (RFC 4918 section 7, as WsgiDAV applies it): any lock below ``url`` (the
    candidates hold those only for a depth-infinity request), and any lock on
    ``url`` or a deep lock above it unless both are shared."""
    def conflicts(lock: dict[str, Any]) -> bool:
        below = lock["root"] != url and util.is_child_uri(url, lock["root"])
        return below or not (lock["scope"] == "shared" and scope == "shared")

    return [lock["root"] for lock in candidates if conflicts(lock)]


def _check_limits(counts: tuple[int, int], limits: LockLimits) -> None:
    on_item, by_user = counts
    if on_item >= limits.per_item:
        raise DAVError(
            HTTP_INSUFFICIENT_STORAGE,
            context_info=f"This item already has {on_item} locks, the most allowed; "
            "nothing was locked.",
        )
    if by_user >= limits.per_user:
        raise DAVError(
            HTTP_INSUFFICIENT_STORAGE,
            context_info=f"You hold {by_user} locks, the most allowed; unlock some "
            "first. Nothing was locked.",
        )


def _candidates_query(children: bool, any_depth: bool, on_ancestors: Any = None) -> Any:
    """Live locks on :root, on the :ancestors (any depth, or depth infinity only)
    and, with ``children``, in the range [:lo, :hi) of roots below :root.
    ``on_ancestors``: the condition on the ancestors, if not an expanding :ancestors."""
    if on_ancestors is None:
        on_ancestors = Lock.root.in_(bindparam("ancestors", expanding=True))
    conditions = [
        Lock.root == bindparam("root"),
        on_ancestors if any_depth else and_(on_ancestors, Lock.depth == "infinity"),
    ]
    if children:
        conditions.append(and_(Lock.root >= bindparam("lo"), Lock.root < bindparam("hi")))
    live = or_(Lock.expire < 0, Lock.expire >= bindparam("now"))
    columns = (Lock.token, Lock.root, Lock.principal, Lock.scope, Lock.depth)
    return select(*columns).where(or_(*conditions), live)


@lru_cache(maxsize=256)
def _candidates_prepared(children: bool, any_depth: bool, ancestors: int) -> Prepared:
    """``_candidates_query`` for a root with ``ancestors`` ancestors (bound as
    :ancestor0, :ancestor1...), compiled once: it runs on every write."""
    names: list[Any] = [bindparam(f"ancestor{n}") for n in range(ancestors)]
    on_ancestors = Lock.root.in_(names) if names else false()
    return Prepared(_candidates_query(children, any_depth, on_ancestors))




class SqlLockStorage:
    """Locks as rows of ``dav_lock``."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def __repr__(self) -> str:
        return "SqlLockStorage"

    def open(self) -> None:
        """Nothing to open: sessions are made per call."""

    def close(self) -> None:
        """Nothing to close."""

    def cleanup(self) -> None:
        with self._sessions.begin() as session:
            session.execute(delete(Lock).where(Lock.expire >= 0, Lock.expire < time.time()))

    def clear(self) -> None:
        with self._sessions.begin() as session:
            session.execute(delete(Lock))

    def get(self, token: str) -> dict[str, Any] | None:
        with self._sessions() as session:
            row = session.get(Lock, token)
            if row is None:
                return None
            if 0 <= row.expire < time.time():
                session.delete(row)
                session.commit()
                return None
            return _to_dict(row)

    def create(
        self, path: str, lock: dict[str, Any], limits: LockLimits | None = None,
        audited: Audited | None = None,
    ) -> dict[str, Any]:
        """Store ``lock`` on ``path`` unless a live lock conflicts (423) or, with
        ``limits``, the item or the principal already holds the most allowed (507);
        with ``audited``, the ``lock`` event is recorded with it."""
        assert lock.get("token") is None and lock.get("expire") is None
        lock["root"] = normalize_lock_root(path)
        timeout = lock.get("timeout")
        timeout = DEFAULT_TIMEOUT if timeout is None else float(timeout)
        if timeout < 0 or timeout > MAX_TIMEOUT:
            timeout = MAX_TIMEOUT
        lock["timeout"] = timeout
        lock["expire"] = time.time() + timeout
        validate_lock(lock)
        lock["token"] = generate_lock_token()
        with self._sessions.begin() as session:
            take_write_lock(session, "dav_lock")
            if limits is not None:
                _check_limits(self._counts(session, lock["root"], lock["principal"]), limits)
            candidates = self._candidates(
                session, lock["root"], children=lock["depth"] == "infinity"
            )
            hrefs = lock_conflicts(candidates, lock["root"], lock["scope"])
            if hrefs:
                lock["token"] = None
                errcond = DAVErrorCondition(PRECONDITION_CODE_LockConflict)
                for href in hrefs:
                    errcond.add_href(href)
                raise DAVError(HTTP_LOCKED, err_condition=errcond)
            session.add(
                Lock(
                    token=lock["token"], root=lock["root"], principal=lock["principal"],
                    owner=owner_text(lock.get("owner")), scope=lock["scope"], type=lock["type"],
                    depth=lock["depth"], timeout=timeout, expire=lock["expire"],
                )
            )
            if audited is not None:
                audit.record(
                    session, user=audited.user, ip=audited.ip, action="lock", path=audited.path,
                    detail=f"{lock['scope']} {lock['type']} lock, depth {lock['depth']}, "
                           f"for {int(timeout)} s",
                )
        return lock

    def refresh(self, token: str, *, timeout: float) -> dict[str, Any]:
        if timeout < 0 or timeout > MAX_TIMEOUT:
            timeout = MAX_TIMEOUT
        with self._sessions.begin() as session:
            row = session.get(Lock, token)
            if row is None:
                raise ValueError("Lock must exist")
            row.timeout = timeout
            row.expire = time.time() + timeout
            return _to_dict(row)

    def delete(self, token: str, audited: Audited | None = None, detail: str = "") -> bool:
        """Remove the lock ``token``; True when there was one. With ``audited``, an
        ``unlock`` event (with ``detail``) is recorded with the removal."""
        with self._sessions.begin() as session:
            result = session.execute(delete(Lock).where(Lock.token == token))
            removed = bool(getattr(result, "rowcount", 0))
            if removed and audited is not None:
                audit.record(session, user=audited.user, ip=audited.ip, action="unlock",
                             path=audited.path, detail=detail)
            return removed

    def get_lock_list(
        self, path: str, *, include_root: bool, include_children: bool, token_only: bool
    ) -> list[Any]:
        root = normalize_lock_root(path)
        conditions = []
        if include_root:
            conditions.append(Lock.root == root)
        if include_children:
            prefix = root.rstrip("/") + "/"
            # Every root below starts with prefix: a range on the index, no LIKE scan.
            conditions.append(and_(Lock.root >= prefix, Lock.root < prefix[:-1] + "0"))
        with self._sessions() as session:
            rows = session.scalars(select(Lock).where(or_(*conditions), _live(time.time())))
            locks = [_to_dict(r) for r in rows]
        return [lk["token"] for lk in locks] if token_only else locks

    def conflict_candidates(self, url: str, *, children: bool) -> list[dict[str, Any]]:
        """Live locks that may conflict with a change of ``url``, in one indexed query.

        Those on ``url`` itself, the depth-infinity ones on its ancestors and,
        with ``children``, every lock below it. Owner texts are not read.
        """
        with self._sessions() as session:
            return self._candidates(session, url, children=children)

    def write_candidates(
        self, url: str, *, children: bool, session: Session | Connection | None = None
    ) -> list[dict[str, Any]]:
        """Live locks on ``url`` and on each of its ancestors, whatever their depth
        (and, with ``children``, every lock below ``url``), in one indexed query.

        A superset of what any write check on ``url`` or one of its ancestors
        needs, so one request's checks share it (``DriveLockManager``). Runs
        in ``session`` (or on a Core connection) when given (without flushing it).
        """
        if isinstance(session, Connection):
            return self._candidates(session, url, children=children, any_depth=True)
        if session is not None:
            with session.no_autoflush:
                return self._candidates(session, url, children=children, any_depth=True)
        with self._sessions() as own:
            return self._candidates(own, url, children=children, any_depth=True)

    @staticmethod
    def _candidates(
        session: Session | Connection, url: str, *, children: bool, any_depth: bool = False
    ) -> list[dict[str, Any]]:
        root = normalize_lock_root(url)
        ancestors = _ancestors(root)
        prefix = root.rstrip("/") + "/"
        # Every root below starts with prefix: a range on the index, no LIKE.
        params = {"root": root, "ancestors": ancestors, "now": time.time(),
                  "lo": prefix, "hi": prefix[:-1] + "0"}
        conn = session if isinstance(session, Connection) else session.connection()
        params.update({f"ancestor{n}": a for n, a in enumerate(params.pop("ancestors"))})
        prepared = _candidates_prepared(children, any_depth, len(ancestors))
        rows = prepared.rows(conn, params)
        return [
            {"token": t, "root": r, "principal": p, "scope": sc, "depth": d}
            for t, r, p, sc, d in rows
        ]

    def counts(self, root: str, principal: str) -> tuple[int, int]:
        """(live locks on ``root``, live locks held by ``principal``), in one query."""
        with self._sessions() as session:
            return self._counts(session, normalize_lock_root(root), principal)

    @staticmethod
    def _counts(session: Session, root: str, principal: str) -> tuple[int, int]:
        on_root, by_principal = session.execute(
            select(
                func.count().filter(Lock.root == root),
                func.count().filter(Lock.principal == principal),
            ).where(or_(Lock.root == root, Lock.principal == principal), _live(time.time()))
        ).one()
        return int(on_root or 0), int(by_principal or 0)

    def covering_locks(self, url: str) -> list[dict[str, Any]]:
        """Live locks on ``url`` and the depth-infinity ones on its ancestors (whole
        lock dictionaries), in one indexed query."""
        root = normalize_lock_root(url)
        ancestors = _ancestors(root)
        condition = Lock.root == root
        if ancestors:
            condition = or_(condition, and_(Lock.root.in_(ancestors), Lock.depth == "infinity"))
        with self._sessions() as session:
            rows = session.scalars(select(Lock).where(condition, _live(time.time())))
            return [_to_dict(r) for r in rows]

    def locks_for_roots(self, roots: list[str]) -> dict[str, list[dict[str, Any]]]:
        """Direct live locks of many roots in one query: {root: [lock, ...]}."""
        result: dict[str, list[dict[str, Any]]] = {}
        if not roots:
            return result
        with self._sessions() as session:
            for row in session.scalars(
                select(Lock).where(Lock.root.in_(roots), _live(time.time()))
            ):
                result.setdefault(row.root, []).append(_to_dict(row))
        return result


def _ancestors(root: str) -> list[str]:
    """The lock roots above ``root``, nearest first, ending with "/"."""
    ancestors = []
    parent = root
    while parent != "/":
        parent = parent.rsplit("/", 1)[0] or "/"
        ancestors.append(parent)
    return ancestors

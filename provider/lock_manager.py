"""WsgiDAV's lock manager with bounded, index-backed conflict checks.

``DriveLockManager`` keeps WsgiDAV's locking rules (RFC 4918 section 7, as
``wsgidav.lock_man.lock_manager.LockManager`` implements them) but finds the
conflicting locks with one indexed query (``SqlLockStorage.conflict_candidates``)
instead of one query per ancestor that also reads every owner text, and it
enforces limits: the size of the owner text, the locks on one item and the
locks held by one user. Past a limit the LOCK answers with a clear 413 or 507
and nothing is stored.

One lock query per write request: the first write check of a request on its
own URL (or an ancestor of it, as PUT checks the parent first) reads the
live locks on that URL and on all its ancestors, of any depth, in one query
(``SqlLockStorage.write_candidates``), in the request's session (its reads
see every committed lock: SQLite reads outside a write transaction run in
autocommit, a write transaction holds the write lock, and PostgreSQL reads
committed data); the request's later checks on those URLs filter that
snapshot. It is reused only while no lock was created or removed in this
process since it was read, checked under WsgiDAV's lock when a write begins,
so WsgiDAV's guard against a LOCK slipping in between check and write holds
as before. Plain write checks no longer take that process-wide lock: the
database answers them.

Every lock granted and every lock removed (UNLOCK, or with the item a
DELETE or MOVE takes away) is an event of the history (``lock``,
``unlock``), recorded in the transaction that stores or removes the row,
under the signed-in user, the client's address and the item's drive path.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

from wsgidav import util
from wsgidav.dav_error import (
    HTTP_LOCKED,
    HTTP_REQUEST_ENTITY_TOO_LARGE,
    DAVError,
    DAVErrorCondition,
    PRECONDITION_CODE_LockConflict,
)
from wsgidav.lock_man.lock_manager import LockManager, normalize_lock_root

from provider.context import CurrentRequest, RequestContext
from provider.lock_storage import Audited, LockLimits, SqlLockStorage, lock_conflicts

__all__ = ["DriveLockManager", "LockLimits"]


@dataclass(frozen=True)
class LockSnapshot:
    """Live locks on ``target`` and its ancestors (any depth), and below ``target``
    when ``children``, read when this process's lock ``changes`` counter had that value."""

    target: str
    children: bool
    changes: int
    locks: list[dict[str, Any]]

    def covers(self, url: str, depth: str) -> bool:
        if depth == "infinity":
            return self.children and url == self.target
        return url == self.target or util.is_child_uri(url, self.target)


def _relevant(lock: dict[str, Any], url: str, depth: str) -> bool:
    """Whether ``lock`` bears on a write of ``url`` with ``depth`` (WsgiDAV's rule)."""
    root = lock["root"]
    if root == url:
        return True
    if util.is_child_uri(root, url):  # on an ancestor: only a depth-infinity lock
        return bool(lock["depth"] == "infinity")
    return depth == "infinity" and util.is_child_uri(url, root)


class DriveLockManager(LockManager):  # type: ignore[misc]
    """LockManager over ``SqlLockStorage`` with limits and one-query conflict checks."""

    def __init__(
        self, storage: SqlLockStorage, limits: LockLimits, current: CurrentRequest | None = None,
        mount: str = "",
    ) -> None:
        super().__init__(storage)
        self.limits = limits
        self.current = current
        self.mount = mount  # the drive's URL path: lock roots under it are drive paths
        self._changes = 0  # locks created or removed by this process (snapshot validity)
        self._changes_mutex = threading.Lock()

    def _changed(self) -> None:
        """Count a lock change, after it is committed (snapshots read before are stale)."""
        with self._changes_mutex:
            self._changes += 1

    def release(self, token: str) -> None:
        """UNLOCK: remove the lock and record the ``unlock`` event."""
        self._release(token, "")

    def _release(self, token: str, detail: str) -> None:
        lock = self.storage.get(token)
        principal = lock["principal"] if lock is not None else ""
        audited = self._audited(lock["root"], principal) if lock is not None else None
        self.storage.delete(token, audited, detail)
        self._changed()

    def remove_all_locks_from_url(self, url: str, *, recursive: bool = False) -> None:
        """As WsgiDAV's (the locks of an item deleted or moved away, and of what it
        held), each removal recorded as an ``unlock`` event saying why."""
        self._lock.acquire_write()
        try:
            for lock in self.get_url_lock_list(url, recursive=recursive):
                self._release(lock["token"], "removed with the item (deleted or moved)")
        finally:
            self._lock.release()

    def _audited(self, root: str, principal: str) -> Audited:
        """Who acts (the signed-in user, else the lock's principal), from where, and
        the drive path of ``root`` (a lock root: the item's URL path, %-encoded)."""
        ctx = self.current.ctx if self.current is not None else None
        actor = ctx.actor if ctx is not None else None
        ip = ctx.environ.get("REMOTE_ADDR", "") if ctx is not None else ""
        path = unquote(root)
        if self.mount and (path == self.mount or path.startswith(self.mount + "/")):
            path = path[len(self.mount):] or "/"
        return Audited(actor.login if actor is not None else principal, ip, path)

    def refresh(self, token: str, *, timeout: Any = None) -> Any:
        lock = super().refresh(token, timeout=timeout)
        self._changed()
        return lock

    def get_indirect_url_lock_list(self, url: str, *, principal: str | None = None) -> Any:
        """As WsgiDAV's (locks on ``url`` and deep locks above it), in one query."""
        locks = self.storage.covering_locks(url)
        return [lk for lk in locks if principal is None or principal == lk["principal"]]

    def check_write_permission(
        self, *, url: str, depth: str, token_list: list[str], principal: str
    ) -> None:
        """As WsgiDAV's, without its process-wide lock: one query (or none) answers it."""
        errcond = self._get_write_conflicts(url, depth, token_list, principal)
        if errcond.hrefs:
            raise DAVError(HTTP_LOCKED, err_condition=errcond)

    # --- the shared snapshot ------------------------------------------------------

    def _write_candidates(self, url: str, depth: str) -> list[dict[str, Any]]:
        """Locks that may bear on a write of ``url``: from this request's snapshot
        when it covers ``url`` and is still valid, else from one query."""
        ctx = self.current.ctx if self.current is not None else None
        snapshot = ctx.lock_snapshot if ctx is not None else None
        if (
            isinstance(snapshot, LockSnapshot)
            and snapshot.changes == self._changes
            and snapshot.covers(url, depth)
        ):
            return snapshot.locks
        target = _request_url(ctx) if ctx is not None else None
        if ctx is None or target is None or not (
            url == target or (depth == "0" and util.is_child_uri(url, target))
        ):
            return self.storage.conflict_candidates(url, children=depth == "infinity")
        children = depth == "infinity"  # then url == target
        return self._snapshot(ctx, target, children, ctx.session)

    def _snapshot(
        self, ctx: RequestContext | None, target: str, children: bool, session: Any = None
    ) -> list[dict[str, Any]]:
        """Read the locks a write of ``target`` needs (one query) and keep them as
        ``ctx``'s snapshot, valid while this process's lock changes counter stays."""
        changes = self._changes  # read before the query: a change during it invalidates
        locks = self.storage.write_candidates(target, children=children, session=session)
        if ctx is not None:
            ctx.lock_snapshot = LockSnapshot(target, children, changes, locks)
        return locks

    def acquire(
        self, *, url: str, lock_type: str, lock_scope: str, lock_depth: str,
        lock_owner: str | bytes, timeout: Any, principal: str, token_list: list[str],
    ) -> Any:
        """Check the limits, then WsgiDAV's conflict rules, then store the lock."""
        owner = lock_owner or b""
        owner_bytes = len(owner if isinstance(owner, bytes) else owner.encode("utf-8"))
        if owner_bytes > self.limits.owner_max_bytes:
            raise DAVError(
                HTTP_REQUEST_ENTITY_TOO_LARGE,
                context_info=f"The lock owner text is limited to {self.limits.owner_max_bytes} "
                "bytes; nothing was locked.",
            )
        return super().acquire(
            url=url, lock_type=lock_type, lock_scope=lock_scope, lock_depth=lock_depth,
            lock_owner=lock_owner, timeout=timeout, principal=principal, token_list=token_list,
        )

    def _generate_lock(self, principal: str, lock_type: str, lock_scope: str,
                       lock_depth: str, lock_owner: Any, path: str, timeout: Any) -> Any:
        """As WsgiDAV's, but the storage counts the limits and re-checks conflicts
        in the transaction that stores the lock."""
        if timeout is None:
            timeout = LockManager.LOCK_TIME_OUT_DEFAULT
        elif timeout < 0:
            timeout = -1
        lock = {
            "root": path, "type": lock_type, "scope": lock_scope, "depth": lock_depth,
            "owner": lock_owner, "timeout": timeout, "principal": principal,
        }
        self.storage.create(path, lock, self.limits, self._audited(path, principal))
        self._changed()  # still under self._lock: acquire holds it for writing
        return lock

    def _check_lock_permission(self, url: str, lock_type: str, lock_scope: str,
                               lock_depth: str, token_list: list[str], principal: str) -> None:
        """As WsgiDAV's: may ``principal`` lock ``url``? Raises 423 naming the conflicts."""
        errcond = DAVErrorCondition(PRECONDITION_CODE_LockConflict)
        deep = lock_depth == "infinity"
        candidates = self.storage.conflict_candidates(url, children=deep)
        for href in lock_conflicts(candidates, url, lock_scope):
            errcond.add_href(href)
        for w_url, count in self._active_writes.items():
            if count and (w_url == url or (deep and util.is_child_uri(url, w_url))):
                errcond.add_href(w_url)  # a write in progress (WsgiDAV's TOCTOU guard)
        if errcond.hrefs:
            raise DAVError(HTTP_LOCKED, err_condition=errcond)

    def _get_write_conflicts(self, url: str, depth: str, token_list: list[str],
                             principal: str) -> DAVErrorCondition:
        """As WsgiDAV's: the locks that keep ``principal`` from changing ``url``."""
        url = normalize_lock_root(url)
        errcond = DAVErrorCondition(PRECONDITION_CODE_LockConflict)
        for lock in self._write_candidates(url, depth):
            if not _relevant(lock, url, depth):
                continue
            below = lock["root"] != url and util.is_child_uri(url, lock["root"])
            owned = principal == lock["principal"] and lock["token"] in token_list
            if below or not owned:
                errcond.add_href(lock["root"])
        return errcond

    @contextmanager
    def plain_write(self, url: str, *, new: bool) -> Iterator[bool]:
        """For a write that presents no lock token: yields False, at once, when any
        lock applies (on ``url``, a depth-infinity one above it, with ``new`` any on
        its parent folder: what WsgiDAV's PUT checks), else True, with ``url``
        marked as being written for the block (no lock is granted on it meanwhile,
        as in ``write_transaction``). One query (``write_candidates``) on the
        request's ``reads`` connection, which the caller must release before it
        receives the body; kept as the request's snapshot so that WsgiDAV's own
        checks need none when it falls through."""
        url = normalize_lock_root(url)
        parent = url.rsplit("/", 1)[0] or "/"
        ctx = self.current.ctx if self.current is not None else None
        self._lock.acquire_write()
        try:
            # On the request's read connection (a plain Core one), which the caller
            # gives back before the body is received (tests/http/
            # test_connection_holding.py). Kept as the snapshot: WsgiDAV's checks
            # reuse it if the write falls through.
            locks = self._snapshot(ctx, url, False, ctx.reads if ctx is not None else None)
            free = not any(
                lock["root"] == url
                or lock["depth"] == "infinity"
                or (new and lock["root"] == parent)
                for lock in locks
            )
            if free:
                self._active_writes[url] = self._active_writes.get(url, 0) + 1
        finally:
            self._lock.release()
        if not free:
            yield False
            return
        try:
            yield True
        finally:
            self._end_write_transaction(url)

    def being_written(self, url: str) -> bool:
        """True while a write of ``url`` (``plain_write``, ``write_transaction``) runs."""
        return bool(self._active_writes.get(normalize_lock_root(url)))


def _request_url(ctx: RequestContext) -> str | None:
    """The lock root of the request's own URL (as ``get_ref_url`` would give it)."""
    environ = ctx.environ
    provider = environ.get("wsgidav.provider")
    path = environ.get("PATH_INFO")
    if provider is None or not path:
        return None
    return normalize_lock_root(quote(provider.share_path + path))  # type: ignore[no-any-return]

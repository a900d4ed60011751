"""WsgiDAV's lock manager with bounded, index-backed conflict checks.

``DriveLockManager`` keeps WsgiDAV's locking rules (RFC 4918 section 7, as
``wsgidav.lock_man.lock_manager.LockManager`` implements them) but finds the
conflicting locks with one indexed query (``SqlLockStorage.conflict_candidates``)
instead of one query per ancestor that also reads every owner text, and it
enforces limits: the size of the owner text, the locks on one item and the
locks held by one user. Past a limit the LOCK answers with a clear 413 or 507
and nothing is stored.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from wsgidav import util
from wsgidav.dav_error import (
    HTTP_LOCKED,
    HTTP_REQUEST_ENTITY_TOO_LARGE,
    DAVError,
    DAVErrorCondition,
    PRECONDITION_CODE_LockConflict,
)
from wsgidav.lock_man.lock_manager import LockManager, normalize_lock_root

from provider.lock_storage import LockLimits, SqlLockStorage, lock_conflicts

__all__ = ["DriveLockManager", "LockLimits"]


class DriveLockManager(LockManager):  # type: ignore[misc]
    """LockManager over ``SqlLockStorage`` with limits and one-query conflict checks."""

    def __init__(self, storage: SqlLockStorage, limits: LockLimits) -> None:
        super().__init__(storage)
        self.limits = limits

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
        self.storage.create(path, lock, self.limits)
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
        for lock in self.storage.conflict_candidates(url, children=depth == "infinity"):
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
        as in ``write_transaction``). One query."""
        url = normalize_lock_root(url)
        self._lock.acquire_write()
        try:
            free = not self.storage.conflict_candidates(url, children=False, with_parent=new)
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

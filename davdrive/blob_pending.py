"""What both blob stores do when a writer's commit ends: its pending count."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class SettlesWriters:
    """``settle`` for a blob store holding ``_pending`` ({sha256: writers pending}),
    ``_lock``, ``collect_failed`` and ``delete(sha256)``."""

    _pending: dict[str, int]
    _lock: threading.Lock
    collect_failed: bool

    def delete(self, sha256: str) -> None:  # pragma: no cover - each store defines it
        raise NotImplementedError

    def settle(self, writer: Any, failed: bool, referenced: Callable[[str], bool]) -> None:
        """End ``writer``'s pending count and remove its kept temporary copy. After a
        failed commit, delete the blob when no other writer is pending on it,
        ``collect_failed`` is set and ``referenced(sha256)`` (a blob row exists, read
        after the rollback) is False; when that cannot be told, keep it (``davdrive
        check --repair`` collects it). Idempotent."""
        sha256, writer.sha256 = writer.sha256, None
        writer.release_temp()
        if sha256 is None:
            return
        with self._lock:
            left = self._release(sha256)
            if not (failed and left == 0 and self.collect_failed):
                return
            try:
                keep = referenced(sha256)
            except Exception:
                keep = True
            if not keep:
                self.delete(sha256)

    def _release(self, sha256: str) -> int:
        left = self._pending.get(sha256, 1) - 1
        if left > 0:
            self._pending[sha256] = left
        else:
            self._pending.pop(sha256, None)
        return left

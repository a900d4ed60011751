"""A bound on concurrent password verifications.

argon2id is meant to be expensive (about 150 ms of CPU and 64 MiB each), so a
password spray over many connections would otherwise take every core and slow
every signed-in user. ``VerifyGate`` lets at most ``slots`` verifications run
at once; a request that cannot get a slot within ``wait_seconds`` gets
``VerifierBusy`` (answered 503 with Retry-After) without running argon2, so a
worker thread is never held for long. Cached credentials and app passwords
never pass through the gate.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class VerifierBusy(Exception):
    """No verification slot became free in time."""


def default_slots(cpu_count: int | None = None) -> int:
    """One less than the CPU count, at least 1 (so one core stays for serving)."""
    cpus = cpu_count if cpu_count is not None else (os.cpu_count() or 1)
    return max(1, cpus - 1)


class VerifyGate:
    def __init__(self, slots: int, wait_seconds: float) -> None:
        if slots < 1:
            raise ValueError("a verify gate needs at least one slot")
        self.slots = slots
        self.wait_seconds = wait_seconds
        self._semaphore = threading.BoundedSemaphore(slots)

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one slot for the block; raises ``VerifierBusy`` if none is free in time."""
        if not self._semaphore.acquire(timeout=self.wait_seconds):
            raise VerifierBusy
        try:
            yield
        finally:
            self._semaphore.release()

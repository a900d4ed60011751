"""Several server processes: a supervising parent and forked workers.

``supervise(count, work)`` forks ``count`` workers, each running ``work(slot)``
(``slot``: 0 to ``count - 1``, kept by a worker started again; its return value
is the worker's exit status), and watches them:

- The parent's objects are frozen out of the garbage collector before each fork
  (``gc.freeze``), so that the memory they fill stays shared with the workers.
- Whatever the parent holds is inherited: the listening socket the workers
  accept on, and the data folder's server lock (an ``flock`` on an inherited
  descriptor), so a second ``serve`` stays refused while any worker lives.
- A worker that ends while the parent is not stopping is started again, with
  a log line; if workers end more than ``RESTART_LIMIT`` times within
  ``RESTART_WINDOW`` seconds (a worker that cannot start), every worker is
  stopped and ``supervise`` returns 1.
- SIGTERM or SIGINT to the parent sends SIGTERM to every worker, waits up to
  ``STOP_GRACE`` seconds, SIGKILLs what is left, and returns 0.

The workers share nothing but the socket and what is in the database. No
threads may run in the parent before the fork.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from functools import partial
from typing import Any

_log = logging.getLogger("davdrive")

RESTART_LIMIT = 5
RESTART_WINDOW = 60.0
STOP_GRACE = 15.0
POLL = 0.1


def supervise(count: int, work: Callable[[int], int]) -> int:
    """Run ``count`` workers until SIGTERM/SIGINT; see the module docstring."""
    stop: list[int] = []

    def _request_stop(signum: int, frame: Any) -> None:
        stop.append(signum)

    previous = {s: signal.signal(s, _request_stop) for s in (signal.SIGTERM, signal.SIGINT)}
    workers: dict[int, int] = {}  # pid -> slot
    ends: list[float] = []
    status = 0
    try:
        for slot in range(count):
            workers[_fork(partial(work, slot))] = slot
        while not stop:
            pid, code = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                time.sleep(POLL)
                continue
            if pid not in workers:
                continue
            slot = workers.pop(pid)
            now = time.monotonic()
            ends[:] = [t for t in ends if now - t < RESTART_WINDOW] + [now]
            if len(ends) > RESTART_LIMIT:
                _log.error("workers keep ending (last: %s); stopping", _describe(code))
                status = 1
                break
            _log.warning("worker %d (pid %d) ended: %s; starting it again",
                         slot, pid, _describe(code))
            workers[_fork(partial(work, slot))] = slot
    finally:
        _stop_all(workers)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return status


def _fork(work: Callable[[], int]) -> int:
    sys.stdout.flush()
    sys.stderr.flush()
    # What the parent has built so far (modules, mostly) moves out of the collector's
    # reach: a worker's collections then never write to those objects, so their pages
    # stay shared with the parent instead of being copied into every worker.
    gc.freeze()
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, signal.SIG_DFL)
        code = work()
    except BaseException:  # noqa: BLE001 - a worker reports and ends, never returns
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return 0  # not reached


def _stop_all(workers: dict[int, int]) -> None:
    for pid in workers:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE
    while workers and time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(POLL)
        else:
            workers.pop(pid, None)
    for pid in list(workers):
        _log.warning("worker pid %d did not stop in %.0f s; killing it", pid, STOP_GRACE)
        _signal(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        workers.pop(pid)


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _describe(code: int) -> str:
    if os.WIFSIGNALED(code):
        return f"killed by signal {os.WTERMSIG(code)}"
    return f"exit status {os.waitstatus_to_exitcode(code)}"

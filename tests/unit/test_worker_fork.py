"""A worker is forked with the parent's objects frozen out of the garbage collector.

Issue 12 (memory of `serve --workers N`): a worker's collections wrote to every
object it inherited, so the pages holding the parent's modules were copied into
each worker (about 30 MiB more in all for two workers). ``workers._fork`` calls
``gc.freeze()`` first: the worker starts with the inherited objects frozen.
"""

from __future__ import annotations

import gc
import os

from davdrive import workers


def test_the_worker_starts_with_the_inherited_objects_frozen() -> None:
    marker = [object() for _ in range(100)]  # made in the parent, before the fork

    def work() -> int:
        return 0 if gc.get_freeze_count() >= len(marker) else 3

    try:
        pid = workers._fork(work)
        _, status = os.waitpid(pid, 0)
    finally:
        gc.unfreeze()  # the test process goes on collecting as before
    assert os.waitstatus_to_exitcode(status) == 0


def test_serving_processes_collect_the_young_generation_less_often() -> None:
    """``tune_collector`` (called by ``serve`` and by each worker) raises the youngest
    generation's threshold to ``GC_YOUNG_THRESHOLD`` and keeps the older ones'."""
    from davdrive.server import GC_YOUNG_THRESHOLD, tune_collector

    before = gc.get_threshold()
    try:
        tune_collector()
        assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, before[1], before[2])
        assert before[0] < GC_YOUNG_THRESHOLD
    finally:
        gc.set_threshold(*before)

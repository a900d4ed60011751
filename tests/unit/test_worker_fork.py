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


"""Receiving a large upload on two threads: reading the body overlaps storing it.

``receive(read_into, length, count, store)`` reads up to ``length`` bytes with
``read_into(view)`` (fills ``view``, fewer bytes only at the end of the
source, 0 when it ended) into a ring of ``RING`` buffers of ``BLOCK`` bytes,
on the caller's thread; one helper thread ``store``s each filled buffer (the
blob writer: temp file write and sha256) and gives it back for the next read.
The socket read, the copy into the page cache and the digest each release the
GIL, so on two free cores the upload costs about the longest of them, not
their sum; no buffer is allocated per block.

Contract:

- ``count(n)`` runs on the caller's thread before a block is handed over
  (the size limit: it may raise);
- ``store`` sees the blocks in order; after it raises, nothing more is
  stored, and ``receive`` raises that error once the helper has ended;
- ``receive`` returns (or raises) only after the helper thread has ended:
  nothing writes to the temp file afterwards, whatever went wrong;
- memory: ``RING * BLOCK`` bytes per upload, whatever its size.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

BLOCK = 1 << 20
RING = 4

ReadInto = Callable[[memoryview], int]


class _Storer(threading.Thread):
    """Stores the blocks it is given, in order; remembers the first error."""

    def __init__(self, store: Callable[[memoryview], Any]) -> None:
        super().__init__(name="upload-store", daemon=True)
        self.store = store
        self.todo: queue.SimpleQueue[tuple[bytearray, int] | None] = queue.SimpleQueue()
        self.done: queue.SimpleQueue[bytearray] = queue.SimpleQueue()
        self.error: BaseException | None = None

    def run(self) -> None:
        while (item := self.todo.get()) is not None:
            buffer, n = item
            if self.error is None:
                try:
                    with memoryview(buffer) as view, view[:n] as block:
                        self.store(block)
                except BaseException as exc:  # noqa: BLE001 - raised by receive()
                    self.error = exc
            self.done.put(buffer)


def receive(
    read_into: ReadInto, length: int, count: Callable[[int], Any],
    store: Callable[[memoryview], Any],
) -> int:
    """Read up to ``length`` bytes and store them (see the module); the bytes read."""
    storer = _Storer(store)
    storer.start()
    free = [bytearray(BLOCK) for _ in range(min(RING, -(-length // BLOCK)))]
    got = 0
    try:
        while got < length and storer.error is None:
            buffer = free.pop() if free else storer.done.get()
            if storer.error is not None:
                break
            with memoryview(buffer) as view, view[: min(BLOCK, length - got)] as part:
                n = read_into(part)
            if not n:
                break
            count(n)
            got += n
            storer.todo.put((buffer, n))
    finally:
        storer.todo.put(None)
        storer.join()
    if storer.error is not None:
        raise storer.error
    return got

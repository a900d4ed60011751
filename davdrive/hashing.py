"""The three digests of an upload (sha256, sha1, md5), on two cores for large ones.

sha256 is the content address; sha1 and md5 are the ownCloud checksums. One
core computes all three at about 450 MB/s, slower than a client sends on the
loopback. ``ContentHashes`` hashes the first ``PARALLEL_FROM`` bytes in the
caller's thread; past that it hands each block (immutable ``bytes``) to two
helper threads, one updating sha1 and one md5, while the caller updates
sha256 and writes the block (hashlib releases the GIL on large buffers). At
most ``QUEUED`` blocks wait for each helper, so memory stays bounded.
``hexdigests()`` waits for the helpers to catch up; ``close()`` ends them
(they are also ended when the object is collected).
"""

from __future__ import annotations

import hashlib
import queue
import threading
from typing import Any

PARALLEL_FROM = 2 * 1024 * 1024  # bytes hashed inline before the helper starts
MIN_BLOCK = 64 * 1024  # smaller blocks are hashed inline (a hand-over costs more)
QUEUED = 4

_STOP = None


class ContentHashes:
    def __init__(self) -> None:
        self._sha256 = hashlib.sha256()
        self._sha1 = hashlib.sha1(usedforsecurity=False)
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._seen = 0
        self._helpers: list[tuple[queue.Queue[Any], threading.Thread]] = []
        self._closed = False

    def update(self, data: bytes) -> None:
        """Add ``data`` (it must not change afterwards: the helper may still read it)."""
        self._seen += len(data)
        if (not self._helpers and not self._closed and self._seen > PARALLEL_FROM
                and len(data) >= MIN_BLOCK):
            self._start()
        if self._helpers:
            block = data if isinstance(data, bytes) else bytes(data)
            for q, _ in self._helpers:
                q.put(block)
        else:
            self._sha1.update(data)
            self._md5.update(data)
        self._sha256.update(data)

    def hexdigests(self) -> dict[str, str]:
        """Hex digests of everything added so far: keys ``sha256``, ``sha1``, ``md5``."""
        for q, _ in self._helpers:
            q.join()
        return {
            "sha256": self._sha256.hexdigest(),
            "sha1": self._sha1.hexdigest(),
            "md5": self._md5.hexdigest(),
        }

    def close(self) -> None:
        """End the helper thread, if any; the digests stay readable (and further
        blocks are hashed inline)."""
        self._closed = True
        helpers, self._helpers = self._helpers, []
        for q, _ in helpers:
            q.put(_STOP)
        for _, thread in helpers:
            thread.join()

    def __del__(self) -> None:
        for q, _ in self._helpers:
            q.put(_STOP)

    def _start(self) -> None:
        for digest in (self._sha1, self._md5):
            q: queue.Queue[Any] = queue.Queue(maxsize=QUEUED)
            thread = threading.Thread(
                target=_hash_blocks, args=(q, digest), name="upload-hash", daemon=True
            )
            thread.start()
            self._helpers.append((q, thread))


def _hash_blocks(q: queue.Queue[Any], digest: Any) -> None:
    while True:
        block = q.get()
        try:
            if block is _STOP:
                return
            digest.update(block)
        finally:
            q.task_done()

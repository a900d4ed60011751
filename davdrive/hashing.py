"""The digests of an upload: always sha256, sha1 and md5 only when asked for.

sha256 is the content address, computed for every upload. sha1 and md5 are
the ownCloud checksums: an upload computes them only when its client sent an
``OC-Checksum`` of that algorithm (``ContentHashes(extra=...)``); otherwise
they are computed later from the stored content when first shown
(``davdrive.checksums``). sha1+md5 cost more CPU than sha256 and the write
together, so a plain upload no longer pays for them.

With extras, ``ContentHashes`` hashes the first ``PARALLEL_FROM`` bytes in
the caller's thread; past that it hands each block (immutable ``bytes``) to
one helper thread per extra digest while the caller updates sha256 and writes
the block (hashlib releases the GIL on large buffers). At most ``QUEUED``
blocks wait for each helper, so memory stays bounded. ``hexdigests()`` waits
for the helpers to catch up; ``close()`` ends them (they are also ended when
the object is collected).
"""

from __future__ import annotations

import hashlib
import queue
import threading
from collections.abc import Iterable
from typing import Any

PARALLEL_FROM = 2 * 1024 * 1024  # bytes hashed inline before the helper starts
MIN_BLOCK = 64 * 1024  # smaller blocks are hashed inline (a hand-over costs more)
QUEUED = 4

_STOP = None
EXTRAS = ("sha1", "md5")  # the digests an upload may be asked for besides sha256


class ContentHashes:
    def __init__(self, extra: Iterable[str] = ()) -> None:
        self._sha256 = hashlib.sha256()
        self._extra: dict[str, Any] = {}
        self._seen = 0
        self._helpers: list[tuple[queue.Queue[Any], threading.Thread]] = []
        self._closed = False
        for name in extra:
            self.add(name)

    def add(self, name: str) -> None:
        """Also compute ``name`` (one of ``EXTRAS``); only before the first byte."""
        if name not in EXTRAS:
            raise ValueError(f"not an extra digest: {name!r}")
        if self._seen:
            raise RuntimeError("digests are chosen before the first byte")
        if name not in self._extra:
            self._extra[name] = hashlib.new(name, usedforsecurity=False)

    def update(self, data: bytes | memoryview) -> None:
        """Add ``data``; anything but ``bytes`` (a buffer its owner reuses) is copied
        before a helper thread gets it."""
        self._seen += len(data)
        if (self._extra and not self._helpers and not self._closed
                and self._seen > PARALLEL_FROM and len(data) >= MIN_BLOCK):
            self._start()
        if self._helpers:
            block = data if isinstance(data, bytes) else bytes(data)
            for q, _ in self._helpers:
                q.put(block)
        else:
            for digest in self._extra.values():
                digest.update(data)
        self._sha256.update(data)

    def hexdigests(self) -> dict[str, str]:
        """Hex digests of everything added so far: ``sha256`` and each extra asked for."""
        for q, _ in self._helpers:
            q.join()
        found = {"sha256": self._sha256.hexdigest()}
        for name, digest in self._extra.items():
            found[name] = digest.hexdigest()
        return found

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
        for digest in self._extra.values():
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

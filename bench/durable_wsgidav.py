#!/usr/bin/env python3
"""Bare WsgiDAV with durable writes: the ``wsgidav`` command line exactly as
``make bench`` runs it, except that a written file is flushed to the disk
(``fsync`` of the file, then of its folder, for its name) before the answer.
davdrive answers a PUT only once the content and its name are on the disk;
bare WsgiDAV leaves both in the page cache. ``bench/run.py`` runs the PUT
workloads against this too, in the same interleaved repetitions, so that the
report also compares like with like.

    python bench/durable_wsgidav.py [wsgidav's command-line arguments]
"""

from __future__ import annotations

import os
import sys
from typing import Any

from wsgidav import fs_dav_provider
from wsgidav.server import server_cli


class DurableFile:
    """A file being written: ``close`` flushes it and its folder to the disk."""

    def __init__(self, stream: Any, path: str) -> None:
        self._stream = stream
        self._path = path

    def write(self, data: bytes) -> int:
        return int(self._stream.write(data))

    def writelines(self, chunks: Any) -> None:  # what WsgiDAV's PUT uses when present
        self._stream.writelines(chunks)

    def close(self) -> None:
        self._stream.flush()
        os.fsync(self._stream.fileno())
        self._stream.close()
        folder = os.open(os.path.dirname(self._path), os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


_begin_write = fs_dav_provider.FileResource.begin_write


def begin_write(self: fs_dav_provider.FileResource, *, content_type: Any = None) -> DurableFile:
    return DurableFile(_begin_write(self, content_type=content_type), self._file_path)


if __name__ == "__main__":
    fs_dav_provider.FileResource.begin_write = begin_write  # type: ignore[method-assign]
    sys.argv[0] = "wsgidav"
    server_cli.run()

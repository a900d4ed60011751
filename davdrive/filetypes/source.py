"""The whole content of a stream as one searchable buffer, without copying files.

A real file is memory-mapped (the page cache holds it, not the heap); any
other stream is read into memory, where its caller already holds it.
"""

from __future__ import annotations

import io
import mmap
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO

Buffer = bytes | mmap.mmap


@contextmanager
def contents(stream: BinaryIO) -> Iterator[Buffer]:
    """``stream``'s content from its start, valid inside the ``with`` block."""
    try:
        fd: int | None = stream.fileno()
    except (OSError, AttributeError, io.UnsupportedOperation):
        fd = None
    if fd is not None and os.fstat(fd).st_size > 0:
        with mmap.mmap(fd, 0, access=mmap.ACCESS_READ) as view:
            yield view
        return
    stream.seek(0)
    yield stream.read()

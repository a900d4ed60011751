"""A file answer is sent from one reused buffer (issue 12, get_large: a new 1 MiB
``bytes`` per block cost an allocation and a copy into fresh memory per block).

Rules (provider/file_body.py): ``FileBody.send`` hands ``write`` exactly the
bytes iterating the body gives (the head, then the region from ``offset`` for
``length`` bytes, or to the end), in the same blocks, every file block a view
of one and the same buffer; the file is read to the region's end only.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from provider.file_body import FileBody

BLOCK = 64 * 1024


@pytest.mark.parametrize(("size", "offset", "length", "head"), [
    (0, None, None, b""),
    (1, None, None, b""),
    (3 * BLOCK + 5, None, None, b"first"),
    (3 * BLOCK + 5, 10, 2 * BLOCK + 1, b"head"),
    (3 * BLOCK, 0, 3 * BLOCK, b""),
])
def test_send_gives_the_blocks_of_the_iteration_from_one_buffer(
    tmp_path: Path, size: int, offset: int | None, length: int | None, head: bytes
) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(os.urandom(size))

    def body() -> FileBody:
        return FileBody(open(path, "rb"), BLOCK, offset=offset, length=length, head=head)

    iterated = body()
    expected = list(iterated)
    iterated.close()
    sent: list[bytes] = []
    buffers: list[int | None] = []  # per file block: the id of the buffer it views

    def write(block: Any) -> None:
        sent.append(bytes(block))
        if not (head and len(sent) == 1):
            buffers.append(id(block.obj) if isinstance(block, memoryview) else None)

    sending = body()
    sending.send(write)
    sending.close()
    assert sent == expected
    data = path.read_bytes()
    start = offset or 0
    assert b"".join(sent) == head + data[start:start + (length if length is not None else size)]
    assert len(set(buffers)) <= 1 and None not in buffers  # views of one buffer

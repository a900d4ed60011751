"""A file received from a client in a submit (the web drive's uploads, record
attachments): the name it was sent with and its content."""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO

CHUNK = 1024 * 1024  # bytes read from a received file at a time


@dataclass(frozen=True)
class IncomingFile:
    """A file of a submit: its name as sent and its content, a seekable binary stream
    (read from its start; the caller closes it)."""

    name: str
    stream: BinaryIO

"""The receiving half every blob writer shares: counting, hashing and limits.

``Intake`` is a base class. A writer sets ``_hashes`` (``ContentHashes``),
``size`` (bytes counted) and ``_max`` (the byte limit, or None) and provides
``_accepting()`` (False once finished or aborted), ``_put_block(data)``
(stores and hashes one block) and ``abort()``. ``write`` and ``receive`` then
behave the same for every backend: bytes past the limit raise ``TooLarge``
before they are stored, and a failed ``write`` aborts the writer.
"""

from __future__ import annotations

from davdrive import blob_receive
from davdrive.errors import TooLarge
from davdrive.hashing import ContentHashes


class Intake:
    """Counting, hashing and the size limit of a blob writer (see the module)."""

    _hashes: ContentHashes
    _max: int | None
    size: int

    def also_compute(self, name: str) -> None:
        """Also compute digest ``name`` (``sha1`` or ``md5``; ``sha256`` always is);
        only before the first byte."""
        if name != "sha256":
            self._hashes.add(name)

    def write(self, data: bytes) -> int:
        self._count(len(data))
        try:
            self._put_block(data)
        except BaseException:
            self.abort()
            raise
        return len(data)

    def receive(self, read_into: blob_receive.ReadInto, length: int) -> int:
        """Read up to ``length`` bytes with ``read_into`` (fills a buffer, fewer bytes
        only at the end of the source) and write them, reading the next block while
        the previous one is stored and hashed (``davdrive.blob_receive``); the bytes
        read. On an error the caller aborts the writer, as after ``write``."""
        return blob_receive.receive(read_into, length, self._count, self._put_block)

    def hexdigests(self) -> dict[str, str]:
        """Hex digests of the bytes written so far: ``sha256`` and any ``also_compute``d."""
        return self._hashes.hexdigests()

    def _count(self, n: int) -> None:
        assert self._accepting(), "writer already finished"
        self.size += n
        if self._max is not None and self.size > self._max:
            raise TooLarge(f"The upload is larger than the limit of {self._max} bytes.")

    def _accepting(self) -> bool:
        raise NotImplementedError

    def _put_block(self, data: bytes | memoryview) -> None:
        raise NotImplementedError

    def abort(self) -> None:
        raise NotImplementedError

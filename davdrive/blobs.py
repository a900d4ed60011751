"""Content-addressed blob store on a local folder.

A blob lives at ``<root>/<aa>/<bb>/<sha256>``. Writing goes to a temp file in
``<root>/tmp``; ``BlobWriter.finish`` fsyncs it and renames it into place, and
only then may the caller commit the database row that refers to it. An
aborted writer removes its temp file, so nothing half-written is ever
addressable.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from davdrive.errors import TooLarge

READ_BLOCK = 1024 * 1024


@dataclass(frozen=True)
class BlobInfo:
    sha256: str
    sha1: str
    md5: str
    size: int


class BlobWriter:
    """Streams bytes to a temp file while hashing them (sha256, sha1, md5)."""

    def __init__(self, store: BlobStore, max_bytes: int | None) -> None:
        self._store = store
        self._max = max_bytes
        fd, name = tempfile.mkstemp(dir=store.tmp_dir, prefix="up-")
        self._file: BinaryIO | None = os.fdopen(fd, "wb")
        self._tmp = Path(name)
        self._sha256 = hashlib.sha256()
        self._sha1 = hashlib.sha1(usedforsecurity=False)
        self._md5 = hashlib.md5(usedforsecurity=False)
        self.size = 0

    def write(self, data: bytes) -> int:
        assert self._file is not None, "writer already finished"
        self.size += len(data)
        if self._max is not None and self.size > self._max:
            raise TooLarge(f"The upload is larger than the limit of {self._max} bytes.")
        self._file.write(data)
        self._sha256.update(data)
        self._sha1.update(data)
        self._md5.update(data)
        return len(data)

    def hexdigests(self) -> dict[str, str]:
        """Hex digests of the bytes written so far: keys ``sha256``, ``sha1``, ``md5``."""
        return {
            "sha256": self._sha256.hexdigest(),
            "sha1": self._sha1.hexdigest(),
            "md5": self._md5.hexdigest(),
        }

    def finish(self) -> BlobInfo:
        """Make the content durable and addressable; return its hashes."""
        assert self._file is not None, "writer already finished"
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        self._file = None
        info = BlobInfo(
            self._sha256.hexdigest(), self._sha1.hexdigest(), self._md5.hexdigest(), self.size
        )
        target = self._store.path(info.sha256)
        if target.exists():
            self._tmp.unlink()
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self._tmp, target)
            _fsync_dir(target.parent)
        return info

    def abort(self) -> None:
        """Drop everything written so far. Safe to call more than once."""
        if self._file is not None:
            self._file.close()
            self._file = None
        self._tmp.unlink(missing_ok=True)


class BlobStore:
    """Local content-addressed store."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.tmp_dir = self.root / "tmp"
        self.tmp_dir.mkdir(parents=True, exist_ok=True)

    def path(self, sha256: str) -> Path:
        if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
            raise ValueError("not a sha256 hex digest")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def writer(self, max_bytes: int | None = None) -> BlobWriter:
        return BlobWriter(self, max_bytes)

    def put_bytes(self, data: bytes) -> BlobInfo:
        writer = self.writer()
        try:
            writer.write(data)
            return writer.finish()
        except BaseException:
            writer.abort()
            raise

    def open(self, sha256: str) -> BinaryIO:
        return open(self.path(sha256), "rb")  # noqa: SIM115 - caller closes

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def delete(self, sha256: str) -> None:
        self.path(sha256).unlink(missing_ok=True)

    def verify(self, sha256: str) -> bool:
        """True when the stored bytes still hash to their address."""
        digest = hashlib.sha256()
        try:
            with self.open(sha256) as f:
                while block := f.read(READ_BLOCK):
                    digest.update(block)
        except FileNotFoundError:
            return False
        return digest.hexdigest() == sha256


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

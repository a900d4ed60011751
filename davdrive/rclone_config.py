"""rclone's view of this drive: the remote section of an rclone.conf, and rclone's
password obscuring.

``obscure(password)`` gives what ``rclone obscure`` gives (``rclone reveal`` turns
it back): AES-256-CTR under rclone's fixed key, a random 16-byte IV in front
of the ciphertext, base64 URL-safe without padding. It hides a password from a
glance, nothing more: anyone holding the file can reveal it.

``remote_for(drive_url, mount, login)`` follows docs/rclone.md: the ``nextcloud``
vendor at ``<drive>/files/LOGIN`` when the drive is at ``/dav`` (rclone derives
its chunked-upload URL from ``/dav/files/``), else ``owncloud`` at the drive's
URL; both give rclone hashes and modification times. A login with non-ASCII
letters also gets ``owncloud``: the server's ``/dav/files/LOGIN`` layout does not
match such logins yet. No I/O (only the random IV).
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from urllib.parse import quote

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

# rclone's fs/config/obscure key: public by design, the same in every rclone.
_KEY = bytes.fromhex("9c935b48730a554d6bfd7c63c886a92bd390198eb8128afbf4de162b8b95f638")
IV_BYTES = 16
REMOTE_NAME = "davdrive"
PLACEHOLDER = "OBSCURED-APP-PASSWORD"


def obscure(password: str, iv: bytes | None = None) -> str:
    """``password`` as ``rclone obscure`` writes it (``iv``: 16 bytes, random when None)."""
    iv = os.urandom(IV_BYTES) if iv is None else iv
    if len(iv) != IV_BYTES:
        raise ValueError("the IV has 16 bytes")
    encryptor = Cipher(algorithms.AES(_KEY), modes.CTR(iv)).encryptor()
    sealed = iv + encryptor.update(password.encode()) + encryptor.finalize()
    return base64.urlsafe_b64encode(sealed).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class Remote:
    """An rclone webdav remote for one user of the drive."""

    url: str
    vendor: str
    user: str
    name: str = REMOTE_NAME

    def section(self, password: str | None) -> str:
        """The rclone.conf section; ``password`` (clear) is obscured, None gives the
        placeholder."""
        obscured = PLACEHOLDER if password is None else obscure(password)
        return (
            f"[{self.name}]\n"
            "type = webdav\n"
            f"url = {self.url}\n"
            f"vendor = {self.vendor}\n"
            f"user = {self.user}\n"
            f"pass = {obscured}\n"
        )


def remote_for(drive_url: str, mount: str, login: str) -> Remote:
    """The recommended remote for ``login`` on the drive at ``drive_url`` (its ``mount``)."""
    if mount.rstrip("/") == "/dav" and login.isascii():
        url = drive_url.rstrip("/") + "/files/" + quote(login, safe="@+")
        return Remote(url, "nextcloud", login)
    return Remote(drive_url, "owncloud", login)

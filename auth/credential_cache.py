"""In-memory cache of verified account passwords.

Keys are an HMAC (per-process random key) of login, password and the
client's source address, so the cache never holds a password, and a password
verified from one address answers nothing from another (an address refused by
the sign-in throttle cannot learn from the cache that a guess is right). An
entry remembers the account id, its ``auth_version`` and a fingerprint of the
stored password hash; the caller compares them with the current row, so a
password, category or account change drops the entry at the next request, in
every process.

Contract (docs/security.md): only a password whose sign-in was *allowed* is
put here; app passwords are never cached (their sha256 check is as cheap as
the cache and revocation must be seen at once); the caller applies the
sign-in rule again on every hit.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class CachedCredential:
    user_id: int
    auth_version: int
    hash_fingerprint: bytes
    expires: float

    def matches(self, user_id: int, auth_version: int, password_hash: str) -> bool:
        """Whether this entry still describes the account row given."""
        return (
            self.user_id == user_id
            and self.auth_version == auth_version
            and hmac.compare_digest(self.hash_fingerprint, fingerprint(password_hash))
        )


def fingerprint(password_hash: str) -> bytes:
    """A short digest of a stored password hash (changes whenever the password does)."""
    return hashlib.sha256(password_hash.encode("utf-8")).digest()


class CredentialCache:
    def __init__(self, ttl_seconds: float, max_entries: int = 10000) -> None:
        self._ttl = ttl_seconds
        self._max = max_entries
        self._key = secrets.token_bytes(32)
        self._entries: dict[bytes, CachedCredential] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def key(self, login: str, password: str, source: str = "") -> bytes:
        message = b"\0".join(
            (login.casefold().encode("utf-8"), source.encode("utf-8"), password.encode("utf-8"))
        )
        return hmac.digest(self._key, message, "sha256")  # one-shot: the C implementation

    def get(self, key: bytes) -> CachedCredential | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.expires < time.monotonic():
                del self._entries[key]
                return None
            return entry

    def put(self, key: bytes, user_id: int, auth_version: int, password_hash: str) -> None:
        with self._lock:
            if len(self._entries) >= self._max:
                self._entries.clear()
            self._entries[key] = CachedCredential(
                user_id, auth_version, fingerprint(password_hash), time.monotonic() + self._ttl
            )

    def drop(self, key: bytes) -> None:
        with self._lock:
            self._entries.pop(key, None)

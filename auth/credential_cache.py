"""In-memory cache of verified credentials.

Keys are an HMAC (per-process random key) of login and password, so the cache
never holds a password. An entry remembers the account id and its
``auth_version``; the caller compares that with the current row, so a
password, category or account change drops the entry at the next request,
in every process.
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
    expires: float


class CredentialCache:
    def __init__(self, ttl_seconds: float, max_entries: int = 10000) -> None:
        self._ttl = ttl_seconds
        self._max = max_entries
        self._key = secrets.token_bytes(32)
        self._entries: dict[bytes, CachedCredential] = {}
        self._lock = threading.Lock()

    def key(self, login: str, password: str) -> bytes:
        message = login.casefold().encode("utf-8") + b"\0" + password.encode("utf-8")
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def get(self, key: bytes) -> CachedCredential | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.expires < time.monotonic():
                del self._entries[key]
                return None
            return entry

    def put(self, key: bytes, user_id: int, auth_version: int) -> None:
        with self._lock:
            if len(self._entries) >= self._max:
                self._entries.clear()
            self._entries[key] = CachedCredential(
                user_id, auth_version, time.monotonic() + self._ttl
            )

    def drop(self, key: bytes) -> None:
        with self._lock:
            self._entries.pop(key, None)

"""argon2id password hashing and random secrets.

``verify`` takes the same time whether or not a hash exists: callers pass
``None`` for unknown users and a dummy hash is checked instead.
"""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


class Passwords:
    """argon2id hasher; parameters can be lowered for tests only."""

    def __init__(self, time_cost: int = 3, memory_cost: int = 65536, parallelism: int = 4) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism
        )
        self._dummy = self._hasher.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        """True when ``password`` matches; constant effort for unknown users."""
        try:
            return self._hasher.verify(stored_hash or self._dummy, password) and bool(
                stored_hash
            )
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False


def generate_password() -> str:
    """A readable random password (about 95 bits); never starts with "-"
    (``command_line_safe_token``)."""
    words = [command_line_safe_token(6)] + [secrets.token_urlsafe(6) for _ in range(2)]
    return "-".join(words)


def command_line_safe_token(nbytes: int) -> str:
    """``secrets.token_urlsafe(nbytes)`` that starts with a letter or digit: a secret
    starting with "-" is taken for an option by command lines it is pasted into
    (``rclone obscure -4_T...`` fails). Drawing again keeps the tokens uniform over
    the allowed ones (1 bit of 6 in 64 cases is lost on the first character)."""
    while True:
        token = secrets.token_urlsafe(nbytes)
        if token[:1].isalnum():
            return token


def token_hash(token: str) -> str:
    """sha256 of an app password, as stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()

"""Browser sign-in and server-side sessions (the admin view).

Sign-in applies the same rule as WebDAV (``policy.decide_login``) to the
account's password (app passwords are for sync clients, not for the
browser). A failure costs one password verification whatever its reason, and
says which reason only once the password was right: who knows the password
learns why the account may not sign in, nobody else learns whether it exists.
It passes the same throttle as WebDAV (``davdrive.signin_throttle``): every
failure is counted, and a refused address gets ``retry_after`` and a sentence
before any look-up or check.

A session is a row keyed by the sha256 of a random token (the cookie holds
the token). It holds while the account's ``auth_version`` is the one it
started with (a password, category, active flag, expiry or hours change ends
every session of the account), the sign-in rule still allows the account,
it was used within ``idle`` and it is younger than its expiry. Every
process reads the same table, so a sign-out is seen everywhere at once.
The caller passes its session and commits.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from davdrive import audit
from davdrive.models import User, WebSession, utcnow
from davdrive.passwords import Passwords
from davdrive.policy import Decision, decide_login
from davdrive.signin_throttle import SigninThrottle
from davdrive.users import find_user, login_facts

WRONG_CREDENTIALS = "Wrong login or password."
# Seen is written back at most this often (one UPDATE per minute, not per request).
SEEN_PRECISION = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class SignIn:
    """The outcome of a browser sign-in: ``user`` when allowed, else the message;
    ``retry_after`` (seconds) when the throttle refused it (answer 429)."""

    user: User | None
    message: str
    retry_after: int = 0


@dataclass(frozen=True)
class Lifetimes:
    idle: dt.timedelta
    maximum: dt.timedelta


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def sign_in(
    session: Session, passwords: Passwords, login: str, password: str, ip: str, *,
    throttle: SigninThrottle,
) -> SignIn:
    """Check ``login``/``password`` from ``ip`` (the client's address) under the
    sign-in rule (DESIGN 3.1) and ``throttle``; failures are audited and counted."""
    blocked = throttle.check(session, ip, login)
    if blocked is not None:
        refused = throttle.refuse(session, blocked, login, ip, "admin view")
        return SignIn(None, refused.message, refused.retry_after)
    user = find_user(session, login) if login else None
    verified = passwords.verify(user.password_hash if user else None, password)
    if user is None or not verified:
        _refused(session, throttle, login, ip, "wrong login or password")
        return SignIn(None, WRONG_CREDENTIALS)
    decision: Decision = decide_login(login_facts(user, utcnow()))
    if not decision.allowed:
        _refused(session, throttle, user.login, ip, decision.reason)
        return SignIn(None, f"You cannot sign in: {decision.reason}.")
    audit.record(session, user=user.login, ip=ip, action="login", outcome="ok",
                 detail="admin view")
    return SignIn(user, "")


def _refused(session: Session, throttle: SigninThrottle, login: str, ip: str, reason: str
             ) -> None:
    audit.record(session, user=login[:150], ip=ip, action="login", outcome="refused",
                 detail=f"admin view: {reason}")
    throttle.failed(session, ip, login)


def start(session: Session, user: User, lifetimes: Lifetimes) -> tuple[str, WebSession]:
    """A new session for ``user``: (cookie token, row). Expired rows are swept on the way."""
    now = utcnow()
    session.execute(delete(WebSession).where(WebSession.expires_at <= now)
                    .execution_options(synchronize_session=False))
    token = secrets.token_urlsafe(32)
    row = WebSession(
        token_hash=_hash(token), user_id=user.id, auth_version=user.auth_version,
        csrf_token=secrets.token_urlsafe(32), created_at=now, last_seen_at=now,
        expires_at=now + lifetimes.maximum,
    )
    session.add(row)
    session.flush()
    return token, row


def current(
    session: Session, token: str, lifetimes: Lifetimes
) -> tuple[User, WebSession] | None:
    """The user and session of ``token`` while the session holds (see the module), else None.

    A session found no longer holding is deleted.
    """
    if not token:
        return None
    row = session.scalars(
        select(WebSession).where(WebSession.token_hash == _hash(token))
        .execution_options(populate_existing=True)
    ).first()
    if row is None:
        return None
    now = utcnow()
    user = session.get(User, row.user_id)
    if (
        user is None
        or user.auth_version != row.auth_version
        or _aware(row.expires_at) <= now
        or _aware(row.last_seen_at) + lifetimes.idle <= now
        or not decide_login(login_facts(user, now)).allowed
    ):
        session.delete(row)
        session.flush()
        return None
    if now - _aware(row.last_seen_at) >= SEEN_PRECISION:
        row.last_seen_at = now
        session.flush()
    return user, row


def end(session: Session, token: str) -> None:
    """Sign out: the session of ``token`` ends in every process."""
    session.execute(delete(WebSession).where(WebSession.token_hash == _hash(token))
                    .execution_options(synchronize_session=False))


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)

"""Domain controller and HTTP Basic authentication middleware.

Only HTTP Basic is offered (passwords are argon2id hashes, so Digest is
impossible). ``DriveDomainController.authenticate`` checks a login and a
password (or an app password), applies the sign-in rule of the policy and
returns the ``Actor``; a verified password whose sign-in is allowed is cached
so that a PROPFIND storm costs one indexed SELECT per request, not one argon2
run (``sign_in``). Refusals all cost the same (see ``sign_in``); at most
``VerifyGate.slots`` argon2 checks run at once, the rest get a 503. Failed
sign-ins are counted per source address (``davdrive.signin_throttle``): past
the limits, attempts from there get 429 with Retry-After, unchecked.
``BasicAuthMiddleware`` parses the header defensively: anything malformed is a
400, never a 500.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import logging
import re
from typing import Any, Protocol

from sqlalchemy import Connection, select, update
from sqlalchemy.orm import Session
from wsgidav.dc.base_dc import BaseDomainController

from auth.credential_cache import CredentialCache
from auth.verify_gate import VerifierBusy, VerifyGate
from davdrive import audit, signin, signin_throttle
from davdrive.account_checks import as_utc
from davdrive.db import release_connection
from davdrive.errors import Throttled
from davdrive.models import AppPassword, utcnow
from davdrive.passwords import token_hash
from davdrive.policy import Actor, decide_login
from davdrive.runtime import Runtime
from davdrive.signin import AccountRow
from provider.context import context_of
from provider.errors import plain_response

_log = logging.getLogger("davdrive.auth")
MAX_CREDENTIAL_BYTES = 4096
_CONTROL = re.compile("[\x00-\x1f\x7f]")  # no control character in a login or password
RETRY_AFTER_SECONDS = 1
# An app password's last use is stored at most this often (a write per request would
# cost a durable commit each time).
LAST_USE_PRECISION = dt.timedelta(minutes=1)


class DriveDomainController(BaseDomainController):
    """WsgiDAV domain controller over the users table (Basic only)."""

    def __init__(
        self, runtime: Runtime, cache: CredentialCache, realm: str, gate: VerifyGate
    ) -> None:
        self.runtime = runtime
        self.cache = cache
        self.realm = realm
        self.gate = gate
        self.accounts = signin.KnownAccounts()

    # --- WsgiDAV interface ----------------------------------------------------

    def __str__(self) -> str:
        return "DriveDomainController"

    def get_domain_realm(self, path_info: str, environ: dict[str, Any]) -> str:
        return self.realm

    def require_authentication(self, realm: str, environ: dict[str, Any]) -> bool:
        return True

    def supports_http_digest_auth(self) -> bool:
        return False

    def digest_auth_user(self, realm: str, user_name: str, environ: dict[str, Any]) -> bool:
        return False

    def basic_auth_user(
        self, realm: str, user_name: str, password: str, environ: dict[str, Any]
    ) -> bool:
        ctx = context_of(environ)
        row = self.sign_in(ctx, user_name, password, ctx.source)
        if row is None:
            return False
        ctx.actor = row.actor()
        ctx.rights_stamp = row.rights_stamp
        return True

    # --- the check itself -----------------------------------------------------

    def authenticate(self, session: Session, login: str, password: str, ip: str) -> Actor | None:
        """The signed-in actor, or None (see ``sign_in``)."""
        row = self.sign_in(_SessionOnly(session), login, password, ip)
        return row.actor() if row is not None else None

    def sign_in(self, db: Databases, login: str, password: str, ip: str) -> AccountRow | None:
        """The signed-in account, or None (the failure and its reason are audited and
        counted); raises ``Throttled`` when ``ip`` is refused for ``login``.

        A cached password costs one Core SELECT of the account by primary key
        (``signin.KnownAccounts.with_tree_version``) on ``db.reads``, no ORM
        session: the entry holds while the row keeps its ``auth_version`` and
        password hash, and the sign-in rule is applied to the row as it is now;
        the tree's version read with it goes to ``db.tree_version``. Otherwise: one
        SELECT by login and one app password look-up, then argon2. Every refusal costs one password
        verification, whatever its reason (unknown login, wrong password,
        refused account with the right password, cached or not), so the answer
        time tells nothing. Raises ``VerifierBusy`` when no verification slot
        is free in time. No DB connection is held while argon2 runs.

        Throttling: cache entries hold for the address that verified them; a
        refusal of ``ip`` this process remembers skips the cache (no SQL);
        otherwise the throttle is read (one SELECT) just before a verification,
        never on a cached hit. A refused attempt runs no check at all; app
        passwords (random tokens, nothing to guess) are still accepted. A
        verified sign-in is audited ("ok", "webdav"), a cached one is not.
        """
        refused = self.runtime.signin_throttle.remembered(ip, login)
        key = self.cache.key(login, password, ip)
        cached = self.cache.get(key) if refused is None else None
        if cached is not None:
            found = self.accounts.with_tree_version(db.reads, cached.user_id)
            if found is not None:
                account, tree_version = found
                if cached.matches(account.user_id, account.auth_version, account.password_hash):
                    admitted = self._admit_cached(db, account, key, password, ip)
                    if admitted is not None:
                        db.tree_version = tree_version
                    return admitted
            self.cache.drop(key)
        session = db.session
        row = signin.by_login(session.connection(), login)
        app_id = self._app_password(session, row, password)
        if app_id is not None and row is not None:
            release_connection(session)
            return self._admit_app_password(session, row, app_id, ip)
        self._stop_if_throttled(session, login, ip, refused)
        release_connection(session)
        with self.gate.slot():
            # A request with the same password may have verified it while this
            # one waited for the slot (a client's burst of first requests).
            cached_meanwhile = row is not None and self._cached(key, row)
            verified = cached_meanwhile or self.runtime.passwords.verify(
                row.password_hash if row else None, password
            )
        if row is not None and cached_meanwhile:
            return self._admit_cached(db, row, key, password, ip)
        if row is None or not verified:
            self._fail(session, login, ip, "wrong login or password", known=row is not None)
            return None
        decision = decide_login(row.login_facts(utcnow()))
        if not decision.allowed:
            self._fail(session, row.login, ip, decision.reason)
            return None
        self.cache.put(key, row.user_id, row.auth_version, row.password_hash)
        self.runtime.connection_stats.sign_in(row.login, "dav", ok=True)
        audit.record(session, user=row.login, ip=ip, action="login", outcome="ok",
                     detail="webdav")
        session.commit()
        return row

    def _cached(self, key: bytes, row: AccountRow) -> bool:
        """Whether ``key`` is cached for ``row`` as it stands; a stale entry is dropped."""
        cached = self.cache.get(key)
        if cached is None:
            return False
        if cached.matches(row.user_id, row.auth_version, row.password_hash):
            return True
        self.cache.drop(key)
        return False

    def _admit_cached(
        self, db: Databases, row: AccountRow, key: bytes, password: str, ip: str
    ) -> AccountRow | None:
        """A cached password: the sign-in rule is applied again on every hit."""
        decision = decide_login(row.login_facts(utcnow()))
        if decision.allowed:
            return row
        self.cache.drop(key)
        self._equalise(db.session, row.login, ip, password)
        self._fail(db.session, row.login, ip, decision.reason)
        return None

    def _admit_app_password(
        self, session: Session, row: AccountRow, app_id: tuple[int, Any], ip: str
    ) -> AccountRow | None:
        decision = decide_login(row.login_facts(utcnow()))
        if not decision.allowed:
            self._equalise(session, row.login, ip, "")
            self._fail(session, row.login, ip, decision.reason)
            return None
        token_id, last_used = app_id
        now = utcnow()
        last = as_utc(last_used)
        if last is None or now - last >= LAST_USE_PRECISION:
            session.execute(
                update(AppPassword).where(AppPassword.id == token_id).values(last_used_at=now)
            )
            session.commit()
        return row

    def _equalise(self, session: Session, login: str, ip: str, password: str) -> None:
        """Spend what a wrong password costs (one verification against a dummy hash),
        unless the throttle refuses the attempt."""
        self._stop_if_throttled(session, login, ip)
        release_connection(session)
        with self.gate.slot():
            self.runtime.passwords.verify(None, password)

    def _stop_if_throttled(
        self, session: Session, login: str, ip: str, known: signin_throttle.Blocked | None = None
    ) -> None:
        """Raise ``Throttled`` when ``ip`` is refused for ``login`` (``known``: already
        found); the window's first refusal is audited and committed."""
        throttle = self.runtime.signin_throttle
        blocked = known or throttle.check(session, ip, login)
        if blocked is None:
            return
        refusal = throttle.refuse(session, blocked, login, ip, "webdav")
        session.commit()
        _log.debug("sign-in for %r from %s refused unchecked: too many failures", login, ip)
        raise refusal

    def _app_password(
        self, session: Session, row: AccountRow | None, password: str
    ) -> tuple[int, Any] | None:
        """(id, last use) of the live app password of ``row`` equal to ``password``
        (sha256 look-up), if any. The same query runs whether or not the login exists.
        """
        found = session.execute(
            select(AppPassword.id, AppPassword.user_id, AppPassword.last_used_at).where(
                AppPassword.token_hash == token_hash(password),
                AppPassword.revoked_at.is_(None),
            )
        ).first()
        if found is None or row is None or found.user_id != row.user_id:
            return None
        return found.id, found.last_used_at

    def _fail(
        self, session: Session, login: str, ip: str, reason: str, *, known: bool = True
    ) -> None:
        """Audit and count a refusal; an unknown login counts under "" in the statistics
        (made-up logins add no rows)."""
        _log.info("sign-in refused for %r from %s: %s", login, ip, reason)
        self.runtime.connection_stats.sign_in(login if known else "", "dav", ok=False)
        audit.record(
            session, user=login[:150], ip=ip, action="login", outcome="refused", detail=reason
        )
        self.runtime.signin_throttle.failed(session, ip, login)
        session.commit()


class Databases(Protocol):
    """Where sign-in reads: ``reads`` for the cached check, ``session`` for the rest
    (``provider.context.RequestContext`` is one)."""

    @property
    def session(self) -> Session: ...

    @property
    def reads(self) -> Connection: ...

    # Set by a sign-in from the cache: the tree's version read with the account.
    tree_version: int | None


class _SessionOnly:
    """``Databases`` over one session."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.tree_version: int | None = None

    @property
    def reads(self) -> Connection:
        return self.session.connection()


class BasicAuthMiddleware:
    """Requires valid HTTP Basic credentials; sets the actor and WsgiDAV's user name."""

    def __init__(self, app: Any, controller: DriveDomainController) -> None:
        self.app = app
        self.controller = controller

    def _challenge(self, start_response: Any) -> list[bytes]:
        return plain_response(
            start_response,
            "401 Unauthorized",
            "401 Unauthorized\nSign in with your login and password (HTTP Basic).",
            [("WWW-Authenticate", f'Basic realm="{self.controller.realm}", charset="UTF-8"')],
        )

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        header = environ.get("HTTP_AUTHORIZATION", "")
        if not header or "logout" in environ.get("QUERY_STRING", ""):
            return self._challenge(start_response)
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() != "basic":
            return self._challenge(start_response)
        credentials = _decode_basic(value)
        if credentials is None:
            return plain_response(
                start_response,
                "400 Bad Request",
                "400 Bad Request\nThe Authorization header is not valid HTTP Basic "
                "(base64 of login:password in UTF-8).",
            )
        login, password = credentials
        realm = self.controller.realm
        try:
            signed_in = self.controller.basic_auth_user(realm, login, password, environ)
        except VerifierBusy:
            _log.debug("sign-in deferred for %r: all password checks busy", login)
            return plain_response(
                start_response,
                "503 Service Unavailable",
                "503 Service Unavailable\nToo many sign-ins at once; retry in a moment.",
                [("Retry-After", str(RETRY_AFTER_SECONDS))],
            )
        except Throttled as refused:  # its message names no account
            return plain_response(
                start_response,
                "429 Too Many Requests",
                f"429 Too Many Requests\n{refused.message}",
                [("Retry-After", str(refused.retry_after))],
            )
        if not signed_in:
            return self._challenge(start_response)
        actor = context_of(environ).actor
        assert actor is not None
        environ["wsgidav.auth.realm"] = realm
        environ["wsgidav.auth.user_name"] = actor.login
        return self.app(environ, start_response)


def _decode_basic(value: str) -> tuple[str, str] | None:
    """(login, password) from a Basic token, or None when malformed."""
    value = value.strip()
    if not value or len(value) > MAX_CREDENTIAL_BYTES:
        return None
    try:
        raw = base64.b64decode(value.encode("ascii"), validate=True)
        text = raw.decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        return None
    login, sep, password = text.partition(":")
    if not sep or not login or _CONTROL.search(text):
        return None
    return login, password

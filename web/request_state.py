"""What every request of the browser side gets and must pass.

- One database session in ``g.db`` (rolled back and closed at the end: views
  commit what they mean to keep).
- The signed-in user (``g.user``, ``g.actor``, ``g.web_session``) from the
  session cookie (``davdrive.web_sessions``), or None.
- Every POST: the Origin / Sec-Fetch-Site check (a browser's cross-site
  request is refused before its form is read), then the CSRF token: the
  session's, or before sign-in the one of the sign-in cookie (double submit,
  so that nobody signs a browser in under another account). Refused: 403
  with a sentence, nothing changed.
- Answers carry a strict Content-Security-Policy (scripts only as files of
  this site, no inline script or style; requests only to this site),
  ``X-Frame-Options: DENY``, ``nosniff``, ``no-store``; cookies are HttpOnly,
  SameSite=Strict, and Secure under TLS.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Request, Response, abort, current_app, g, request

from davdrive import web_sessions
from davdrive.runtime import Runtime
from davdrive.settings import Settings
from davdrive.source_address import source_of
from davdrive.users import actor_for

SESSION_COOKIE = "davdrive_session"
# environ key: the signed-in user's login, for the connection statistics (set per request).
LOGIN_KEY = "davdrive.web.login"
SIGNIN_COOKIE = "davdrive_signin"
CROSS_SITE = (
    "This form was sent from another site; it was refused and nothing changed. "
    "Open the admin view directly and submit it again."
)
STALE_FORM = (
    "This form has expired or did not come from this site; nothing changed. "
    "Reload the page and submit it again."
)
SECURITY_HEADERS = (
    ("Content-Security-Policy",
     "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; "
     "img-src 'self'; form-action 'self'; "
     "frame-ancestors 'none'; base-uri 'none'"),
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
)


@dataclass(frozen=True)
class WebState:
    settings: Settings
    runtime: Runtime
    lifetimes: web_sessions.Lifetimes


def state() -> WebState:
    return current_app.extensions["davdrive"]  # type: ignore[no-any-return]


def install(app: Flask) -> None:
    app.before_request(_open)
    app.after_request(_finish)
    app.teardown_request(_close)
    app.context_processor(lambda: {"csrf_token": csrf_token()})


def _open() -> None:
    g.db = state().runtime.sessions()
    g.user = g.actor = g.web_session = None
    g.new_cookie = None
    found = web_sessions.current(g.db, request.cookies.get(SESSION_COOKIE, ""),
                                 state().lifetimes)
    g.db.commit()  # a session found stale was deleted; a seen time may have moved
    if found is not None:
        g.user, g.web_session = found
        g.actor = actor_for(g.user)
        request.environ[LOGIN_KEY] = g.user.login
    if request.method == "POST":
        _check_post(request)


def signed_in_login(environ: dict[str, Any]) -> str:
    """The login of the browser's session during the request, "" when none (the
    connection statistics read it once the answer is done)."""
    return str(environ.get(LOGIN_KEY, ""))


def _check_post(req: Request) -> None:
    if cross_site(req):
        abort(403, CROSS_SITE)
    expected = (
        g.web_session.csrf_token if g.web_session is not None
        else req.cookies.get(SIGNIN_COOKIE, "")
    )
    given = req.form.get("csrf_token", "")
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        abort(403, STALE_FORM)


def cross_site(req: Request) -> bool:
    """True when a browser says the request comes from another site.

    ``Sec-Fetch-Site`` must be same-origin or none (typed by the user) when
    sent; ``Origin``, when sent, must name this host. Clients that send
    neither (scripts) still need the CSRF token.
    """
    site = req.headers.get("Sec-Fetch-Site")
    if site is not None and site not in ("same-origin", "none"):
        return True
    origin = req.headers.get("Origin")
    if origin is None:
        return False
    return origin == "null" or urlsplit(origin).netloc.lower() != req.host.lower()


def csrf_token() -> str:
    """The token of this browser's forms (created for the sign-in form when missing)."""
    if g.get("web_session") is not None:
        return g.web_session.csrf_token  # type: ignore[no-any-return]
    token = request.cookies.get(SIGNIN_COOKIE) or g.get("signin_token")
    if not token:
        token = g.signin_token = secrets.token_urlsafe(32)
    return token  # type: ignore[no-any-return]


def client_address() -> str:
    """The client's address: REMOTE_ADDR, or what a trusted proxy says it is (the
    same rule as WebDAV: ``davdrive.source_address``)."""
    return source_of(request.environ, state().runtime.trusted_proxies)


def set_session_cookie(token: str) -> None:
    """Send ``token`` as the session cookie with this answer (None: remove it)."""
    g.new_cookie = token


def _cookie(response: Response, name: str, value: str, max_age: int | None) -> None:
    response.set_cookie(
        name, value, max_age=max_age, path="/", secure=request.is_secure, httponly=True,
        samesite="Strict",
    )


def _finish(response: Response) -> Response:
    if g.get("signin_token"):
        _cookie(response, SIGNIN_COOKIE, g.signin_token, None)
    if g.get("new_cookie") is not None:
        if g.new_cookie:
            _cookie(response, SESSION_COOKIE, g.new_cookie, None)
        else:
            response.delete_cookie(SESSION_COOKIE, path="/", secure=request.is_secure,
                                   httponly=True, samesite="Strict")
    for name, value in SECURITY_HEADERS:
        response.headers.setdefault(name, value)
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def _close(exc: Any) -> None:
    db = g.pop("db", None)
    if db is not None:
        db.rollback()
        db.close()

"""Sign-in, sign-out, the start page and "My account" (every signed-in user): display
name, password, and one's own app passwords for sync clients."""

from __future__ import annotations

from typing import Any

from flask import g, redirect, render_template, request, url_for

from davdrive import web_sessions
from davdrive.account_checks import check_password, check_text
from davdrive.app_passwords import list_app_passwords
from davdrive.errors import DriveError, status_of
from davdrive.policy import may_enter_staff_pages
from davdrive.users import app_password, find_user, revoke_app_password, set_user
from web.admin.blueprint import admin, signed_in
from web.forms import Errors, refusal, text
from web.request_state import client_address, set_session_cookie, state


def _safe_next(target: str) -> str:
    """Only a page of the admin view or the web drive is a place to go back to after
    sign-in."""
    if target.startswith(("/admin/", "/files/")) and "\\" not in target:
        return target
    return url_for("admin.index")


@admin.get("/signin")
def signin() -> Any:
    if g.user is not None:
        return redirect(url_for("admin.index"))
    return render_template("admin/signin.html", next=request.args.get("next", ""), error="")


@admin.post("/signin")
def signin_post() -> Any:
    st = state()
    login = text("login", 200)
    outcome = web_sessions.sign_in(g.db, st.runtime.passwords, login,
                                   request.form.get("password", "")[:1024], client_address(),
                                   throttle=st.runtime.signin_throttle)
    if not outcome.retry_after:  # a throttled attempt is refused unchecked: not counted
        _count_sign_in(login, outcome.user.login if outcome.user is not None else None)
    if outcome.user is None:
        g.db.commit()  # the refusal is audited and counted
        page = render_template("admin/signin.html", next=request.form.get("next", ""),
                               error=outcome.message, login=login)
        if outcome.retry_after:
            return page, 429, {"Retry-After": str(outcome.retry_after)}
        return page, 200
    token, _row = web_sessions.start(g.db, outcome.user, st.lifetimes)
    g.db.commit()
    set_session_cookie(token)
    return redirect(_safe_next(request.form.get("next", "")), 303)


def _count_sign_in(typed: str, signed_in: str | None) -> None:
    """The connection statistics' sign-in counters; a refusal counts under the account
    typed, or "" when there is none (made-up logins add no rows)."""
    stats = state().runtime.connection_stats
    if signed_in is not None:
        stats.sign_in(signed_in, "admin", ok=True)
        return
    known = find_user(g.db, typed) if typed else None
    stats.sign_in(known.login if known is not None else "", "admin", ok=False)


@admin.post("/signout")
def signout() -> Any:
    web_sessions.end(g.db, request.cookies.get("davdrive_session", ""))
    g.db.commit()
    set_session_cookie("")
    return redirect(url_for("admin.signin"), 303)


@admin.get("/")
@signed_in
def index() -> Any:
    if may_enter_staff_pages(g.actor).allowed:
        return redirect(url_for("admin.users"))
    return redirect(url_for("files.browse"))


@admin.get("/account")
@signed_in
def account(errors: Errors | None = None, done: str = "", status: int = 200,
            token: str = "") -> Any:
    if not done:
        done = {"password": "Your password was changed; your other sessions have ended.",
                "revoked": "The app password was revoked."}.get(request.args.get("saved", ""), "")
    return render_template("admin/account.html", user=g.user, errors=errors or Errors(),
                           done=done, token=token,
                           app_passwords=list_app_passwords(g.db, g.user.login, g.actor)
                           ), status


@admin.post("/account")
@signed_in
def account_post() -> Any:
    errors = Errors()
    display_name = errors.check("display_name",
                                lambda: check_text(text("display_name"), 200, "The display name"))
    if errors:
        return account(errors, status=400)
    set_user(g.db, state().runtime.passwords, g.user.login, display_name=display_name,
             actor=g.actor)
    g.db.commit()
    return account(done="Your display name was saved.")


@admin.post("/account/password")
@signed_in
def account_password() -> Any:
    errors = Errors()
    form = request.form
    current, new, again = (form.get(k, "")[:1024] for k in ("current", "new", "again"))
    if not state().runtime.passwords.verify(g.user.password_hash, current):
        errors["current"] = "This is not your current password."
    errors.check("new", lambda: check_password(new))
    if "new" not in errors and new != again:
        errors["again"] = "The two new passwords differ."
    if errors:
        return account(errors, status=400)
    try:
        set_user(g.db, state().runtime.passwords, g.user.login, password=new, actor=g.actor)
    except DriveError as exc:
        errors["new"] = exc.message
        return account(errors, status=400)
    # The change ends every session of the account (this one too): start a new one here.
    token, _row = web_sessions.start(g.db, g.user, state().lifetimes)
    g.db.commit()
    set_session_cookie(token)
    return redirect(url_for("admin.account", saved="password"), 303)


@admin.post("/account/app-passwords")
@signed_in
def app_password_add() -> Any:
    label = text("label", 200)
    made: list[str] = []
    refused = refusal(lambda: made.append(app_password(g.db, g.user.login, label, g.actor)))
    if refused:
        return account(Errors({"label": refused.message}), status=status_of(refused))
    return account(done=f"App password {label!r} created: copy it now, it is shown only once.",
                   token=made[0])


@admin.post("/account/app-passwords/revoke")
@signed_in
def app_password_revoke() -> Any:
    label = request.form.get("label", "")[:200]
    refused = refusal(lambda: revoke_app_password(g.db, g.user.login, label, g.actor))
    if refused:
        return account(Errors({"label": refused.message}), status=status_of(refused))
    return redirect(url_for("admin.account", saved="revoked"), 303)

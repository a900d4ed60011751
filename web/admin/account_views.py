"""Sign-in, sign-out, the start page and "My account" (every signed-in user)."""

from __future__ import annotations

from typing import Any

from flask import g, redirect, render_template, request, url_for

from davdrive import web_sessions
from davdrive.account_checks import check_password, check_text
from davdrive.errors import DriveError
from davdrive.policy import may_enter_staff_pages
from davdrive.users import set_user
from web.admin.blueprint import admin, signed_in
from web.forms import Errors, text
from web.request_state import set_session_cookie, state


def _safe_next(target: str) -> str:
    """Only a path of this admin view is a place to go back to after sign-in."""
    if target.startswith("/admin/") and not target.startswith("//") and "\\" not in target:
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
                                   request.form.get("password", "")[:1024],
                                   request.remote_addr or "")
    if outcome.user is None:
        g.db.commit()  # the refusal is audited
        return render_template("admin/signin.html", next=request.form.get("next", ""),
                               error=outcome.message, login=login), 200
    token, _row = web_sessions.start(g.db, outcome.user, st.lifetimes)
    g.db.commit()
    set_session_cookie(token)
    return redirect(_safe_next(request.form.get("next", "")), 303)


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
    return redirect(url_for("admin.account"))


@admin.get("/account")
@signed_in
def account(errors: Errors | None = None, done: str = "", status: int = 200) -> Any:
    if not done and request.args.get("saved") == "password":
        done = "Your password was changed; your other sessions have ended."
    return render_template("admin/account.html", user=g.user, errors=errors or Errors(),
                           done=done), status


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

"""Users: a filtered, paginated list; add, edit, reset a password, delete.

Every rule of DESIGN 3.11 is the use case's (``davdrive.users``): members
read sees users, write adds and edits but neither deletes nor changes a
category, admin does everything; nobody deletes or recategorises themself;
the last account able to administer stays. A user of a hidden category is
absent for those who may not see hidden categories (404, as if missing).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import g, redirect, render_template, request, url_for

from davdrive import users
from davdrive.account_checks import (
    UNSET,
    as_utc,
    check_degree,
    check_hours,
    check_login,
    check_password,
    check_text,
    parse_expiry,
    sees_hidden,
)
from davdrive.categories import list_categories
from davdrive.errors import NotFound, status_of
from davdrive.models import User
from davdrive.policy import may_enter_staff_pages
from web.admin.blueprint import admin, needs
from web.forms import Errors, checked, refusal, text, whole_number
from web.request_state import state

PER_PAGE = 50


@admin.get("/users", endpoint="users")
@needs(may_enter_staff_pages)
def users_page() -> Any:
    args = request.args
    active = {"yes": True, "no": False}.get(args.get("active", ""))
    page_number = int(args["page"]) if args.get("page", "").isdigit() else 1
    page = users.search_users(
        g.db, g.actor, category=args.get("category") or None, active=active,
        text=args.get("q", "")[:200], page=page_number, per_page=PER_PAGE,
    )
    return render_template(
        "admin/users.html", page=page, categories=list_categories(g.db, g.actor),
        filters={"category": args.get("category", ""), "active": args.get("active", ""),
                 "q": args.get("q", "")[:200]},
        done=args.get("done", ""),
    )


def _visible_user(login: str) -> User:
    user = users.get_user(g.db, login)
    if user.category.hidden and not sees_hidden(g.actor):
        raise NotFound(f"No user {login!r}.")
    return user


def _local_date(moment: dt.datetime | None) -> str:
    """The day an expiry falls in, as the form shows it (the last day the account works)."""
    aware = as_utc(moment)
    if aware is None:
        return ""
    return (aware.astimezone() - dt.timedelta(seconds=1)).date().isoformat()


def _form(user: User | None, errors: Errors, values: dict[str, Any], status: int = 200,
          password: str = "") -> Any:
    return render_template(
        "admin/user_form.html", user=user, errors=errors, values=values,
        categories=list_categories(g.db, g.actor), new_password=password,
    ), status


def _values_of(user: User) -> dict[str, Any]:
    return {
        "login": user.login, "display_name": user.display_name, "email": user.email,
        "category": user.category.slug, "degree": user.degree, "active": user.active,
        "expires": _local_date(user.expires_at), "hours": user.login_hours,
    }


def _posted(errors: Errors) -> dict[str, Any]:
    """The form's fields, each checked by the core's own check (message by its field)."""
    values: dict[str, Any] = {
        "display_name": text("display_name", 300), "email": text("email", 300),
        "category": text("category", 64), "active": checked("active"),
        "expires": text("expires", 40), "hours": text("hours", 300),
        "degree": text("degree", 20), "password": request.form.get("password", "")[:1024],
    }
    errors.check("display_name", lambda: check_text(values["display_name"], 200,
                                                     "The display name"))
    errors.check("email", lambda: check_text(values["email"], 254, "The e-mail address"))
    degree = errors.check("degree", lambda: check_degree(whole_number("degree", "The degree")))
    values["degree_value"] = degree
    values["expires_value"] = errors.check("expires", lambda: parse_expiry(values["expires"]))
    values["hours_value"] = errors.check("hours", lambda: check_hours(values["hours"]))
    if values["password"]:
        errors.check("password", lambda: check_password(values["password"]))
    return values


@admin.get("/users/new")
@needs(may_enter_staff_pages)
def user_new() -> Any:
    return _form(None, Errors(), {"degree": 1, "active": True, "category": ""})


@admin.post("/users/new")
@needs(may_enter_staff_pages)
def user_add() -> Any:
    errors = Errors()
    values = _posted(errors)
    values["login"] = text("login", 200)
    login = errors.check("login", lambda: check_login(values["login"]))
    if errors or login is None:
        return _form(None, errors, values, 400)
    added: list[tuple[User, str]] = []
    refused = refusal(lambda: added.append(users.add_user(
        g.db, state().runtime.passwords, login, category=values["category"] or None,
        degree=values["degree_value"], password=values["password"] or None,
        active=values["active"], expires_at=values["expires_value"],
        hours=values["hours_value"] or "", display_name=values["display_name"],
        email=values["email"], actor=g.actor,
    )))
    if refused:
        errors["login" if "login" in refused.message.lower() else ""] = refused.message
        return _form(None, errors, values, status_of(refused))
    user, password = added[0]
    if not values["password"]:  # generated: shown once, here
        return _form(user, Errors(), _values_of(user), 201, password=password)
    return redirect(url_for("admin.users", done=f"User {login} created."), 303)


@admin.get("/users/<login>")
@needs(may_enter_staff_pages)
def user_edit(login: str) -> Any:
    user = _visible_user(login)
    return _form(user, Errors(), _values_of(user))


@admin.post("/users/<login>")
@needs(may_enter_staff_pages)
def user_set(login: str) -> Any:
    user = _visible_user(login)
    errors = Errors()
    values = _posted(errors)
    values["login"] = user.login
    if errors:
        return _form(user, errors, values, 400)
    before = _values_of(user)
    changes: dict[str, Any] = {}
    for field in ("display_name", "email", "hours"):
        if values[field] != before[field]:
            changes[field] = values[field]
    if values["degree_value"] != before["degree"]:
        changes["degree"] = values["degree_value"]
    if values["category"] and values["category"] != before["category"]:
        changes["category"] = values["category"]
    if values["active"] != before["active"]:
        changes["active"] = values["active"]
    if values["expires"] != before["expires"]:
        changes["expires_at"] = values["expires_value"]
    if values["password"]:
        changes["password"] = values["password"]
    if not changes:
        return redirect(url_for("admin.users", done=f"User {user.login}: nothing changed."), 303)
    expires = changes.pop("expires_at", UNSET)
    refused = refusal(lambda: users.set_user(g.db, state().runtime.passwords, user.login,
                                             actor=g.actor, expires_at=expires, **changes))
    if refused:
        errors[_field_of(refused.message)] = refused.message
        return _form(users.get_user(g.db, login), errors, values, status_of(refused))
    return redirect(url_for("admin.users", done=f"User {user.login} saved."), 303)


def _field_of(message: str) -> str:
    """The field a refusal of the use case is about, when it names one."""
    lowered = message.lower()
    for field, words in (("category", ("category",)), ("active", ("disabl", "administer"))):
        if any(w in lowered for w in words):
            return field
    return ""


@admin.post("/users/<login>/reset")
@needs(may_enter_staff_pages)
def user_reset(login: str) -> Any:
    user = _visible_user(login)
    password = users.reset_password(g.db, state().runtime.passwords, user.login, actor=g.actor)
    g.db.commit()
    return _form(user, Errors(), _values_of(user), password=password)


@admin.post("/users/<login>/delete")
@needs(may_enter_staff_pages)
def user_delete(login: str) -> Any:
    user = _visible_user(login)
    users.delete_user(g.db, user.login, actor=g.actor)
    g.db.commit()
    return redirect(url_for("admin.users", done=f"User {user.login} deleted."), 303)

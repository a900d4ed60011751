"""The admin blueprint, its guards and its menu.

Who enters which page is asked of the policy (``may_enter_staff_pages``,
``may_administer_drive``); templates only show the menu they are given.
What a page then changes is checked again by the use case it calls.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import Blueprint, g, redirect, request, url_for

from davdrive.errors import Forbidden
from davdrive.policy import (
    Actor,
    Decision,
    may_administer_drive,
    may_enter_staff_pages,
    may_manage_trash,
    may_read_history,
)

admin = Blueprint("admin", __name__, url_prefix="/admin")

# (endpoint, label, decision the actor needs; None: every signed-in user)
MENU: tuple[tuple[str, str, Callable[[Actor], Decision] | None], ...] = (
    ("files.browse", "Files", None),
    ("files.connect", "Connect", None),
    ("admin.users", "Users", may_enter_staff_pages),
    ("admin.categories", "Categories", may_enter_staff_pages),
    ("admin.folders", "Folders", may_administer_drive),
    ("admin.view_as", "View as", may_administer_drive),
    ("admin.doctypes", "Document types", may_enter_staff_pages),
    ("admin.records", "Records", may_enter_staff_pages),
    ("admin.trash", "Trash", may_manage_trash),
    ("admin.history", "History", may_read_history),
    ("admin.statistics", "Statistics", may_read_history),
    ("admin.account", "My account", None),
)


def menu(actor: Actor | None) -> list[tuple[str, str]]:
    """The menu entries ``actor`` may open, as (url, label)."""
    if actor is None:
        return []
    return [(url_for(endpoint), label) for endpoint, label, needs in MENU
            if needs is None or needs(actor).allowed]


@admin.app_context_processor
def _menu() -> dict[str, Any]:
    return {"menu": menu(g.get("actor")), "signed_in": g.get("user")}


def signed_in(view: Callable[..., Any]) -> Callable[..., Any]:
    """Send a browser without a session to the sign-in page (and back afterwards)."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if g.get("user") is None:
            return redirect(url_for("admin.signin", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapper


def needs(decide: Callable[[Actor], Decision]) -> Callable[[Callable[..., Any]], Any]:
    """A page for those ``decide`` allows; others get 403 with the policy's reason."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            decision = decide(g.actor)
            if not decision.allowed:
                raise Forbidden(f"This page is not open to you: {decision.reason}.")
            return view(*args, **kwargs)

        return signed_in(wrapper)

    return decorator

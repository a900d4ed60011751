"""Small helpers for server-side form checks: each message goes next to its field.

A view checks every field with the core's own check functions (so no rule
is written twice), collecting messages in ``Errors``; only a form without
errors reaches the use case, whose refusals go to the field they concern
(or to the top of the form).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import g, request

from davdrive.errors import BadRequest, DriveError

T = TypeVar("T")


class Errors(dict[str, str]):
    """Field name -> message; ``""`` is the form as a whole."""

    def check(self, name: str, check: Callable[[], T]) -> T | None:
        """``check()``'s value, or None with its message noted under ``name``."""
        try:
            return check()
        except DriveError as exc:
            self[name] = exc.message
            return None


def text(name: str, limit: int = 1000) -> str:
    return request.form.get(name, "")[:limit].strip()


def checked(name: str) -> bool:
    return request.form.get(name) in ("on", "1", "true", "yes")


def whole_number(name: str, what: str) -> int:
    """The field as an int >= 0, or a BadRequest naming ``what``."""
    raw = text(name, 20)
    if not raw.isdigit():
        raise BadRequest(f"{what} is a whole number (0 or more).")
    return int(raw)


def refusal(change: Callable[[], object]) -> DriveError | None:
    """Run the use case ``change`` and commit; when it refuses, roll back and return why.

    The one way views change data: a refusal leaves nothing half-written, and
    the view shows the returned error by its field (or as the page's status).
    """
    try:
        change()
    except DriveError as exc:
        g.db.rollback()
        return exc
    g.db.commit()
    return None

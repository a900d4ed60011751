"""Checks and small helpers shared by the account use cases (categories, users).

Each ``check_*`` returns the value it accepts (normalised where said) or
raises ``BadRequest`` with a message fit for the person who typed it; none
touches the database. ``audit_change`` records who changed what in the
caller's session.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Mapping
from enum import Enum
from typing import Any, Final

from sqlalchemy.orm import Session

from davdrive import audit
from davdrive.errors import BadRequest
from davdrive.hours import normalize_hours
from davdrive.policy import Actor

MIN_PASSWORD_LENGTH: Final = 8
MAX_PASSWORD_LENGTH: Final = 1024
MAX_LOGIN_LENGTH: Final = 150
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_LOGIN = re.compile(r"^[\w.@+-]+$")


class Unset(Enum):
    UNSET = "unset"


UNSET: Final = Unset.UNSET
"""Marks an argument that was not given (where ``None`` is a meaningful value)."""


def as_utc(moment: dt.datetime | None) -> dt.datetime | None:
    """Aware UTC datetime; naive values (as SQLite returns them) are taken as UTC."""
    if moment is None:
        return None
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def check_level(value: str, allowed: tuple[str, ...], what: str) -> str:
    if value not in allowed:
        raise BadRequest(f"{what} must be one of {', '.join(allowed)}, not {value!r}.")
    return value


def check_slug(slug: str, what: str = "slug") -> str:
    """Return ``slug`` if it is lowercase letters, digits, '-' or '_' (max 64), else raise."""
    if not _SLUG.match(slug):
        raise BadRequest(
            f"Invalid {what} {slug!r}: use lowercase letters, digits, '-' and '_' "
            "(at most 64, starting with a letter or digit)."
        )
    return slug


def check_login(login: str) -> str:
    """Return the NFC login if it may be used, else raise BadRequest."""
    login = unicodedata.normalize("NFC", login)
    if not login or len(login) > MAX_LOGIN_LENGTH or not _LOGIN.match(login):
        raise BadRequest(
            f"Invalid login {login!r}: use 1 to {MAX_LOGIN_LENGTH} letters, digits "
            "and . _ @ + - (no spaces or colons)."
        )
    return login


def login_key(login: str) -> str:
    """The case-insensitive key under which a login is unique."""
    return unicodedata.normalize("NFC", login).casefold()


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise BadRequest(f"The password must have at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise BadRequest(f"The password must have at most {MAX_PASSWORD_LENGTH} characters.")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in password):
        raise BadRequest("The password may not contain control characters.")
    return password


def check_hours(hours: str) -> str:
    try:
        return normalize_hours(hours)
    except ValueError as exc:
        raise BadRequest(str(exc)) from exc


def check_text(value: str | None, limit: int, what: str) -> str:
    text = value or ""
    if len(text) > limit:
        raise BadRequest(f"{what} may have at most {limit} characters.")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise BadRequest(f"{what} may not contain control characters.")
    return text


def parse_moment(text: str | None, what: str, *, end_of_day: bool = False) -> dt.datetime | None:
    """An ISO date or date-time as an aware UTC datetime (None for None or "").

    A date-time without an offset is in the server's local time. A date alone
    is the start of that day, or with ``end_of_day`` the start of the next one
    (the whole day included). Anything else is a BadRequest naming ``what``.
    """
    if text is None or not text.strip():
        return None
    value = text.strip()
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        day = None
    try:
        if day is not None:
            moment = dt.datetime.combine(day + dt.timedelta(days=1 if end_of_day else 0),
                                         dt.time())
        else:
            moment = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise BadRequest(
            f"{what}: {text!r} is not an ISO date or date-time "
            "(e.g. 2026-06-30 or 2026-06-30T18:00)"
        ) from exc
    return moment.astimezone(dt.UTC)


def parse_expiry(text: str | None, what: str = "The expiry") -> dt.datetime | None:
    """An ISO date or date-time in server local time, as aware UTC; '' or 'never' = no expiry.

    A date alone means the account works until the end of that day.
    """
    if text is not None and text.strip().lower() in ("never", "none"):
        return None
    return parse_moment(text, what, end_of_day=True)


def check_degree(degree: int) -> int:
    if degree < 0:
        raise BadRequest(f"The degree must be 0 or more, not {degree}.")
    return degree


def sees_hidden(actor: Actor) -> bool:
    """Whether ``actor`` may see hidden categories and their members."""
    return actor.is_system or actor.config or actor.members == "admin"


SECRET_FIELDS: Final = frozenset({"password"})


def describe_changes(changes: Mapping[str, Any]) -> str:
    """The given changes (values not None) for an event's detail: ``name=value``, or
    the name alone for a secret (``password``): "degree=3, password"."""
    return ", ".join(
        name if name in SECRET_FIELDS else f"{name}={value}"
        for name, value in changes.items() if value is not None
    )


def audit_change(
    session: Session, actor: Actor, action: str, path: str = "", detail: str = ""
) -> None:
    audit.record(session, user=actor.login, action=action, path=path, detail=detail)

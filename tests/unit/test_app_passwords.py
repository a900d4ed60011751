"""Listing app passwords: the user and members admins see labels and dates, never tokens.

Issue 10: "users create and revoke labelled tokens (CLI now ...); each token's
last use is kept". Rules checked: the list names each live token by label with
its creation and last use, revoked ones only on request; neither the token nor
its hash appears; another user (not members admin) is refused.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from davdrive import accounts, passwords
from davdrive.app_passwords import list_app_passwords
from davdrive.errors import Forbidden, NotFound
from davdrive.models import AppPassword, User
from davdrive.passwords import Passwords, token_hash
from davdrive.policy import SYSTEM


def add(session: Session, pw: Passwords, login: str, category: str | None = None) -> User:
    user, _ = accounts.add_user(session, pw, login, category=category, password="correct horse")
    return user


def test_list_shows_labels_and_dates_of_live_tokens_only(
    session: Session, fast_passwords: Passwords
) -> None:
    add(session, fast_passwords, "carol")
    laptop = accounts.app_password(session, "carol", "laptop")
    accounts.app_password(session, "carol", "phone")
    accounts.revoke_app_password(session, "carol", "phone")
    listed = list_app_passwords(session, "carol")
    assert [(i.label, i.live, i.last_used_at) for i in listed] == [("laptop", True, None)]
    assert listed[0].created_at is not None
    everything = list_app_passwords(session, "carol", include_revoked=True)
    assert [(i.label, i.live) for i in everything] == [("laptop", True), ("phone", False)]
    shown = repr(everything)
    assert laptop not in shown and token_hash(laptop) not in shown


def test_last_use_is_listed(session: Session, fast_passwords: Passwords) -> None:
    add(session, fast_passwords, "carol")
    accounts.app_password(session, "carol", "sync")
    row = session.scalars(select(AppPassword)).one()
    row.last_used_at = row.created_at
    session.flush()
    assert list_app_passwords(session, "carol")[0].last_used_at == row.created_at


def test_only_the_user_and_members_admins_list_them(
    session: Session, fast_passwords: Passwords
) -> None:
    carol = add(session, fast_passwords, "carol")
    dave = add(session, fast_passwords, "dave")
    boss = add(session, fast_passwords, "boss", category="admin")
    accounts.app_password(session, "carol", "laptop")
    with pytest.raises(Forbidden):
        list_app_passwords(session, "carol", accounts.actor_for(dave))
    assert len(list_app_passwords(session, "carol", accounts.actor_for(carol))) == 1
    assert len(list_app_passwords(session, "carol", accounts.actor_for(boss))) == 1
    assert len(list_app_passwords(session, "carol", SYSTEM)) == 1
    with pytest.raises(NotFound):
        list_app_passwords(session, "ghost")


def test_generated_secrets_never_start_with_a_dash(
    monkeypatch: pytest.MonkeyPatch, session: Session, fast_passwords: Passwords
) -> None:
    """Finding (CI): an app password "-4_Teq..." made `rclone obscure` fail, taking it
    for an option. Secrets are drawn again until they start with a letter or digit."""
    draws = iter(["-4_TeqdWzTBRkr5V", "_abc", "Zok-first_then-any"])
    monkeypatch.setattr(passwords.secrets, "token_urlsafe", lambda n: next(draws))
    assert passwords.command_line_safe_token(12) == "Zok-first_then-any"
    monkeypatch.undo()
    assert all(passwords.generate_password()[0].isalnum() for _ in range(200))
    add(session, fast_passwords, "tina")
    tokens = [accounts.app_password(session, "tina", f"device {i}") for i in range(200)]
    assert all(t[0].isalnum() for t in tokens)

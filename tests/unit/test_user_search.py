"""``users.search_users``: who may search, what is left out, matching, pages, statements."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from davdrive import users
from davdrive.categories import get_category
from davdrive.errors import BadRequest, Forbidden
from davdrive.models import User
from davdrive.passwords import Passwords
from davdrive.policy import SYSTEM, Actor
from davdrive.runtime import Runtime
from tests.conftest import recorded_statements


def actor_in(session: Session, passwords: Passwords, category: str) -> Actor:
    """The policy's view of a new user of ``category`` (a default category of ``init``)."""
    user, _ = users.add_user(session, passwords, f"acting-{category}", category=category)
    return users.actor_for(user)


def add(session: Session, passwords: Passwords, login: str, category: str = "member",
        **fields: object) -> User:
    user, _ = users.add_user(session, passwords, login, category=category, **fields)  # type: ignore[arg-type]
    return user


def logins(page: users.UserPage) -> list[str]:
    return [u.login for u in page.users]


def test_searching_users_needs_the_members_level_read(
    session: Session, fast_passwords: Passwords
) -> None:
    """Rule: searching users needs ``members >= read`` (like listing them)."""
    member = actor_in(session, fast_passwords, "member")
    with pytest.raises(Forbidden, match="members level 'read'"):
        users.search_users(session, member)
    reader = Actor(user_id=None, login="r", category="r", members="read", documents="none")
    assert users.search_users(session, reader).total >= 1


def test_hidden_categories_are_left_out_for_office_but_shown_to_admin(
    session: Session, fast_passwords: Passwords
) -> None:
    """Rule: users of hidden categories are absent unless the actor sees hidden ones
    (config or members admin); left out in SQL, so totals and full pages agree."""
    office = actor_in(session, fast_passwords, "office")
    admin = actor_in(session, fast_passwords, "admin")
    assert get_category(session, "former").hidden
    for i in range(3):
        add(session, fast_passwords, f"x-gone{i}", "former")
    for i in range(3):
        add(session, fast_passwords, f"x-here{i}")
    seen_by_office = users.search_users(session, office, text="x-", per_page=3)
    assert logins(seen_by_office) == ["x-here0", "x-here1", "x-here2"]
    assert seen_by_office.total == 3, "hidden users are not counted either"
    assert users.search_users(session, office, category="former").total == 0
    seen_by_admin = users.search_users(session, admin, category="former")
    assert logins(seen_by_admin) == ["x-gone0", "x-gone1", "x-gone2"]


def test_category_and_active_filters(session: Session, fast_passwords: Passwords) -> None:
    """Rule: ``category`` keeps that category's users, ``active`` the (in)active ones."""
    add(session, fast_passwords, "ann", "office")
    add(session, fast_passwords, "bob", "member", active=False)
    add(session, fast_passwords, "cid", "member")
    assert logins(users.search_users(session, SYSTEM, category="office")) == ["ann"]
    assert logins(users.search_users(session, SYSTEM, category="member", active=True)) == [
        "cid"]
    assert logins(users.search_users(session, SYSTEM, active=False)) == ["bob"]


def test_an_unknown_category_is_an_empty_page_not_an_error(
    session: Session, fast_passwords: Passwords
) -> None:
    """Rule: an unknown category slug gives an empty page."""
    add(session, fast_passwords, "ann")
    page = users.search_users(session, SYSTEM, category="no-such-category")
    assert (page.users, page.total, page.page, page.pages) == ([], 0, 1, 1)


def test_text_matches_login_name_or_email_case_insensitively(
    session: Session, fast_passwords: Passwords
) -> None:
    """Rule: ``text`` is a case-insensitive substring of the login, display name or e-mail."""
    add(session, fast_passwords, "Carol.P", display_name="Carol Petit")
    add(session, fast_passwords, "dave", display_name="Dave MOREAU")
    add(session, fast_passwords, "eve", email="Eve@Example.org")
    add(session, fast_passwords, "zed")
    assert logins(users.search_users(session, SYSTEM, text="carol.p")) == ["Carol.P"]
    assert logins(users.search_users(session, SYSTEM, text="moreau")) == ["dave"]
    assert logins(users.search_users(session, SYSTEM, text="EXAMPLE.ORG")) == ["eve"]


def test_percent_underscore_and_the_escape_character_are_literal(
    session: Session, fast_passwords: Passwords
) -> None:
    """Rule: LIKE's wildcards ``%`` and ``_`` and the escape character match themselves."""
    add(session, fast_passwords, "a_b")
    add(session, fast_passwords, "axb")
    add(session, fast_passwords, "pct", display_name="100% sure")
    add(session, fast_passwords, "plain", display_name="100 sure")
    add(session, fast_passwords, "slash", display_name="a/b")
    add(session, fast_passwords, "backslash", display_name="a\\b")
    assert logins(users.search_users(session, SYSTEM, text="a_b")) == ["a_b"]
    assert logins(users.search_users(session, SYSTEM, text="0%")) == ["pct"]
    assert logins(users.search_users(session, SYSTEM, text="a/b")) == ["slash"]
    assert logins(users.search_users(session, SYSTEM, text="a\\b")) == ["backslash"]


def test_pages_are_clamped_and_per_page_is_bounded(
    session: Session, fast_passwords: Passwords
) -> None:
    """Rules: ordered by login; page clamped to [1, pages]; pages at least 1;
    per_page 1 to 200, else BadRequest."""
    for login in ("u5", "U1", "u4", "u2", "u3"):
        add(session, fast_passwords, login)
    first = users.search_users(session, SYSTEM, text="u", per_page=2, page=0)
    assert (logins(first), first.total, first.page, first.pages) == (["U1", "u2"], 5, 1, 3)
    last = users.search_users(session, SYSTEM, text="u", per_page=2, page=99)
    assert (logins(last), last.page) == (["u5"], 3)
    assert users.search_users(session, SYSTEM, text="u", per_page=200).pages == 1
    none = users.search_users(session, SYSTEM, text="nobody", page=5)
    assert (none.total, none.page, none.pages) == (0, 1, 1)
    for bad in (0, 201, -1):
        with pytest.raises(BadRequest):
            users.search_users(session, SYSTEM, per_page=bad)


def test_a_search_is_two_statements_whatever_the_number_of_users(
    session: Session, runtime: Runtime
) -> None:
    """Rule: a count and the page, the category loaded with it: two statements for
    2,000 users (and no more when the page's categories are read)."""
    member = get_category(session, "member")
    session.add_all(
        User(login=f"user{i:04d}", login_key=f"user{i:04d}", category_id=member.id)
        for i in range(2000)
    )
    session.commit()
    with recorded_statements(runtime.engine) as seen:
        page = users.search_users(session, SYSTEM, text="USER", page=3, per_page=100)
        slugs = {u.category.slug for u in page.users}
    assert len(seen) == 2, seen
    assert (page.total, page.pages, len(page.users)) == (2000, 20, 100)
    assert page.users[0].login == "user0200" and slugs == {"member"}

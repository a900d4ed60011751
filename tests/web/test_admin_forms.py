"""The admin view driven by posting forms directly (no browser): sign-in, sessions,
CSRF and Origin checks, and DESIGN 3.11's rules held on the server."""

from __future__ import annotations

import datetime as dt
from typing import Any

from davdrive import accounts
from davdrive.models import AuditEvent, Category, User, WebSession
from davdrive.server import DriveApp
from tests.web.conftest import Browserless, password_of


def _user(app: DriveApp, login: str) -> User | None:
    with app.runtime.sessions() as session:
        user = accounts.find_user(session, login)
        if user is not None:
            session.expunge(user)
        return user


def _category_of(app: DriveApp, login: str) -> str:
    with app.runtime.sessions() as session:
        return accounts.get_user(session, login).category.slug


# --- sign-in --------------------------------------------------------------------------


def test_browser_get_of_root_goes_to_the_web_drive(office: DriveApp) -> None:
    """Finding (issue 13): GET /admin/ answered 404. A browser opening / is sent to the
    web drive (DESIGN 6), which asks for a sign-in first; /admin/ does too."""
    b = Browserless(office)
    answer = b.get("/", Accept="text/html,application/xhtml+xml")
    assert answer.status_code == 302
    assert answer.headers["Location"].endswith("/files/")
    assert "/admin/signin?next=/files/" in b.client.get("/files/").headers["Location"]
    assert b.get("/admin/").status_code == 302  # not signed in: to the sign-in page
    assert "/admin/signin" in b.client.get("/admin/").headers["Location"]


def test_options_on_root_still_answers_webdav_clients(office: DriveApp) -> None:
    answer = Browserless(office).client.open("/", method="OPTIONS")
    assert answer.status_code == 200
    assert "1, 2" in answer.headers["DAV"]


def test_sign_in_starts_a_server_side_session_with_a_strict_cookie(office: DriveApp) -> None:
    b = Browserless(office)
    answer = b.sign_in("root")
    assert answer.status_code == 303
    cookie = answer.headers.getlist("Set-Cookie")
    session_cookie = next(c for c in cookie if c.startswith("davdrive_session="))
    assert "HttpOnly" in session_cookie and "SameSite=Strict" in session_cookie
    with office.runtime.sessions() as session:
        assert session.query(WebSession).count() == 1
    assert b.get("/admin/users").status_code == 200


def test_wrong_password_says_nothing_about_the_account(office: DriveApp) -> None:
    b = Browserless(office)
    wrong = b.sign_in("root", "not-the-password")
    wrong_page = b.page
    unknown = b.sign_in("nobody-here", "not-the-password")
    assert wrong.status_code == unknown.status_code == 200
    assert "Wrong login or password." in wrong_page and "Wrong login or password." in b.page
    assert b.session_cookie() is None


def _refused_sign_in(office: DriveApp, login: str, **changes: Any) -> str:
    with office.runtime.sessions() as session:
        accounts.set_user(session, office.runtime.passwords, login, **changes)
        session.commit()
    b = Browserless(office)
    b.sign_in(login)
    assert b.session_cookie() is None, f"{login} was signed in"
    return b.page


def test_sign_in_rule_refuses_a_disabled_account_with_its_reason(office: DriveApp) -> None:
    assert "the account is disabled" in _refused_sign_in(office, "mary", active=False)


def test_sign_in_rule_refuses_an_expired_account(office: DriveApp) -> None:
    past = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    assert "the account has expired" in _refused_sign_in(office, "mary", expires_at=past)


def test_sign_in_rule_refuses_outside_login_hours(office: DriveApp) -> None:
    now = dt.datetime.now().astimezone()
    other_day = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[(now.weekday() + 3) % 7]
    page = _refused_sign_in(office, "mary", hours=f"{other_day} 08:00-09:00")
    assert "outside the account&#39;s login hours" in page


def test_sign_in_rule_refuses_a_category_without_login(office: DriveApp) -> None:
    b = Browserless(office)
    b.sign_in("fred")  # 'former' may not sign in
    assert b.session_cookie() is None
    assert "category may not sign in" in b.page


def test_sign_out_ends_the_session_everywhere(office: DriveApp) -> None:
    b = Browserless(office)
    b.sign_in("root")
    cookie = b.session_cookie()
    b.get("/admin/users")
    assert b.post("/admin/signout").status_code == 303
    replay = Browserless(office)
    replay.client.set_cookie("davdrive_session", cookie or "", domain="localhost")
    answer = replay.get("/admin/users")
    assert answer.status_code == 302 and "/admin/signin" in answer.headers["Location"]


def test_a_password_change_ends_the_accounts_sessions(office: DriveApp) -> None:
    b = Browserless(office)
    b.sign_in("olga")
    assert b.get("/admin/users").status_code == 200
    with office.runtime.sessions() as session:
        accounts.set_user(session, office.runtime.passwords, "olga",
                          password="a-brand-new-pass-phrase")
        session.commit()
    answer = b.get("/admin/users")
    assert answer.status_code == 302 and "/admin/signin" in answer.headers["Location"]


def test_changing_my_password_keeps_me_signed_in_here_only(office: DriveApp) -> None:
    here, elsewhere = Browserless(office), Browserless(office)
    here.sign_in("mary")
    elsewhere.sign_in("mary")
    here.get("/admin/account")
    answer = here.post("/admin/account/password", {
        "current": password_of("mary"), "new": "mary-new-pass-phrase",
        "again": "mary-new-pass-phrase"})
    assert answer.status_code == 303
    assert here.get("/admin/account").status_code == 200
    assert elsewhere.get("/admin/account").status_code == 302
    assert Browserless(office).sign_in("mary", "mary-new-pass-phrase").status_code == 303


def test_my_password_form_puts_each_message_by_its_field(office: DriveApp) -> None:
    b = Browserless(office)
    b.sign_in("mary")
    b.get("/admin/account")
    answer = b.post("/admin/account/password",
                    {"current": "wrong", "new": "short", "again": "short"})
    assert answer.status_code == 400
    assert 'id="error-current"' in b.page and 'id="error-new"' in b.page


# --- CSRF and Origin --------------------------------------------------------------------


def _try_delete_mary(b: Browserless, **kwargs: Any) -> int:
    b.get("/admin/users/mary")
    return b.post("/admin/users/mary/delete", **kwargs).status_code


def test_post_without_csrf_token_is_refused_and_changes_nothing(office: DriveApp) -> None:
    b = Browserless(office)
    b.sign_in("root")
    assert _try_delete_mary(b, token="") == 403
    assert "did not come from this site" in b.page
    assert _user(office, "mary") is not None


def test_post_with_a_wrong_csrf_token_is_refused(office: DriveApp) -> None:
    b = Browserless(office)
    b.sign_in("root")
    assert _try_delete_mary(b, token="forged-token-value") == 403
    assert _user(office, "mary") is not None


def test_another_sessions_token_is_not_this_ones(office: DriveApp) -> None:
    other = Browserless(office)
    other.sign_in("ann")
    other.get("/admin/users")
    stolen = other.token()
    b = Browserless(office)
    b.sign_in("root")
    assert _try_delete_mary(b, token=stolen) == 403
    assert _user(office, "mary") is not None


def test_post_from_a_foreign_origin_is_refused(office: DriveApp) -> None:
    b = Browserless(office)
    b.sign_in("root")
    assert _try_delete_mary(b, Origin="https://evil.example") == 403
    assert "from another site" in b.page
    assert _try_delete_mary(b, **{"Sec-Fetch-Site": "cross-site", "Origin": ""}) == 403
    assert _user(office, "mary") is not None
    assert _try_delete_mary(b) == 303  # the same form from this site goes through
    assert _user(office, "mary") is None


def test_sign_in_form_needs_its_own_token(office: DriveApp) -> None:
    b = Browserless(office)
    b.get("/admin/signin")
    answer = b.post("/admin/signin", {"login": "root", "password": password_of("root")},
                    token="")
    assert answer.status_code == 403
    assert b.session_cookie() is None


# --- who enters which page -----------------------------------------------------------


def test_member_reaches_only_the_web_drive_and_my_account(office: DriveApp) -> None:
    b = Browserless(office)
    b.sign_in("mary")
    assert b.get("/admin/").headers["Location"].endswith("/files/")
    assert b.get("/admin/account").status_code == 200
    for page in ("/admin/users", "/admin/categories", "/admin/folders", "/admin/view-as",
                 "/admin/records", "/admin/users/root"):
        answer = b.get(page)
        assert answer.status_code == 403, page
        assert "not open to you" in b.page
    assert "Traceback" not in b.page


def test_office_never_sees_a_hidden_category_or_its_users(office: DriveApp) -> None:
    b = Browserless(office)
    b.sign_in("olga")
    b.get("/admin/users")
    assert "mary" in b.page and "fred" not in b.page
    b.get("/admin/categories")
    assert "member" in b.page and "former" not in b.page
    assert b.get("/admin/users/fred").status_code == 404
    assert b.get("/admin/users?category=former").status_code == 200
    assert "fred" not in b.page
    root = Browserless(office)
    root.sign_in("root")
    root.get("/admin/users")
    assert "fred" in root.page


# --- rule 11 on the server --------------------------------------------------------------


def test_members_write_edits_a_user(office: DriveApp) -> None:
    b = Browserless(office)
    b.sign_in("olga")
    b.get("/admin/users/mary")
    answer = b.post("/admin/users/mary", {"display_name": "Mary Poppins", "degree": "2",
                                          "category": "member", "active": "on"})
    assert answer.status_code == 303
    user = _user(office, "mary")
    assert user is not None and user.display_name == "Mary Poppins" and user.degree == 2


def test_members_write_does_not_delete_users(office: DriveApp) -> None:
    b = Browserless(office)
    b.sign_in("olga")
    assert _try_delete_mary(b) == 403
    assert _user(office, "mary") is not None


def test_members_write_does_not_change_a_category(office: DriveApp) -> None:
    b = Browserless(office)
    b.sign_in("olga")
    b.get("/admin/users/mary")
    answer = b.post("/admin/users/mary", {"category": "office", "degree": "1", "active": "on",
                                          "display_name": "Mary"})
    assert answer.status_code == 403
    assert _category_of(office, "mary") == "member"


def test_members_read_does_not_add_users(office: DriveApp) -> None:
    b = Browserless(office)
    b.sign_in("rita")
    b.get("/admin/users/new")
    answer = b.post("/admin/users/new", {"login": "newbie", "degree": "1", "active": "on"})
    assert answer.status_code == 403
    assert _user(office, "newbie") is None


def test_nobody_deletes_themself(office: DriveApp) -> None:
    b = Browserless(office)
    b.sign_in("root")
    b.get("/admin/users/root")
    assert b.post("/admin/users/root/delete").status_code == 403
    assert _user(office, "root") is not None


def test_nobody_changes_their_own_category(office: DriveApp) -> None:
    b = Browserless(office)
    b.sign_in("root")
    b.get("/admin/users/root")
    answer = b.post("/admin/users/root", {"category": "member", "degree": "1", "active": "on",
                                          "display_name": "Root"})
    assert answer.status_code == 403
    assert _category_of(office, "root") == "admin"


def test_the_last_administrator_is_never_removed_demoted_or_disabled(office: DriveApp) -> None:
    b = Browserless(office)
    b.sign_in("root")
    b.get("/admin/users/ann")
    assert b.post("/admin/users/ann/delete").status_code == 303  # two admins: ann may go
    b.get("/admin/users/root")
    assert b.post("/admin/users/root", {"display_name": "Root", "degree": "1"}
                  ).status_code == 409  # root disabling itself (no "active"): the last admin
    with office.runtime.sessions() as session:
        assert accounts.get_user(session, "root").active
        root_admin = session.query(Category).filter_by(slug="admin").one()
        assert root_admin.config
    b.get("/admin/categories")
    answer = b.post("/admin/categories/admin", {"label": "Administrators", "documents": "admin",
                                                "members": "none", "login": "on"})
    assert answer.status_code == 409  # the admin category losing config and members admin
    with office.runtime.sessions() as session:
        assert session.query(Category).filter_by(slug="admin").one().config


def test_refused_actions_are_clear_pages_without_traces(office: DriveApp) -> None:
    b = Browserless(office)
    b.sign_in("root")
    assert b.get("/admin/users/nobody-at-all").status_code == 404
    assert "No user" in b.page and "Traceback" not in b.page
    assert b.get("/admin/no-such-page").status_code == 404
    assert "Traceback" not in b.page


def test_failed_sign_ins_are_audited(office: DriveApp) -> None:
    Browserless(office).sign_in("root", "wrong-password")
    with office.runtime.sessions() as session:
        events = session.query(AuditEvent).filter_by(action="login", outcome="refused").all()
    assert any("admin view" in e.detail for e in events)


def _add_members(app: DriveApp, count: int) -> None:
    from davdrive.models import User

    with app.runtime.sessions() as session:
        member = session.query(Category).filter_by(slug="member").one()
        session.add_all(User(login=f"m{i:05d}", login_key=f"m{i:05d}", category_id=member.id,
                             password_hash="x") for i in range(count))
        session.commit()


def test_the_user_list_costs_the_same_statements_with_thousands_of_users(
    office: DriveApp,
) -> None:
    from tests.conftest import recorded_statements

    b = Browserless(office)
    b.sign_in("root")
    b.get("/admin/users")
    with recorded_statements(office.runtime.engine) as few:
        b.get("/admin/users?page=2")
    _add_members(office, 3000)
    with recorded_statements(office.runtime.engine) as many:
        answer = b.get("/admin/users?page=30")
    assert answer.status_code == 200
    assert len(many) == len(few), many
    assert b.page.count('<tr id="user-') == 50
    assert "page 30 of 61" in b.page  # 3,006 users, 50 a page


def test_my_app_passwords_are_made_shown_once_used_over_webdav_and_revoked(
    office: DriveApp,
) -> None:
    from tests.conftest import Dav, basic

    b = Browserless(office)
    b.sign_in("mary")
    b.get("/admin/account")
    answer = b.post("/admin/account/app-passwords", {"label": "phone"})
    assert answer.status_code == 200
    token = b.page.split('id="new-token">', 1)[1].split("<", 1)[0]
    dav = Dav(Browserless(office).client, basic("mary", token))
    assert dav("PROPFIND", "/dav/", Depth="0").status_code == 207
    assert Browserless(office).sign_in("mary", token).status_code == 200  # not for the browser
    b.get("/admin/account")
    assert "phone" in b.page and token not in b.page
    assert b.post("/admin/account/app-passwords/revoke", {"label": "phone"}).status_code == 303
    assert dav("PROPFIND", "/dav/", Depth="0").status_code == 401

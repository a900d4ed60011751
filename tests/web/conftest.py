"""Fixtures of the admin view tests: a drive with init's categories and its people,
and a cookie-keeping form client over the WSGI app (no browser)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from werkzeug.test import Client, TestResponse

from davdrive import accounts, node_admin
from davdrive.runtime import Runtime
from davdrive.server import DriveApp, create_app
from davdrive.settings import Settings

# login -> category (init's defaults, plus a read-only members category)
PEOPLE = {
    "root": "admin",
    "ann": "admin",
    "olga": "office",
    "mary": "member",
    "fred": "former",
    "rita": "reception",
}
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def password_of(login: str) -> str:
    return f"{login}-pass-phrase"


@pytest.fixture
def office(settings: Settings, runtime: Runtime) -> DriveApp:
    """init's categories and doc types, a 'reception' category (members read), the people."""
    with runtime.sessions() as session:
        accounts.init_defaults(session)
        # init's root rights (the fixture's drive has its root already)
        node_admin.set_folder_rights(session, node_admin.resolve_path(session, "/"),
                                     dict(accounts.DEFAULT_ROOT_RIGHTS))
        accounts.add_category(session, "reception", documents="read", members="read")
        for login, category in PEOPLE.items():
            accounts.add_user(session, runtime.passwords, login, category,
                              password=password_of(login), display_name=login.title())
        session.commit()
    return create_app(settings, runtime)


@dataclass
class Browserless:
    """Posts forms as a browser would (cookies kept, the page's CSRF token sent back),
    from ``remote_addr``."""

    app: DriveApp
    client: Client = field(init=False)
    page: str = ""
    remote_addr: str = "127.0.0.1"

    def __post_init__(self) -> None:
        self.client = Client(self.app)

    def get(self, path: str, **headers: str) -> TestResponse:
        response = self.client.get(path, headers=headers,
                                   environ_overrides={"REMOTE_ADDR": self.remote_addr})
        self.page = response.get_data(as_text=True)
        return response

    def token(self) -> str:
        found = _CSRF.search(self.page)
        assert found, "the page has no form with a CSRF token"
        return found.group(1)

    def post(self, path: str, data: dict[str, object] | None = None, *, token: str | None = None,
             **headers: str) -> TestResponse:
        """POST ``data`` with the last page's token (``token=""`` sends none)."""
        form = dict(data or {})
        sent = self.token() if token is None else token
        if sent:
            form["csrf_token"] = sent
        headers.setdefault("Origin", "http://localhost")
        headers.setdefault("Sec-Fetch-Site", "same-origin")
        response = self.client.post(path, data=form, headers=headers,
                                    environ_overrides={"REMOTE_ADDR": self.remote_addr})
        self.page = response.get_data(as_text=True)
        return response

    def sign_in(self, login: str, password: str | None = None) -> TestResponse:
        self.get("/admin/signin")
        return self.post("/admin/signin", {"login": login,
                                           "password": password or password_of(login)})

    def session_cookie(self) -> str | None:
        cookie = self.client.get_cookie("davdrive_session")
        return cookie.value if cookie else None


@pytest.fixture
def browser_for(office: DriveApp) -> Iterator[object]:
    def make(login: str | None = None) -> Browserless:
        b = Browserless(office)
        if login:
            answer = b.sign_in(login)
            assert answer.status_code == 303, b.page
        return b

    yield make

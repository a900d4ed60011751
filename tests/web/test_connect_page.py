""""Connect your computer" (/files/connect), through the WSGI app.

Rules: every signed-in user gets the page, with the drive's WebDAV URL as the
browser reached the server (dav.mount included; forwarded scheme and host only
from a trusted proxy) and their login; "Create an app password" makes one
through the account use case (stored as a hash only) and shows it once, in the
steps: a reload shows placeholders again; a bad label is a 400 and creates
nothing; a forged or cross-site POST is refused and changes nothing; the
self-test reports each check and never contacts a host or port other than this
server's own.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import html
from sqlalchemy import select
from werkzeug.test import Client, TestResponse

from davdrive import accounts
from davdrive.models import AppPassword
from davdrive.passwords import Passwords, token_hash
from davdrive.rclone_config import PLACEHOLDER
from davdrive.runtime import open_runtime
from davdrive.server import DriveApp, create_app
from davdrive.settings import load_settings
from tests.conftest import Dav, basic
from tests.web.conftest import Browserless, password_of

TOKEN = re.compile(r'<code id="new-app-password">([^<]+)</code>')


def text_of(page: str, css_id: str) -> str:
    found = html.fromstring(page).get_element_by_id(css_id)
    return str(found.text_content())


def app_passwords(app: DriveApp, login: str) -> list[AppPassword]:
    with app.runtime.sessions() as session:
        user = accounts.get_user(session, login)
        rows = session.scalars(select(AppPassword).where(AppPassword.user_id == user.id))
        found = list(rows)
        session.expunge_all()
        return found


@pytest.fixture
def app_with(tmp_path: Path, fast_passwords: Passwords) -> Iterator[object]:
    """An app with extra settings and a user 'mary' (category member)."""
    runtimes = []

    def make(**extra: object) -> DriveApp:
        settings = load_settings(None, {}, {"data_dir": str(tmp_path / f"d{len(runtimes)}"),
                                            "server.port": 0, **extra})
        runtime = open_runtime(settings, fast_passwords)
        runtimes.append(runtime)
        with runtime.sessions() as session:
            accounts.init_defaults(session)
            accounts.add_user(session, runtime.passwords, "mary", "member",
                              password=password_of("mary"))
            session.commit()
        return create_app(settings, runtime)

    yield make
    for runtime in runtimes:
        runtime.close()


def signed_in(app: DriveApp, login: str = "mary") -> Browserless:
    b = Browserless(app)
    assert b.sign_in(login).status_code == 303, b.page
    return b


def test_the_page_shows_the_drive_url_with_the_mount_and_the_login(office: DriveApp) -> None:
    b = signed_in(office)
    answer = b.get("/files/connect")
    assert answer.status_code == 200
    assert text_of(b.page, "dav-url") == "http://localhost/dav/"
    assert text_of(b.page, "dav-login") == "mary"
    conf = text_of(b.page, "rclone-conf")
    assert conf.splitlines() == ["[davdrive]", "type = webdav",
                                 "url = http://localhost/dav/files/mary", "vendor = nextcloud",
                                 "user = mary", f"pass = {PLACEHOLDER}"]
    assert "create-app-password" in b.page
    assert text_of(b.page, "finder-url") == "http://localhost/dav/"
    assert text_of(b.page, "gio-url") == "dav://localhost/dav/"
    assert "no-webclient" in b.page and "net-use" not in b.page  # plain HTTP
    assert "plain-http" not in b.page  # localhost: no warning about the network


def test_the_menu_has_connect_right_after_files_and_marks_only_it(office: DriveApp) -> None:
    b = signed_in(office)
    b.get("/files/connect")
    nav = html.fromstring(b.page).xpath("//header/nav/a")
    assert [a.text_content() for a in nav][:2] == ["Files", "Connect"]
    assert [a.text_content() for a in nav if "here" in (a.get("class") or "")] == ["Connect"]
    b.get("/files/")
    nav = html.fromstring(b.page).xpath("//header/nav/a")
    assert [a.text_content() for a in nav if "here" in (a.get("class") or "")] == ["Files"]


def test_signed_out_browsers_are_sent_to_the_sign_in(office: DriveApp) -> None:
    answer = Browserless(office).get("/files/connect")
    assert answer.status_code == 302
    assert "/admin/signin" in answer.headers["Location"]


def test_another_mount_and_a_trusted_proxy_make_the_url(app_with) -> None:  # type: ignore[no-untyped-def]
    app = app_with(**{"dav.mount": "/webdav", "server.trusted_proxies": ["10.0.0.1"]})
    b = signed_in(app)
    proxied = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "drive.example.org"}
    b.get("/files/connect", **proxied)  # from 127.0.0.1: not a trusted proxy
    assert text_of(b.page, "dav-url") == "http://localhost/webdav/"
    b.remote_addr = "10.0.0.1"
    b.get("/files/connect", **proxied)
    assert text_of(b.page, "dav-url") == "https://drive.example.org/webdav/"
    conf = text_of(b.page, "rclone-conf")
    assert "url = https://drive.example.org/webdav/\nvendor = owncloud\n" in conf
    assert text_of(b.page, "net-use") == "net use Z: https://drive.example.org/webdav/ /user:mary *"
    assert text_of(b.page, "gio-url") == "davs://drive.example.org/webdav/"


def test_plain_http_to_another_machine_is_warned_about(office: DriveApp) -> None:
    b = signed_in(office)
    assert at_host(b, "/files/connect", "drive.example.org").status_code == 200
    assert text_of(b.page, "dav-url") == "http://drive.example.org/dav/"
    assert "unencrypted" in text_of(b.page, "plain-http")


def test_a_malformed_host_is_a_bad_request(office: DriveApp) -> None:
    b = signed_in(office)
    assert at_host(b, "/files/connect", "drive.example.org:99999").status_code == 400
    assert "Malformed port" in b.page


def test_an_app_password_is_created_and_shown_once(office: DriveApp) -> None:
    b = signed_in(office)
    b.get("/files/connect")
    answer = b.post("/files/connect/app-password", {"label": "laptop rclone"})
    assert answer.status_code == 200, b.page
    token = TOKEN.search(b.page).group(1)  # type: ignore[union-attr]
    assert "laptop rclone" in b.page and "shown-once" in b.page
    conf = text_of(b.page, "rclone-conf")
    assert PLACEHOLDER not in conf and token not in conf  # obscured
    assert text_of(b.page, "davfs2-secrets") == f"http://localhost/dav/ mary {token}"
    rows = app_passwords(office, "mary")
    assert [(r.label, r.token_hash) for r in rows] == [("laptop rclone", token_hash(token))]
    # it works over WebDAV, not for the web sign-in
    propfind = Dav(Client(office), basic("mary", token))("PROPFIND", "/dav/", Depth="0")
    assert propfind.status_code == 207
    assert Browserless(office).sign_in("mary", token).status_code != 303

    b.get("/files/connect")  # a reload: gone
    assert token not in b.page
    assert f"pass = {PLACEHOLDER}" in text_of(b.page, "rclone-conf")
    assert "new-app-password" not in b.page


def test_an_empty_label_gets_a_dated_default(office: DriveApp) -> None:
    b = signed_in(office)
    b.get("/files/connect")
    default = html.fromstring(b.page).get_element_by_id("label").get("value")
    assert re.fullmatch(r"rclone on \d{4}-\d{2}-\d{2}", default)
    assert b.post("/files/connect/app-password", {"label": "  "}).status_code == 200
    assert [r.label for r in app_passwords(office, "mary")] == [default]


@pytest.mark.parametrize("label", ["x" * 201, "tab\there", "nul\x00"])
def test_a_bad_label_is_refused_and_creates_nothing(office: DriveApp, label: str) -> None:
    b = signed_in(office)
    b.get("/files/connect")
    answer = b.post("/files/connect/app-password", {"label": label})
    assert answer.status_code == 400
    assert "The label may" in text_of(b.page, "error-label")
    assert TOKEN.search(b.page) is None
    assert app_passwords(office, "mary") == []


@pytest.mark.parametrize("path", ["/files/connect/app-password", "/files/connect/self-test"])
def test_forged_posts_are_refused_and_change_nothing(office: DriveApp, path: str) -> None:
    b = signed_in(office)
    b.get("/files/connect")
    assert b.post(path, {"label": "forged"}, token="").status_code == 403
    assert b.post(path, {"label": "forged"}, token="wrong-token").status_code == 403
    assert b.post(path, {"label": "forged"}, Origin="https://evil.example",
                  **{"Sec-Fetch-Site": "cross-site"}).status_code == 403
    assert "self-test-results" not in b.page
    assert app_passwords(office, "mary") == []


def test_the_self_test_refuses_a_value_that_is_no_app_password(office: DriveApp) -> None:
    b = signed_in(office)
    b.get("/files/connect")
    answer = b.post("/files/connect/self-test", {"app_password": "not one: spaces"})
    assert answer.status_code == 400
    assert "not an app password" in b.page


def at_host(b: Browserless, path: str, host: str, server_port: int = 80,
            data: dict[str, str] | None = None) -> TestResponse:
    """GET (or POST ``data``) as ``b``'s session, in a request that came in with Host
    ``host`` at ``server_port``."""
    client = Client(b.app, use_cookies=False)
    headers = {"Host": host, "Cookie": f"davdrive_session={b.session_cookie()}"}
    overrides = {"REMOTE_ADDR": "127.0.0.1", "SERVER_PORT": str(server_port)}
    if data is None:
        response = client.get(path, headers=headers, environ_overrides=overrides)
    else:
        headers.update({"Origin": f"http://{host}", "Sec-Fetch-Site": "same-origin"})
        response = client.post(path, data={**data, "csrf_token": b.token()}, headers=headers,
                               environ_overrides=overrides)
    b.page = response.get_data(as_text=True)
    return response


def results(page: str) -> dict[str, tuple[str, str]]:
    rows = html.fromstring(page).get_element_by_id("self-test-results").xpath("tbody/tr")
    return {r.get("data-check"): (r.get("class"), r.xpath("td")[2].text_content())
            for r in rows}


def test_the_self_test_reports_a_closed_port_with_reasons(office: DriveApp) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    b = signed_in(office)
    b.get("/files/connect")
    answer = at_host(b, "/files/connect/self-test", f"127.0.0.1:{port}", port, {})
    assert answer.status_code == 200, b.page
    found = results(b.page)
    assert list(found) == ["Name lookup", "This server", "Connection", "Encryption",
                           "Drive answers", "Sign-in"]
    assert found["Name lookup"][0] == "check-ok"
    assert found["This server"][0] == "check-ok"
    assert found["Connection"] == ("check-failed", found["Connection"][1])
    assert "connection refused" in found["Connection"][1]
    assert {found[n][0] for n in ("Encryption", "Drive answers", "Sign-in")} == {"check-skipped"}


def test_the_self_test_never_contacts_another_port_named_in_the_host(office: DriveApp) -> None:
    """A crafted Host header cannot turn the self-test into a port scanner."""
    with socket.create_server(("127.0.0.1", 0)) as other:
        other.settimeout(0.2)
        port = other.getsockname()[1]
        b = signed_in(office)
        b.get("/files/connect")
        at_host(b, "/files/connect/self-test", f"127.0.0.1:{port}", 80, {})
        assert results(b.page)["This server"][0] == "check-failed"
        with pytest.raises(TimeoutError):
            other.accept()


def test_after_the_self_test_the_new_app_password_is_still_on_that_page(
    office: DriveApp,
) -> None:
    """The form carries it back (it is not stored); a plain reload has it no more."""
    b = signed_in(office)
    b.get("/files/connect")
    b.post("/files/connect/app-password", {"label": "desk"})
    token = TOKEN.search(b.page).group(1)  # type: ignore[union-attr]
    hidden = html.fromstring(b.page).xpath("//input[@name='app_password']")
    assert [h.get("value") for h in hidden] == [token]
    b.post("/files/connect/self-test", {"app_password": token})
    assert "self-test-results" in b.page
    assert TOKEN.search(b.page).group(1) == token  # type: ignore[union-attr]
    b.get("/files/connect")
    assert token not in b.page

"""The connect page end to end: a user signs in through the web, creates an app
password on /files/connect, and the rclone.conf section the page shows works as it
is with the real rclone (Debian's 1.60 and the current release); the page's
self-test against the live server reports every check ok.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from lxml import html

from davdrive import node_admin
from davdrive.policy import SYSTEM
from davdrive.server import DriveApp
from davdrive.services import Drive
from tests.conftest import LiveServer, put_file, serving
from tests.live.test_rclone_vendors import debian_rclone, release_rclone
from tests.web.conftest import office, password_of  # noqa: F401  (a fixture)
from tests.web_forms import csrf_token

pytestmark = pytest.mark.live

BINARIES = {"debian": debian_rclone, "release": release_rclone}


@pytest.fixture
def site(office: DriveApp) -> Iterator[LiveServer]:  # noqa: F811
    """The office drive with /Minutes/assembly.txt, served live."""
    runtime = office.runtime
    with runtime.sessions() as session:
        drive = Drive(session, runtime.blobs, SYSTEM, runtime.drive_options)
        folder, _ = node_admin.make_folders(session, drive, "/Minutes")
        put_file(drive, folder, "assembly.txt", b"The assembly met.")
        session.commit()
    with serving(office) as server:
        yield server


class WebUser:
    """A requests session signed in through the sign-in form, posting forms as a
    browser does (the page's CSRF token, an Origin header)."""

    def __init__(self, site: LiveServer, login: str) -> None:
        self.site = site
        self.http = requests.Session()
        self.page = ""
        self.get("/admin/signin")
        answer = self.post("/admin/signin", {"login": login, "password": password_of(login)})
        assert answer.history and "davdrive_session" in self.http.cookies, answer.text

    def get(self, path: str) -> requests.Response:
        answer = self.http.get(self.site.url + path, timeout=30)
        self.page = answer.text
        return answer

    def post(self, path: str, form: dict[str, str]) -> requests.Response:
        answer = self.http.post(self.site.url + path,
                                data={**form, "csrf_token": csrf_token(self.page)},
                                headers={"Origin": self.site.url}, timeout=60)
        self.page = answer.text
        return answer

    def text(self, css_id: str) -> str:
        return str(html.fromstring(self.page).get_element_by_id(css_id).text_content())


def rclone(binary: str, config: Path, *args: str) -> str:
    done = subprocess.run(
        [binary, "--config", str(config), "--low-level-retries", "1", "--retries", "1", *args],
        capture_output=True, text=True, timeout=120, check=False,
        env={"HOME": str(config.parent), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, (args, done.stderr)
    return done.stdout


@pytest.mark.parametrize("build", ["debian", "release"])
def test_the_pages_rclone_section_works_with_the_real_rclone(
    site: LiveServer, tmp_path: Path, build: str
) -> None:
    binary = BINARIES[build]()
    olga = WebUser(site, "olga")
    assert olga.get("/files/connect").status_code == 200
    answer = olga.post("/files/connect/app-password", {"label": f"rclone {build}"})
    assert answer.status_code == 200
    token = olga.text("new-app-password")
    section = olga.text("rclone-conf")
    assert f"url = {site.url}/dav/files/olga\n" in section
    assert "vendor = nextcloud\n" in section and token not in section

    config = tmp_path / "rclone.conf"
    config.write_text(section, encoding="utf-8")
    assert rclone(binary, config, "lsf", "davdrive:").splitlines() == ["Minutes/", "backoffice/"]
    assert rclone(binary, config, "cat", "davdrive:Minutes/assembly.txt") == "The assembly met."
    local = tmp_path / "note.txt"
    local.write_bytes(b"sent by rclone with the connect page's settings\n")
    rclone(binary, config, "copyto", str(local), "davdrive:Inbox/note.txt")
    assert rclone(binary, config, "lsf", "davdrive:").splitlines() == [
        "Inbox/", "Minutes/", "backoffice/"]
    assert rclone(binary, config, "lsf", "davdrive:Inbox").splitlines() == ["note.txt"]
    assert rclone(binary, config, "cat", "davdrive:Inbox/note.txt").encode() == \
        local.read_bytes()
    rclone(binary, config, "check", str(tmp_path), "davdrive:Inbox", "--include", "note.txt")

    # the self-test from the same page: every check ok, signed in with the app password
    olga.post("/files/connect/self-test", {"app_password": token})
    rows = html.fromstring(olga.page).get_element_by_id("self-test-results").xpath("tbody/tr")
    outcomes = {r.get("data-check"): r.xpath("td")[1].text_content() for r in rows}
    assert outcomes == dict.fromkeys(
        ["Name lookup", "This server", "Connection", "Encryption", "Drive answers", "Sign-in"],
        "ok"), olga.page
    assert token not in olga.get("/files/connect").text

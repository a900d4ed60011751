"""Uploading several files at once in the web drive (``POST /files/upload``).

Rules (DESIGN 3-6; web/files/upload_views.py): the form is offered only where
the user may create; a submit is all or nothing, each file checked as a WebDAV
PUT of it; a refusal answers the folder's page with the refusal's 4xx status,
naming every refused file with its reason, and stores nothing (no row, GET over
WebDAV 404); an accepted submit is stored as the same user's WebDAV sees it, one
audit event per file; a file over one the user may modify replaces it and keeps
a version; forged posts (no CSRF token, or a user without the right) change
nothing; the quotas count the whole submit (507); a submit past the upload
limit is a 413. JavaScript only enhances the plain form, served as a file the
Content-Security-Policy allows.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select
from werkzeug.test import Client, TestResponse

from davdrive import node_admin, tree
from davdrive.models import AuditEvent, Node, NodeVersion
from davdrive.policy import SYSTEM
from davdrive.server import DriveApp
from davdrive.services import Drive
from davdrive.settings import Settings, load_settings
from tests.conftest import Dav, basic, put_file
from tests.web.conftest import Browserless, password_of


@pytest.fixture
def settings(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """The usual test settings plus the test's own (``indirect`` parameter)."""
    values = {"data_dir": str(tmp_path / "data"), "server.port": 0,
              **getattr(request, "param", {})}
    return load_settings(None, {}, values)


@pytest.fixture
def minutes(office: DriveApp) -> Iterator[DriveApp]:
    """/Minutes holding assembly.txt, written by the system (nobody but a manager
    modifies it)."""
    rt = office.runtime
    with rt.sessions() as session:
        drive = Drive(session, rt.blobs, SYSTEM, rt.drive_options)
        folder, _ = node_admin.make_folders(session, drive, "/Minutes")
        put_file(drive, folder, "assembly.txt", b"The assembly met.")
        session.commit()
    yield office


def signed_in(app: DriveApp, login: str) -> Browserless:
    b = Browserless(app)
    assert b.sign_in(login).status_code == 303
    return b


def upload(b: Browserless, folder: str, files: dict[str, bytes], *,
           token: str | None = None) -> TestResponse:
    """Open ``folder``'s page (for its token), then post ``files`` to the upload form."""
    b.get(f"/files{folder}")
    data: dict[str, object] = {"path": folder, "files": [
        (io.BytesIO(content), name) for name, content in files.items()]}
    return b.post("/files/upload", data, token=token)


def nodes_named(app: DriveApp, folder: str, names: list[str]) -> dict[str, Node]:
    """The live nodes of ``folder`` with these names, read from the database."""
    with app.runtime.sessions() as session:
        parent = node_admin.resolve_path(session, folder)
        found = {}
        for name in names:
            node = tree.child_named(session, parent.id, name)
            if node is not None:
                found[name] = node
        return found


def dav_as(app: DriveApp, login: str) -> Dav:
    return Dav(Client(app), basic(login, password_of(login)))


def refused_names(page: str) -> list[str]:
    block = re.search(r'<div [^>]*id="upload-refusals">(.*?)</div>', page, re.S)
    assert block, "the page lists no refused file"
    return re.findall(r'<strong class="file-name">([^<]*)</strong>', block.group(1))


def assert_none_stored(app: DriveApp, login: str, folder: str, names: list[str]) -> None:
    assert nodes_named(app, folder, names) == {}
    dav = dav_as(app, login)
    for name in names:
        assert dav("GET", f"/dav{folder}/{name}").status_code == 404, name


# --- stored ----------------------------------------------------------------------------------


def test_three_files_in_one_submit_are_stored_audited_and_named(minutes: DriveApp) -> None:
    olga = signed_in(minutes, "olga")
    olga.get("/files/Minutes")
    assert 'id="upload-form"' in olga.page
    files = {"agenda.txt": b"1. welcome\n2. budget", "budget.csv": b"item;amount\nhall;120",
             "photo.jpg": b"\xff\xd8\xff\xe0 not really a jpeg"}
    answer = upload(olga, "/Minutes", files)
    assert answer.status_code == 303
    location = urlsplit(answer.headers["Location"])
    assert location.path == "/files/Minutes"
    message = parse_qs(location.query)["uploaded"][0]
    assert all(name in message for name in files) and message.startswith("Stored 3 files")
    olga.get(answer.headers["Location"])
    assert message in olga.page.replace("&#39;", "'")
    listed = set(re.findall(r'<tr class="file" data-name="([^"]*)"', olga.page))
    assert set(files) <= listed
    dav = dav_as(minutes, "olga")
    for name, content in files.items():
        got = dav("GET", f"/dav/Minutes/{name}")
        assert got.status_code == 200 and got.data == content, name
    with minutes.runtime.sessions() as session:
        created = session.scalars(select(AuditEvent.path).where(
            AuditEvent.action == "create", AuditEvent.user_login == "olga")).all()
    assert sorted(created) == sorted(f"/Minutes/{name}" for name in files)


def test_an_upload_over_an_own_file_replaces_it_and_keeps_a_version(minutes: DriveApp) -> None:
    """Decision: as a PUT (and a desktop drive's "replace"), the new content replaces
    the file the user may modify; the previous one stays as a version."""
    olga = signed_in(minutes, "olga")
    assert upload(olga, "/Minutes", {"report.txt": b"first draft"}).status_code == 303
    answer = upload(olga, "/Minutes", {"Report.txt": b"final text", "annex.txt": b"annex"})
    assert answer.status_code == 303
    message = parse_qs(urlsplit(answer.headers["Location"]).query)["uploaded"][0]
    assert "Stored 1 file: annex.txt." in message
    assert "Replaced 1 file" in message and "report.txt" in message
    got = dav_as(minutes, "olga")("GET", "/dav/Minutes/report.txt")
    assert got.status_code == 200 and got.data == b"final text"
    node = nodes_named(minutes, "/Minutes", ["report.txt"])["report.txt"]
    with minutes.runtime.sessions() as session:
        kept = session.scalars(select(NodeVersion.blob_sha256).where(
            NodeVersion.node_id == node.id)).all()
        overwrites = session.scalars(select(AuditEvent.path).where(
            AuditEvent.action == "overwrite")).all()
    assert kept == [hashlib.sha256(b"first draft").hexdigest()]
    assert overwrites == ["/Minutes/report.txt"]


# --- refused: nothing stored -----------------------------------------------------------------


def test_one_refused_name_refuses_the_whole_submit(minutes: DriveApp) -> None:
    olga = signed_in(minutes, "olga")
    names = ["agenda.txt", "draft:v2.txt", "notes.txt"]
    answer = upload(olga, "/Minutes", {name: name.encode() for name in names})
    assert answer.status_code == 400
    assert refused_names(olga.page) == ["draft:v2.txt"]
    assert "may not contain" in olga.page
    assert 'id="upload-form"' in olga.page  # the folder's page again, to try again
    assert_none_stored(minutes, "olga", "/Minutes", names)


def test_a_reserved_name_at_the_root_is_not_available(minutes: DriveApp) -> None:
    root = signed_in(minutes, "root")
    answer = upload(root, "/", {"welcome.txt": b"hello", "Backoffice": b"x"})
    assert answer.status_code == 409
    assert refused_names(root.page) == ["Backoffice"]
    assert "reserved" in root.page
    assert_none_stored(minutes, "root", "/", ["welcome.txt"])
    answer = upload(root, "/", {"welcome.txt": b"hello"})
    assert answer.status_code == 303
    assert urlsplit(answer.headers["Location"]).path == "/files/"
    assert dav_as(minutes, "root")("GET", "/dav/welcome.txt").data == b"hello"


def test_an_upload_over_a_file_the_user_may_not_modify_is_refused(minutes: DriveApp) -> None:
    """Rule 6: olga did not write assembly.txt and does not manage /Minutes."""
    olga = signed_in(minutes, "olga")
    answer = upload(olga, "/Minutes", {"assembly.txt": b"olga's", "new.txt": b"new"})
    assert answer.status_code == 403
    assert refused_names(olga.page) == ["assembly.txt"]
    got = dav_as(minutes, "olga")("GET", "/dav/Minutes/assembly.txt")
    assert got.data == b"The assembly met."
    assert_none_stored(minutes, "olga", "/Minutes", ["new.txt"])


def test_a_member_is_not_offered_the_form_and_her_forged_post_is_refused(
    minutes: DriveApp,
) -> None:
    mary = signed_in(minutes, "mary")
    assert mary.get("/files/Minutes").status_code == 200
    assert 'id="upload-form"' not in mary.page and "files-upload.js" not in mary.page
    answer = upload(mary, "/Minutes", {"a.txt": b"a", "b.txt": b"b"})
    assert answer.status_code == 403
    assert refused_names(mary.page) == ["a.txt", "b.txt"]
    assert_none_stored(minutes, "olga", "/Minutes", ["a.txt", "b.txt"])


def test_a_post_without_the_csrf_token_changes_nothing(minutes: DriveApp) -> None:
    olga = signed_in(minutes, "olga")
    answer = upload(olga, "/Minutes", {"a.txt": b"a"}, token="")
    assert answer.status_code == 403
    assert "expired or did not come from this site" in olga.page
    assert_none_stored(minutes, "olga", "/Minutes", ["a.txt"])


def test_an_empty_submit_is_a_bad_request(minutes: DriveApp) -> None:
    olga = signed_in(minutes, "olga")
    olga.get("/files/Minutes")
    answer = olga.post("/files/upload", {"path": "/Minutes"})
    assert answer.status_code == 400
    assert "Choose at least one file" in olga.page


def test_bad_folders_are_refused(minutes: DriveApp) -> None:
    """A folder the user does not see is a 404, a file is no folder, the back office is
    read-only, a path with '..' is a 400; nothing is stored."""
    olga = signed_in(minutes, "olga")
    assert upload(olga, "/Nowhere", {"a.txt": b"a"}).status_code == 404
    for path, status in (("/Minutes/assembly.txt", 404), ("/backoffice/members", 403),
                         ("/Minutes/../Minutes", 400)):
        olga.get("/files/Minutes")
        answer = olga.post("/files/upload", {"path": path,
                                             "files": [(io.BytesIO(b"x"), "x.txt")]})
        assert answer.status_code == status, path
    assert_none_stored(minutes, "olga", "/Minutes", ["a.txt", "x.txt"])


@pytest.mark.parametrize("settings", [{"storage.category_quotas": ["office=1000"]}],
                         indirect=True)
def test_a_submit_past_the_user_quota_is_507(minutes: DriveApp) -> None:
    """Each file fits the 1000-byte quota of office alone; the submit does not."""
    olga = signed_in(minutes, "olga")
    answer = upload(olga, "/Minutes", {"one.bin": b"1" * 600, "two.bin": b"2" * 600})
    assert answer.status_code == 507
    error = re.search(r'id="upload-error">([^<]*)<', olga.page)
    assert error and "storage quota of 1000 bytes" in error.group(1)
    assert_none_stored(minutes, "olga", "/Minutes", ["one.bin", "two.bin"])


@pytest.mark.parametrize("settings", [{"dav.max_upload_bytes": 4096}], indirect=True)
def test_a_submit_past_the_upload_limit_is_413(minutes: DriveApp) -> None:
    olga = signed_in(minutes, "olga")
    answer = upload(olga, "/Minutes", {"big.bin": b"b" * 5000})
    assert answer.status_code == 413
    assert "larger than allowed; nothing was stored" in olga.page
    assert_none_stored(minutes, "olga", "/Minutes", ["big.bin"])


# --- the enhancement ---------------------------------------------------------------------------


def test_the_upload_script_is_a_file_the_policy_allows(minutes: DriveApp) -> None:
    """No inline script or style: the script is a file of this site, and the CSP lets
    this site's scripts run and send to this site only."""
    olga = signed_in(minutes, "olga")
    page = olga.get("/files/Minutes")
    scripts = re.findall(r"<script([^>]*)>", olga.page)
    assert scripts == [' src="/admin/static/files-upload.js" defer']
    assert " style=" not in olga.page
    assert re.search(r"<[^>]+\son[a-z]+=", olga.page) is None  # no inline event handler
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "connect-src 'self'" in policy
    assert "'unsafe-inline'" not in policy
    script = olga.get("/admin/static/files-upload.js")
    assert script.status_code == 200 and "XMLHttpRequest" in script.get_data(as_text=True)

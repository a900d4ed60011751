"""The trash and versions pages (issue 14), through forms.

Rules (DESIGN 4, issue 14): only document administrators manage the trash
(``policy.may_manage_trash``); a restore brings back the bytes and metadata;
restoring over a name now taken is refused (409) with the reason next to the
entry, nothing changes, and the same entry restores under a new name; a purge
removes what was deleted more than N days ago. A file's previous versions are
listed newest first and one restores as the current content, the replaced one
becoming a version; a folder has none.
"""

from __future__ import annotations

import re

from sqlalchemy import select

from davdrive import node_admin, tree
from davdrive.models import Node, User
from davdrive.policy import SYSTEM
from davdrive.server import DriveApp
from davdrive.services import Drive
from tests.conftest import put_file, stored_bytes
from tests.web.conftest import Browserless


def _signed_in(app: DriveApp, login: str) -> Browserless:
    b = Browserless(app)
    assert b.sign_in(login).status_code == 303
    return b


def _delete_plan(app: DriveApp, content: bytes = b"the plan, version one") -> int:
    """/Minutes/plan.txt, private to olga with degree 2, deleted; returns its id."""
    rt = app.runtime
    with rt.sessions() as session:
        drive = Drive(session, rt.blobs, SYSTEM, rt.drive_options)
        folder, _ = node_admin.make_folders(session, drive, "/Minutes")
        plan = put_file(drive, folder, "plan.txt", content)
        olga = session.scalars(select(User).where(User.login == "olga")).one()
        plan.visibility, plan.min_degree, plan.owner_id = "private", 2, olga.id
        session.flush()
        drive.delete(plan)
        session.commit()
        return plan.id


def owner_id(app: DriveApp, login: str) -> int:
    with app.runtime.sessions() as session:
        return session.scalars(select(User.id).where(User.login == login)).one()


def _live(app: DriveApp, path: str) -> Node | None:
    with app.runtime.sessions() as session:
        chain = tree.resolve_chain(session, [p for p in path.split("/") if p])
        return chain[-1] if chain else None


def test_only_document_administrators_open_the_trash(office: DriveApp) -> None:
    _delete_plan(office)
    for login in ("olga", "mary"):
        b = _signed_in(office, login)
        assert 'href="/admin/trash"' not in b.page
        assert b.get("/admin/trash").status_code == 403
        b.get("/admin/account")
        assert b.post("/admin/trash/restore", {"path": "/Minutes/plan.txt"}).status_code == 403
    assert _live(office, "/Minutes/plan.txt") is None


def test_the_trash_lists_and_restores_with_bytes_and_metadata(office: DriveApp) -> None:
    _delete_plan(office)
    root = _signed_in(office, "root")
    root.get("/admin/trash")
    row = re.search(r'<tr id="trash-\d+">(.*?)</tr>', root.page, re.S)
    assert row and "<td>/Minutes/plan.txt</td>" in row.group(1)
    answer = root.post("/admin/trash/restore", {"path": "/Minutes/plan.txt"})
    assert answer.status_code == 303
    root.get(answer.headers["Location"])
    assert "Restored /Minutes/plan.txt" in root.page and "The trash is empty." in root.page
    plan = _live(office, "/Minutes/plan.txt")
    assert plan is not None and (plan.visibility, plan.min_degree) == ("private", 2)
    assert plan.owner_id == owner_id(office, "olga")
    assert plan.blob_sha256 is not None
    assert stored_bytes(office.runtime, plan.blob_sha256, plan.size) == b"the plan, version one"


def test_a_restore_over_a_taken_name_asks_for_another_and_changes_nothing(
    office: DriveApp,
) -> None:
    entry = _delete_plan(office)
    rt = office.runtime
    with rt.sessions() as session:
        drive = Drive(session, rt.blobs, SYSTEM, rt.drive_options)
        put_file(drive, node_admin.resolve_path(session, "/Minutes"), "plan.txt", b"newer")
        session.commit()
    root = _signed_in(office, "root")
    root.get("/admin/trash")
    answer = root.post("/admin/trash/restore", {"path": "/Minutes/plan.txt", "id": str(entry)})
    assert answer.status_code == 409
    row = re.search(rf'<tr id="trash-{entry}">(.*?)</tr>', root.page, re.S)
    assert row and 'id="error-restore"' in row.group(1) and "another name" in row.group(1)
    live = _live(office, "/Minutes/plan.txt")
    assert live is not None and live.size == len(b"newer")
    answer = root.post("/admin/trash/restore", {"path": "/Minutes/plan.txt", "id": str(entry),
                                                "as_name": "plan (restored).txt"})
    assert answer.status_code == 303
    restored = _live(office, "/Minutes/plan (restored).txt")
    assert restored is not None and restored.id == entry
    assert _live(office, "/Minutes/plan.txt").size == len(b"newer")  # type: ignore[union-attr]


def test_a_purge_removes_what_is_older_than_asked(office: DriveApp) -> None:
    _delete_plan(office)
    root = _signed_in(office, "root")
    root.get("/admin/trash")
    assert root.post("/admin/trash/purge", {"older_than": "1"}).status_code == 303
    root.get("/admin/trash")
    assert "/Minutes/plan.txt" in root.page  # deleted just now: kept
    assert root.post("/admin/trash/purge", {"older_than": "soon"}).status_code == 400
    assert 'id="error-purge"' in root.page and "/Minutes/plan.txt" in root.page
    answer = root.post("/admin/trash/purge", {"older_than": "0"})
    assert answer.status_code == 303
    root.get(answer.headers["Location"])
    assert "Removed for good 1 entry" in root.page and "The trash is empty." in root.page


def _two_contents(app: DriveApp) -> None:
    rt = app.runtime
    with rt.sessions() as session:
        drive = Drive(session, rt.blobs, SYSTEM, rt.drive_options)
        folder, _ = node_admin.make_folders(session, drive, "/Minutes")
        put_file(drive, folder, "plan.txt", b"first words")
        put_file(drive, folder, "plan.txt", b"second words, longer")
        session.commit()


def test_a_version_restores_as_the_current_content(office: DriveApp) -> None:
    _two_contents(office)
    root = _signed_in(office, "root")
    root.get("/admin/folders?path=/Minutes/plan.txt")
    assert 'href="/admin/versions?path=/Minutes/plan.txt"' in root.page
    root.get("/admin/versions?path=/Minutes/plan.txt")
    versions = re.findall(r'<tr id="version-(\d+)">', root.page)
    assert len(versions) == 1 and "11 Bytes" in root.page
    answer = root.post("/admin/versions/restore", {"path": "/Minutes/plan.txt",
                                                   "id": versions[0]})
    assert answer.status_code == 303
    plan = _live(office, "/Minutes/plan.txt")
    assert plan is not None and plan.blob_sha256 is not None
    assert stored_bytes(office.runtime, plan.blob_sha256, plan.size) == b"first words"
    root.get(answer.headers["Location"])
    assert len(re.findall(r'<tr id="version-\d+">', root.page)) == 1  # the replaced one
    assert "20 Bytes" in root.page  # "second words, longer" kept as a version


def test_versions_need_the_drive_right_and_an_existing_file(office: DriveApp) -> None:
    _two_contents(office)
    olga = _signed_in(office, "olga")
    assert olga.get("/admin/versions?path=/Minutes/plan.txt").status_code == 403
    root = _signed_in(office, "root")
    assert root.get("/admin/versions?path=/Minutes/none.txt").status_code == 404
    assert root.get("/admin/versions?path=/Minutes").status_code == 200
    assert "only files have versions" in root.page
    root.get("/admin/versions?path=/Minutes/plan.txt")
    answer = root.post("/admin/versions/restore", {"path": "/Minutes/plan.txt", "id": "99999"})
    assert answer.status_code == 404 and 'id="error-restore"' in root.page

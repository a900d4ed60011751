"""Folders, view as and records through the admin view's forms (no browser)."""

from __future__ import annotations

import io

from davdrive import demo_files, node_admin
from davdrive.models import Attachment, FolderRight, Record
from davdrive.policy import SYSTEM
from davdrive.server import DriveApp
from davdrive.services import Drive
from tests.conftest import Dav, basic, put_file
from tests.web.conftest import Browserless, password_of


def _minutes(app: DriveApp) -> None:
    """/Minutes with a file created before any classification."""
    rt = app.runtime
    with rt.sessions() as session:
        drive = Drive(session, rt.blobs, SYSTEM, rt.drive_options)
        folder, _ = node_admin.make_folders(session, drive, "/Minutes")
        put_file(drive, folder, "old.txt", b"written before the retype")
        session.commit()


def _dav_as(app: DriveApp, login: str) -> Dav:
    from werkzeug.test import Client

    return Dav(Client(app), basic(login, password_of(login)))


def test_retyping_a_folder_in_the_view_hides_what_it_already_holds(office: DriveApp) -> None:
    _minutes(office)
    mary = _dav_as(office, "mary")
    assert mary("GET", "/dav/Minutes/old.txt").status_code == 200
    b = Browserless(office)
    b.sign_in("root")
    b.get("/admin/folders?path=/Minutes")
    answer = b.post("/admin/folders/settings", {"path": "/Minutes", "min_degree": "0",
                                                "doc_type": "treasury", "visibility": "shared"})
    assert answer.status_code == 303
    assert mary("GET", "/dav/Minutes/old.txt").status_code == 404  # member: treasury excluded
    assert _dav_as(office, "root")("GET", "/dav/Minutes/old.txt").status_code == 200


def test_regrading_a_folder_in_the_view_hides_what_it_already_holds(office: DriveApp) -> None:
    _minutes(office)
    b = Browserless(office)
    b.sign_in("root")
    b.get("/admin/folders?path=/Minutes")
    b.post("/admin/folders/settings", {"path": "/Minutes", "min_degree": "4",
                                       "visibility": "shared"})
    assert _dav_as(office, "mary")("GET", "/dav/Minutes/old.txt").status_code == 404


def test_folder_rights_form_sets_and_removes_rights(office: DriveApp) -> None:
    _minutes(office)
    b = Browserless(office)
    b.sign_in("root")
    b.get("/admin/folders?path=/Minutes")
    assert b.post("/admin/folders/rights", {"path": "/Minutes", "right-member": "none"}
                  ).status_code == 303
    assert _dav_as(office, "mary")("GET", "/dav/Minutes/old.txt").status_code == 404
    with office.runtime.sessions() as session:
        folder = node_admin.resolve_path(session, "/Minutes")
        assert node_admin.folder_rights(session, folder) == {"member": "none"}
    b.get("/admin/folders?path=/Minutes")
    b.post("/admin/folders/rights", {"path": "/Minutes", "right-member": "inherit"})
    with office.runtime.sessions() as session:
        assert session.query(FolderRight).filter_by(
            folder_id=node_admin.resolve_path(session, "/Minutes").id).count() == 0
    assert _dav_as(office, "mary")("GET", "/dav/Minutes/old.txt").status_code == 200


def test_a_bad_minimum_degree_is_shown_by_its_field_and_changes_nothing(office: DriveApp) -> None:
    _minutes(office)
    b = Browserless(office)
    b.sign_in("root")
    b.get("/admin/folders?path=/Minutes")
    answer = b.post("/admin/folders/settings", {"path": "/Minutes", "min_degree": "-3",
                                                "doc_type": "treasury"})
    assert answer.status_code == 400 and 'id="error-min_degree"' in b.page
    assert _dav_as(office, "mary")("GET", "/dav/Minutes/old.txt").status_code == 200


def test_folders_and_view_as_need_document_administration(office: DriveApp) -> None:
    b = Browserless(office)
    b.sign_in("olga")  # office: documents write, members write
    assert b.get("/admin/folders").status_code == 403
    assert b.get("/admin/view-as?login=mary&path=/").status_code == 403


def test_view_as_shows_the_policys_reasons(office: DriveApp) -> None:
    _minutes(office)
    b = Browserless(office)
    b.sign_in("root")
    b.get("/admin/view-as?login=mary&path=/Minutes/old.txt")
    assert 'id="action-read" class="yes"' in b.page
    assert 'id="action-delete" class="no"' in b.page
    b.get("/admin/view-as?login=nobody&path=/")
    assert "No user" in b.page


def _record(app: DriveApp, name: str) -> Record:
    with app.runtime.sessions() as session:
        record = session.query(Record).filter_by(name=name).one()
        session.expunge(record)
        return record


def _add_record(b: Browserless, name: str) -> int:
    b.get("/admin/records")
    answer = b.post("/admin/records", {"kind": "member", "name": name, "user": "mary"})
    assert answer.status_code == 303, b.page
    return int(answer.headers["Location"].rsplit("/", 1)[-1])


def _attach(b: Browserless, record_id: int, *files: tuple[str, bytes],
            visibility: str = "private") -> int:
    b.get(f"/admin/records/{record_id}")
    data: dict[str, object] = {
        "files": [(io.BytesIO(data), name) for name, data in files], "visibility": visibility}
    return b.post(f"/admin/records/{record_id}/attach", data).status_code


def test_office_adds_renames_and_attaches_but_does_not_delete_records(office: DriveApp) -> None:
    b = Browserless(office)
    b.sign_in("olga")
    record_id = _add_record(b, "Mary Martin")
    assert _attach(b, record_id, ("card.pdf", demo_files.pdf_with_text("card")),
                   ("photo.jpg", demo_files.JPEG_1X1)) == 303
    b.get(f"/admin/records/{record_id}")
    assert b.post(f"/admin/records/{record_id}/rename", {"name": "Mary Martin-Dupont"}
                  ).status_code == 303
    record = _record(office, "Mary Martin-Dupont")
    assert record.folder_name == "Mary Martin", "the folder keeps its name"
    b.get(f"/admin/records/{record_id}")
    assert b.post(f"/admin/records/{record_id}/delete").status_code == 403
    assert _record(office, "Mary Martin-Dupont").id == record_id
    root = Browserless(office)
    root.sign_in("root")
    root.get(f"/admin/records/{record_id}")
    assert root.post(f"/admin/records/{record_id}/delete").status_code == 303
    with office.runtime.sessions() as session:
        assert session.query(Record).count() == 0
        assert session.query(Attachment).count() == 0


def test_a_refused_file_names_its_reason_and_nothing_of_the_submit_is_kept(
    office: DriveApp,
) -> None:
    b = Browserless(office)
    b.sign_in("olga")
    record_id = _add_record(b, "Mary Martin")
    status = _attach(b, record_id, ("ok.pdf", demo_files.pdf_with_text("fine")),
                     ("photo.pdf", demo_files.JPEG_1X1), ("page.jpg", b"<html></html>"))
    assert status == 400
    assert 'id="refusals"' in b.page and "photo.pdf" in b.page and "page.jpg" in b.page
    with office.runtime.sessions() as session:
        assert session.query(Attachment).count() == 0


def test_shared_toggle_decides_what_the_member_sees_over_webdav(office: DriveApp) -> None:
    b = Browserless(office)
    b.sign_in("olga")
    record_id = _add_record(b, "Mary Martin")
    _attach(b, record_id, ("card.pdf", demo_files.pdf_with_text("card")))
    mary = _dav_as(office, "mary")
    path = "/dav/backoffice/members/Mary Martin/card.pdf"
    assert mary("GET", path).status_code == 404  # private: staff only
    with office.runtime.sessions() as session:
        attachment_id = session.query(Attachment.id).scalar()
    b.get(f"/admin/records/{record_id}")
    b.post(f"/admin/records/{record_id}/attachments/{attachment_id}/visibility",
           {"visibility": "shared"})
    assert mary("GET", path).status_code == 200
    download = b.get(f"/admin/records/{record_id}/attachments/{attachment_id}/download")
    assert download.status_code == 200
    assert download.get_data() == demo_files.pdf_with_text("card")
    assert download.headers["Content-Disposition"].startswith("attachment")
    b.get(f"/admin/records/{record_id}")
    b.post(f"/admin/records/{record_id}/attachments/{attachment_id}/detach")
    assert mary("GET", path).status_code == 404

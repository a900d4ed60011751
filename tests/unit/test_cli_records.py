"""The ``davdrive record`` commands (DESIGN 8): list, rename, delete, detach,
visibility, and attach's report of every refused file; one-line errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from davdrive import demo_files
from davdrive.models import Attachment, Record
from davdrive.passwords import Passwords
from tests.unit.test_cli import Cli, assert_one_line_error

PDF = demo_files.pdf_with_text("Jam")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI reads DAVDRIVE_* variables; the developer's own must not leak in."""
    for key in list(os.environ):
        if key.startswith("DAVDRIVE_") and key != "DAVDRIVE_STRICT":
            monkeypatch.delenv(key)


@pytest.fixture
def ready(
    tmp_path: Path,
    fast_passwords: Passwords,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> Cli:
    run = Cli(tmp_path / "data", fast_passwords, capsys, monkeypatch)
    assert run("init").code == 0
    return run


def write(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


@pytest.fixture
def jam(ready: Cli, tmp_path: Path) -> Cli:
    """A product record "Jam / Confiture" (folder "Jam _ Confiture") with label.pdf."""
    assert ready("record", "add", "product", "Jam / Confiture").code == 0
    done = ready("record", "attach", "product", "Jam / Confiture",
                 write(tmp_path, "label.pdf", PDF))
    assert done.code == 0, done.err
    return ready


def test_attach_reports_every_refused_file_with_its_reason(ready: Cli, tmp_path: Path) -> None:
    """Rule: all or nothing; each refused file is reported with its reason, the error
    is one line naming them all, and nothing is attached."""
    ready("record", "add", "activity", "Choir")
    files = [write(tmp_path, "minutes.pdf", PDF),
             write(tmp_path, "photo.jpg", b"<html><script>alert(1)</script></html>"),
             write(tmp_path, "notes.docx", PDF)]
    refused = ready("record", "attach", "activity", "Choir", *files)
    assert_one_line_error(refused, "'photo.jpg'", "'notes.docx'", "Nothing was attached")
    reported = [line for line in refused.out.splitlines() if line.startswith("refused: ")]
    assert len(reported) == 2
    assert "'photo.jpg'" in reported[0] and "not an allowed file type" in reported[0]
    assert "'notes.docx'" in reported[1] and "name it with .pdf" in reported[1]
    missing = ready("record", "attach", "activity", "Choir", files[0],
                    str(tmp_path / "gone.pdf"), str(tmp_path / "lost.jpg"))
    assert_one_line_error(missing, "'gone.pdf'", "'lost.jpg'")
    for session in ready.db():
        assert session.query(Attachment).count() == 0


def test_list_shows_records_with_their_attachments(jam: Cli) -> None:
    """Rule: every record (by kind, then name), filtered by kind and text; JSON keys stable."""
    jam("record", "add", "activity", "Choir")
    jam("record", "add", "member", "Carol 100%")
    table = jam("record", "list")
    assert table.code == 0, table.err
    lines = table.out.splitlines()
    assert lines[0].split() == ["kind", "name", "folder", "attachments"]
    assert [line.split()[0] for line in lines[1:]] == ["activity", "member", "product"]
    assert lines[3].split()[-1] == "1"
    items = jam("record", "list", "product", "--json").json
    assert items == [{
        "id": items[0]["id"], "kind": "product", "name": "Jam / Confiture",
        "folder_name": "Jam _ Confiture", "path": "/backoffice/products/Jam _ Confiture",
        "linked_user_id": None, "attachments": 1,
    }]
    assert [i["name"] for i in jam("record", "list", "--search", "0%", "--json").json] == [
        "Carol 100%"]
    assert [i["name"] for i in jam("record", "list", "--search", "M _ c", "--json").json] == [
        "Jam / Confiture"]
    assert jam("record", "list", "--search", "nothing", "--json").json == []
    assert jam("record", "list", "invoice").code == 2


def test_rename_keeps_the_folder_name(jam: Cli) -> None:
    """Rule: the display name changes, the folder name (and so the path) stays."""
    done = jam("record", "rename", "product", "Jam _ Confiture", "Marmalade")
    assert done.code == 0, done.err
    assert "/backoffice/products/Jam _ Confiture" in done.out
    for session in jam.db():
        record = session.query(Record).one()
        assert (record.name, record.folder_name) == ("Marmalade", "Jam _ Confiture")
    assert_one_line_error(jam("record", "rename", "product", "Marmalade", "   "),
                          "1 to 255 characters")
    assert_one_line_error(jam("record", "rename", "product", "Ghost", "X"), "Ghost")


def test_detach_and_visibility_of_one_attachment(jam: Cli) -> None:
    """Rules: an attachment is named by its file name (any case); visibility is shared
    or private only; an unknown file name is a one-line error."""
    shared = jam("record", "visibility", "product", "Jam / Confiture", "LABEL.PDF", "shared")
    assert shared.code == 0, shared.err
    assert "label.pdf is now shared" in shared.out
    for session in jam.db():
        assert session.query(Attachment).one().visibility == "shared"
    assert_one_line_error(
        jam("record", "visibility", "product", "Jam / Confiture", "label.pdf", "public"),
        "'shared' or 'private'")
    assert_one_line_error(
        jam("record", "detach", "product", "Jam / Confiture", "other.pdf"), "other.pdf")
    done = jam("record", "detach", "product", "Jam / Confiture", "label.pdf")
    assert done.code == 0, done.err
    assert "detached /backoffice/products/Jam _ Confiture/label.pdf" in done.out
    for session in jam.db():
        assert session.query(Attachment).count() == 0
        assert session.query(Record).count() == 1


def test_delete_removes_the_record_and_its_attachments(jam: Cli) -> None:
    """Rule: the record and its attachments go; a second delete is a one-line error."""
    done = jam("record", "delete", "product", "Jam / Confiture")
    assert done.code == 0, done.err
    assert "1 attachment(s)" in done.out
    for session in jam.db():
        assert session.query(Record).count() == 0
        assert session.query(Attachment).count() == 0
    assert_one_line_error(jam("record", "delete", "product", "Jam / Confiture"),
                          "No product record")

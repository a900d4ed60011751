"""``davdrive demo``: load a small demo association into the drive.

Users, folders with rights and classification, files and back-office
records, each created only if missing; the generated passwords are printed
once and written to ``demo-credentials.txt`` in the data folder (mode 0600),
which is removed again when the commit fails. Running it a second time
changes nothing.
"""

from __future__ import annotations

import argparse
import io
import os
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from davdrive import accounts, attachments, demo_files, node_admin, records, tree
from davdrive.attachments import Upload
from davdrive.cli_common import Context, format_table, open_session, out
from davdrive.cli_drive import make_folders
from davdrive.policy import SYSTEM
from davdrive.runtime import Runtime
from davdrive.services import Drive

CREDENTIALS_FILE = "demo-credentials.txt"


# --- demo ------------------------------------------------------------------------------------

DEMO_USERS = (
    ("alice", "admin", 1, "Alice Martin"),
    ("bob", "office", 1, "Bob Durand"),
    ("carol", "member", 1, "Carol Petit"),
    ("dave", "member", 2, "Dave Moreau"),
    ("erin", "former", 1, "Erin Leroy"),
)

# (path, folder rights, doc type, minimum degree)
DEMO_FOLDERS: tuple[tuple[str, tuple[tuple[str, str], ...], str | None, int], ...] = (
    ("/Public", (("member", "read"), ("office", "write")), None, 0),
    ("/Members", (("member", "read"), ("office", "write")), None, 0),
    ("/Members/Committee", (), None, 2),
    ("/Board", (("office", "write"), ("member", "none")), None, 0),
    ("/Treasury", (("office", "write"), ("member", "read")), "treasury", 0),
)

DEMO_FILES = (
    ("/Public", "Welcome.md",
     "# Welcome to the association's drive\n\nEveryone who signs in can read this folder.\n"),
    ("/Public", "Statutes.txt",
     "Statutes of the association\n\nArticle 1: the association is named Demo.\n"),
    ("/Members", "Meeting schedule.md",
     "# Meetings\n\n- first Monday of the month, 19:00\n- general assembly in June\n"),
    ("/Members/Committee", "Committee notes.md",
     "# Committee notes\n\nOnly members of degree 2 or more see this folder.\n"),
    ("/Board", "Minutes 2025-01.md",
     "# Board minutes, January 2025\n\nMembers cannot see the board's folder.\n"),
    ("/Treasury", "Budget 2025.txt",
     "Budget 2025\n\nIncome: 1200\nExpenses: 950\n"),
)


def _demo_tree(session: Session, runtime: Runtime) -> None:
    """Folders, classification, rights and files of the demo (each step skipped if done)."""
    drive = Drive(session, runtime.blobs, SYSTEM, runtime.drive_options)
    for path, rights, doc_type, min_degree in DEMO_FOLDERS:
        folder, _ = make_folders(session, runtime, path)
        if doc_type or min_degree:
            node_admin.node_set(session, folder, min_degree=min_degree or None, doc_type=doc_type)
        if rights:
            node_admin.set_folder_rights(session, folder, dict(rights))
    for folder_path, name, text in DEMO_FILES:
        folder = node_admin.resolve_path(session, folder_path)
        if tree.child_named(session, folder.id, name) is None:
            upload = drive.begin_upload(folder, name, None)
            try:
                upload.writer.write(text.encode("utf-8"))
            except BaseException:
                upload.writer.abort()
                raise
            drive.finish_upload(upload)
    board_minutes = node_admin.resolve_path(session, "/Board/Minutes 2025-01.md")
    node_admin.node_set(session, board_minutes, doc_type="minutes")


# (kind, record name, linked user, ((file name, content, visibility), ...))
DEMO_RECORDS: tuple[tuple[str, str, str | None, tuple[tuple[str, str, str], ...]], ...] = (
    ("member", "Carol Petit", "carol", (
        ("Membership card.pdf", "Membership card - Carol Petit", "shared"),
        ("Medical certificate.pdf", "Medical certificate - Carol Petit", "private"))),
    ("member", "Dave Moreau", "dave", (
        ("Membership card.pdf", "Membership card - Dave Moreau", "shared"),)),
    ("product", "Honey jar", None, (
        ("Photo.jpg", "", "shared"),
        ("Purchase price.pdf", "Purchase price: 4.20 per jar", "private"))),
    ("activity", "Choir", None, (
        ("Schedule.pdf", "Choir: Thursdays 19:00", "shared"),)),
)


def _demo_records(session: Session, runtime: Runtime) -> None:
    """Records with attachments, so that /dav/backoffice/ shows something at once."""
    for kind, name, login, files in DEMO_RECORDS:
        record = records.add_record(session, kind, name, login)
        for visibility in ("shared", "private"):
            uploads = [
                Upload(file_name, io.BytesIO(
                    demo_files.JPEG_1X1 if file_name.endswith(".jpg")
                    else demo_files.pdf_with_text(text)))
                for file_name, text, seen_by in files if seen_by == visibility
            ]
            if uploads:
                attachments.attach(session, runtime.blobs, record, uploads, visibility)


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, readable only by the owner (0600)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, text.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def cmd_demo(ctx: Context, args: argparse.Namespace) -> int:
    credentials = ctx.settings.data_dir / CREDENTIALS_FILE
    with open_session(ctx, require_init=False) as (runtime, session):
        if accounts.find_user(session, "alice") is not None:
            out(f"demo data already loaded (accounts in {credentials})")
            return 0
        accounts.init_defaults(session)
        _demo_tree(session, runtime)
        rows = []
        for login, category, degree, name in DEMO_USERS:
            _, password = accounts.add_user(
                session, runtime.passwords, login, category=category, degree=degree,
                display_name=name,
            )
            rows.append((login, category, password))
        _demo_records(session, runtime)
        table = format_table(("login", "category", "password"), rows)
        note = "# erin's category (former) may not sign in; dave has degree 2, carol degree 1.\n"
        _write_private(credentials, f"# davdrive demo accounts\n{note}{table}\n")
        try:
            session.commit()
        except BaseException:
            credentials.unlink(missing_ok=True)
            raise
    out("Loaded the demo association.")
    out(table)
    out(f"(also in {credentials}, readable only by you)")
    return 0


def add_demo_parser(sub: Any) -> None:
    sub.add_parser("demo", help="load a demo association (prints generated passwords)"
                   ).set_defaults(handler=cmd_demo)

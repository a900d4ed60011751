"""Drive trees shared by the web drive's tests, built as the system through the drive's
own use cases (``office`` fixture's people and categories)."""

from __future__ import annotations

from davdrive import node_admin
from davdrive.policy import SYSTEM
from davdrive.server import DriveApp
from davdrive.services import Drive
from tests.conftest import put_file


def drive_tree(app: DriveApp) -> None:
    """/Minutes (assembly.txt; board.txt degree 3; olga's private note.txt),
    /Finance (treasury), /Board (members none) holding /Board/Public (members read)."""
    rt = app.runtime
    with rt.sessions() as session:
        drive = Drive(session, rt.blobs, SYSTEM, rt.drive_options)
        minutes, _ = node_admin.make_folders(session, drive, "/Minutes")
        put_file(drive, minutes, "assembly.txt", b"The assembly met on Monday.")
        node_admin.node_set(session, put_file(drive, minutes, "board.txt", b"x" * 40),
                            min_degree=3)
        node_admin.node_set(session, put_file(drive, minutes, "note.txt", b"mine"),
                            visibility="private", owner_login="olga")
        finance, _ = node_admin.make_folders(session, drive, "/Finance")
        node_admin.node_set(session, finance, doc_type="treasury")
        put_file(drive, finance, "budget.txt", b"100")
        board, _ = node_admin.make_folders(session, drive, "/Board/Public")
        node_admin.set_folder_rights(session, node_admin.resolve_path(session, "/Board"),
                                     {"member": "none"})
        node_admin.set_folder_rights(session, board, {"member": "read"})
        put_file(drive, board, "agenda.txt", b"1. welcome")
        session.commit()

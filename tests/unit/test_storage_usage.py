"""Storage figures (for ``davdrive stats``): live files, the trash, versions, blobs."""

from __future__ import annotations

from sqlalchemy.orm import Session

from davdrive import node_admin, tree
from davdrive.policy import SYSTEM
from davdrive.runtime import Runtime
from davdrive.services import Drive
from davdrive.storage_usage import Figures, storage_usage
from tests.conftest import put_file


def test_figures_count_live_files_trash_versions_and_distinct_blobs(
    runtime: Runtime, session: Session
) -> None:
    """Rules: live files count their current content; trashed files (inside trashed
    folders too) and versions are counted apart; content stored once counts once."""
    drive = Drive(session, runtime.blobs, SYSTEM, runtime.drive_options)
    root = tree.get_root(session)
    put_file(drive, root, "a.txt", b"12345")
    put_file(drive, root, "copy.txt", b"12345")  # same content: one blob
    put_file(drive, root, "b.txt", b"1")
    put_file(drive, root, "b.txt", b"22")  # "1" becomes a version
    board = node_admin.make_folders(session, drive, "/Board")[0]
    put_file(drive, board, "c.txt", b"333")
    drive.delete(board)

    usage = storage_usage(session)

    assert usage.live_files == Figures(3, 5 + 5 + 2)
    assert usage.trash_files == Figures(1, 3)
    assert usage.trash_items == 2  # the folder and its file
    assert usage.versions == Figures(1, 1)
    assert usage.blobs == Figures(4, 5 + 1 + 2 + 3)
    assert usage.inline == Figures(4, 11)  # small content is kept in the database
    assert usage.as_dict()["live_files"] == {"count": 3, "bytes": 12}


def test_an_empty_drive_has_zero_everywhere(session: Session) -> None:
    usage = storage_usage(session)
    assert usage.live_files == usage.trash_files == usage.versions == Figures(0, 0)
    assert usage.trash_items == 0

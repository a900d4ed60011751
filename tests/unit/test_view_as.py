"""View as (davdrive.view_as): a listing exactly as the user's WebDAV client gets it."""

from __future__ import annotations

from sqlalchemy.orm import Session

from davdrive import accounts, node_admin, records
from davdrive.policy import SYSTEM
from davdrive.runtime import Runtime
from davdrive.services import Drive
from davdrive.view_as import listing_as
from tests.conftest import put_file


def _drive(session: Session, runtime: Runtime) -> Drive:
    """The system's drive, with init's root rights (the fixture's root predates init)."""
    node_admin.set_folder_rights(session, node_admin.resolve_path(session, "/"),
                                 dict(accounts.DEFAULT_ROOT_RIGHTS))
    return Drive(session, runtime.blobs, SYSTEM, runtime.drive_options)


def _names(session: Session, runtime: Runtime, login: str, path: str) -> list[str]:
    return [i.name for i in listing_as(session, runtime.blobs, runtime.drive_options,
                                       login, path).items]


def test_member_sees_what_their_rights_allow_and_nothing_else(
    session: Session, runtime: Runtime
) -> None:
    accounts.add_user(session, runtime.passwords, "mary", "member", password="mary-pass-phrase")
    drive = _drive(session, runtime)
    minutes, _ = node_admin.make_folders(session, drive, "/Minutes")
    put_file(drive, minutes, "open.txt", b"open")
    money, _ = node_admin.make_folders(session, drive, "/Minutes/Money")
    node_admin.node_set(session, money, doc_type="treasury")
    high = put_file(drive, minutes, "high.txt", b"high")
    node_admin.node_set(session, high, min_degree=5)
    session.commit()
    # member: degree 1, treasury excluded, read on the root (init's rights)
    assert _names(session, runtime, "mary", "/Minutes") == ["open.txt"]
    hidden = listing_as(session, runtime.blobs, runtime.drive_options, "mary", "/Minutes/Money")
    assert not hidden.exists_for_user and hidden.items == []


def test_the_root_lists_the_back_office_to_those_who_see_part_of_it(
    session: Session, runtime: Runtime
) -> None:
    accounts.add_user(session, runtime.passwords, "mary", "member", password="mary-pass-phrase")
    accounts.add_user(session, runtime.passwords, "olga", "office", password="olga-pass-phrase")
    _drive(session, runtime)
    session.commit()
    assert "backoffice" in _names(session, runtime, "olga", "/")  # staff
    assert "backoffice" not in _names(session, runtime, "mary", "/")  # nothing of hers there
    records.add_record(session, "member", "Mary", "mary")
    session.commit()
    assert "backoffice" in _names(session, runtime, "mary", "/"), \
        "rule 10: a member sees their own member record"
    assert _names(session, runtime, "mary", "/backoffice") == ["members"]
    assert _names(session, runtime, "mary", "/backoffice/members") == ["Mary"]

"""Previous versions of a file (DESIGN 4): listed and restored by those who may modify
the file; restoring keeps the replaced content as a version, so nothing is lost."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from davdrive import accounts, node_admin, tree
from davdrive.errors import BadRequest, Forbidden, NotFound
from davdrive.models import AuditEvent, Node
from davdrive.policy import SYSTEM, Actor
from davdrive.runtime import Runtime
from davdrive.services import Drive
from davdrive.users import actor_for
from tests.conftest import add_user, put_file


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def actor(session: Session, login: str) -> Actor:
    user = accounts.find_user(session, login)
    assert user is not None
    return actor_for(user)


def drive_as(runtime: Runtime, session: Session, login: str | None) -> Drive:
    who = SYSTEM if login is None else actor(session, login)
    return Drive(session, runtime.blobs, who, runtime.drive_options)


def content(drive: Drive, node: Node) -> bytes:
    with drive.open_content(node) as stream:
        return stream.read()


@pytest.fixture
def people(runtime: Runtime) -> Runtime:
    add_user(runtime, "olivia", documents="write")  # owner of the file, right write
    add_user(runtime, "walter", documents="write")  # same right, not the owner
    add_user(runtime, "mona", documents="write", category="managers", root_right="manage")
    add_user(runtime, "ada", documents="admin")
    add_user(runtime, "rita", documents="read")
    return runtime


@pytest.fixture
def budget(people: Runtime, session: Session) -> Node:
    """/budget.txt written by olivia three times: v1, v2 (versions), v3 (current)."""
    drive = drive_as(people, session, "olivia")
    root = tree.get_root(session)
    for text in (b"v1", b"v2", b"v3"):
        node = put_file(drive, root, "budget.txt", text)
    return node


def test_versions_are_listed_newest_first_with_author_and_hash(
    people: Runtime, session: Session, budget: Node
) -> None:
    entries = drive_as(people, session, "olivia").versions(budget)
    assert [(e.size, e.sha256, e.replaced_by) for e in entries] == [
        (2, sha(b"v2"), "olivia"), (2, sha(b"v1"), "olivia")]
    assert entries[0].replaced_at.tzinfo is not None
    assert set(entries[0].as_dict()) == {"id", "size", "sha256", "content_type", "mtime",
                                         "replaced_at", "replaced_by"}


def test_restoring_a_version_makes_it_current_and_keeps_the_replaced_content(
    people: Runtime, session: Session, budget: Node
) -> None:
    """Rule: the old content becomes the current one, the current one a version (nothing
    lost); the ETag (the content hash) changes with it; audited."""
    drive = drive_as(people, session, "olivia")
    oldest = drive.versions(budget)[-1]
    etag = budget.etag
    node = drive.restore_version(budget, oldest.id)
    assert content(drive, node) == b"v1"
    assert node.etag == sha(b"v1") != etag
    assert sorted(e.sha256 for e in drive.versions(node)) == sorted([sha(b"v2"), sha(b"v3")])
    event = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert event is not None
    assert (event.action, event.user_login, event.path) == ("version.restore", "olivia",
                                                            "/budget.txt")
    assert f"version {oldest.id}" in event.detail


@pytest.mark.parametrize("login", ["olivia", "mona", "ada", None])
def test_the_owner_a_manager_a_document_admin_and_the_system_may_restore(
    people: Runtime, session: Session, budget: Node, login: str | None
) -> None:
    drive = drive_as(people, session, login)
    version = drive.versions(budget)[0]
    assert content(drive, drive.restore_version(budget, version.id)) == b"v2"


@pytest.mark.parametrize("login", ["walter", "rita"])
def test_others_may_neither_list_nor_restore(
    people: Runtime, session: Session, budget: Node, login: str
) -> None:
    """Rule: the policy's ``modify`` (owner with write, or manage), or document admins."""
    drive = drive_as(people, session, login)
    version_id = drive_as(people, session, "olivia").versions(budget)[0].id
    with pytest.raises(Forbidden):
        drive.versions(budget)
    with pytest.raises(Forbidden):
        drive.restore_version(budget, version_id)
    assert content(drive_as(people, session, None), budget) == b"v3"


def test_a_protected_file_is_restored_by_the_system_only(
    people: Runtime, session: Session, budget: Node
) -> None:
    node_admin.node_set(session, budget, protected=True)
    session.commit()
    version_id = drive_as(people, session, None).versions(budget)[0].id
    with pytest.raises(Forbidden, match="protected"):
        drive_as(people, session, "ada").restore_version(budget, version_id)
    drive_as(people, session, None).restore_version(budget, version_id)


def test_unknown_versions_and_folders_are_refused(
    people: Runtime, session: Session, budget: Node
) -> None:
    drive = drive_as(people, session, None)
    other = put_file(drive, tree.get_root(session), "other.txt", b"a")
    put_file(drive, tree.get_root(session), "other.txt", b"b")
    other_version = drive.versions(other)[0].id
    with pytest.raises(NotFound, match="No version"):
        drive.restore_version(budget, other_version)
    with pytest.raises(NotFound):
        drive.restore_version(budget, 999_999)
    folder = node_admin.make_folders(session, drive, "/Board")[0]
    with pytest.raises(BadRequest, match="only files have versions"):
        drive.versions(folder)
    assert content(drive, budget) == b"v3"


def test_restoring_the_content_it_already_has_loses_nothing(
    people: Runtime, session: Session
) -> None:
    drive = drive_as(people, session, None)
    root = tree.get_root(session)
    for text in (b"A", b"B", b"A"):
        node = put_file(drive, root, "same.txt", text)
    same = [v for v in drive.versions(node) if v.sha256 == sha(b"A")][0]
    drive.restore_version(node, same.id)
    assert content(drive, node) == b"A"
    assert [v.sha256 for v in drive.versions(node)] == [sha(b"B")]

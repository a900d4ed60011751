"""Accounts use cases: categories, users, doc types, folder rights (DESIGN 2, 3.11, 8)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from davdrive import accounts, node_admin, tree
from davdrive.errors import BadRequest, Conflict, Forbidden, NotFound
from davdrive.models import AppPassword, AuditEvent, Category, FolderRight, Node, User
from davdrive.passwords import Passwords, token_hash
from davdrive.policy import SYSTEM
from davdrive.runtime import Runtime
from davdrive.services import Drive


@pytest.fixture
def pw(fast_passwords: Passwords) -> Passwords:
    return fast_passwords


def add(session: Session, pw: Passwords, login: str, category: str | None = None,
        **kw: object) -> User:
    user, _ = accounts.add_user(session, pw, login, category=category,
                                password="correct horse", **kw)  # type: ignore[arg-type]
    return user


def folder(session: Session, runtime: Runtime, name: str) -> Node:
    drive = Drive(session, runtime.blobs, SYSTEM)
    return drive.make_folder(tree.get_root(session), name)


# --- defaults -----------------------------------------------------------------------


def test_init_creates_design_8_categories_and_doc_types(session: Session) -> None:
    cats = {c.slug: c for c in session.scalars(select(Category))}
    assert set(cats) == {"admin", "office", "member", "former"}
    admin, office, member, former = cats["admin"], cats["office"], cats["member"], cats["former"]
    assert (admin.login, admin.documents, admin.members, admin.config, admin.may_delete) == (
        True, "admin", "admin", True, True)
    assert (office.documents, office.members, office.config) == ("write", "write", False)
    assert member.documents == "read" and member.is_default
    assert sorted(member.excluded_doc_types) == ["meal-attendance", "receipt", "treasury"]
    assert former.hidden and not former.login
    assert [c.slug for c in cats.values() if c.is_default] == ["member"]
    types = {d.slug: d.label for d in accounts.list_doctypes(session)}
    assert set(types) == {"treasury", "receipt", "meal-attendance", "minutes"}
    assert types["meal-attendance"] == "Meal attendance"
    assert tree.resolve_chain(session, []) is not None, "the drive root exists"


def test_init_is_idempotent_and_keeps_admin_changes(session: Session) -> None:
    accounts.set_category(session, "office", documents="read", is_default=True)
    session.commit()
    assert accounts.init_defaults(session) == []
    assert accounts.get_category(session, "office").documents == "read"
    defaults = session.scalars(select(Category).where(Category.is_default.is_(True))).all()
    assert [c.slug for c in defaults] == ["office"]


# --- categories ------------------------------------------------------------------------


def test_add_category_uses_design_8_defaults(session: Session) -> None:
    c = accounts.add_category(session, "guests")
    assert (c.login, c.documents, c.members, c.config, c.hidden, c.may_delete) == (
        True, "read", "none", False, False, True)
    assert c.excluded_doc_types == [] and not c.is_default
    assert c.label == "guests"


def test_duplicate_or_invalid_category_is_refused(session: Session) -> None:
    with pytest.raises(Conflict, match="already exists"):
        accounts.add_category(session, "member")
    with pytest.raises(BadRequest, match="Invalid category"):
        accounts.add_category(session, "Bad Slug")
    with pytest.raises(BadRequest, match="documents level"):
        accounts.add_category(session, "x", documents="everything")


def test_unknown_excluded_doc_type_is_refused_and_named(session: Session) -> None:
    with pytest.raises(BadRequest, match="payroll") as caught:
        accounts.add_category(session, "staff", excluded_doc_types=["minutes", "payroll"])
    assert "known:" in caught.value.message
    assert session.scalars(select(Category).where(Category.slug == "staff")).first() is None
    with pytest.raises(BadRequest, match="payroll"):
        accounts.set_category(session, "member", excluded_doc_types=["payroll"])


def test_only_one_default_category(session: Session) -> None:
    accounts.add_category(session, "guests", is_default=True)
    accounts.set_category(session, "office", is_default=True)
    defaults = [c.slug for c in session.scalars(select(Category)) if c.is_default]
    assert defaults == ["office"]
    with pytest.raises(Conflict, match="another category the default"):
        accounts.set_category(session, "office", is_default=False)


def test_category_change_bumps_its_version(session: Session) -> None:
    before = accounts.get_category(session, "member").version
    accounts.set_category(session, "member", may_delete=False)
    assert accounts.get_category(session, "member").version == before + 1


def test_unknown_category_is_not_found(session: Session) -> None:
    with pytest.raises(NotFound, match="nope"):
        accounts.set_category(session, "nope", label="x")


# --- users ------------------------------------------------------------------------------------


def test_new_user_gets_default_category_and_a_working_generated_password(
    session: Session, pw: Passwords
) -> None:
    user, password = accounts.add_user(session, pw, "Zoé")
    assert user.category.slug == "member" and user.degree == 1 and user.active
    assert user.login == "Zoé" and user.login_key == "zoé"
    assert len(password) >= 16 and pw.verify(user.password_hash, password)


def test_logins_are_unique_case_insensitively(session: Session, pw: Passwords) -> None:
    add(session, pw, "Alice")
    with pytest.raises(Conflict, match="already taken"):
        add(session, pw, "aLICE")
    assert accounts.get_user(session, "ALICE").login == "Alice"


@pytest.mark.parametrize("login", ["", "with space", "colon:login", "tab\tx", "x" * 151])
def test_invalid_logins_are_refused(session: Session, pw: Passwords, login: str) -> None:
    with pytest.raises(BadRequest, match="Invalid login"):
        add(session, pw, login)


def test_weak_password_and_bad_values_are_refused(session: Session, pw: Passwords) -> None:
    with pytest.raises(BadRequest, match="at least 8"):
        accounts.add_user(session, pw, "x", password="short")
    with pytest.raises(BadRequest, match="degree"):
        add(session, pw, "y", degree=-1)
    with pytest.raises(BadRequest, match="login hours"):
        add(session, pw, "z", hours="mon 19:00-08:00")
    with pytest.raises(NotFound, match="nope"):
        add(session, pw, "w", category="nope")
    assert session.scalars(select(User)).all() == []


def test_login_hours_are_stored_in_canonical_form(session: Session, pw: Passwords) -> None:
    user = add(session, pw, "carol", hours="Mon,Tue,Wed,Thu,Fri 8:00-19:00")
    assert user.login_hours == "mon-fri 08:00-19:00"


@pytest.mark.parametrize(
    "change",
    [
        {"password": "another secret"},
        {"category": "office"},
        {"active": False},
        {"expires_at": dt.datetime(2030, 1, 1, tzinfo=dt.UTC)},
        {"hours": "mon-fri 08:00-19:00"},
    ],
)
def test_sign_in_relevant_change_bumps_auth_version(
    session: Session, pw: Passwords, change: dict[str, object]
) -> None:
    user = add(session, pw, "carol")
    before = user.auth_version
    accounts.set_user(session, pw, "carol", **change)  # type: ignore[arg-type]
    assert user.auth_version == before + 1, f"{change} must drop cached credentials"


def test_degree_or_name_change_keeps_auth_version(session: Session, pw: Passwords) -> None:
    user = add(session, pw, "carol")
    before = user.auth_version
    accounts.set_user(session, pw, "carol", degree=3, display_name="Carol", active=True)
    assert user.auth_version == before and user.degree == 3


def test_password_change_replaces_the_hash(session: Session, pw: Passwords) -> None:
    user = add(session, pw, "carol")
    accounts.set_user(session, pw, "carol", password="brand new pass")
    assert pw.verify(user.password_hash, "brand new pass")
    assert not pw.verify(user.password_hash, "correct horse")


def test_expiry_can_be_cleared(session: Session, pw: Passwords) -> None:
    user = add(session, pw, "carol", expires_at=dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
    accounts.set_user(session, pw, "carol", expires_at=None)
    assert user.expires_at is None


# --- the last administrator (seed 001) ---------------------------------------------------


def test_last_admin_cannot_be_deleted(session: Session, pw: Passwords) -> None:
    add(session, pw, "alice", "admin")
    with pytest.raises(Conflict, match="no account able to administer"):
        accounts.delete_user(session, "alice")
    assert accounts.find_user(session, "alice") is not None


@pytest.mark.parametrize(
    "change",
    [
        {"category": "office"},
        {"active": False},
        {"expires_at": dt.datetime(2000, 1, 1, tzinfo=dt.UTC)},
    ],
    ids=["demoted", "disabled", "expired"],
)
def test_last_admin_cannot_be_demoted_disabled_or_expired(
    session: Session, pw: Passwords, change: dict[str, object]
) -> None:
    user = add(session, pw, "alice", "admin")
    with pytest.raises(Conflict, match="no account able to administer"):
        accounts.set_user(session, pw, "alice", **change)  # type: ignore[arg-type]
    assert user.category.slug == "admin" and user.active and user.expires_at is None


def test_last_admin_category_cannot_lose_its_admin_rights(
    session: Session, pw: Passwords
) -> None:
    add(session, pw, "alice", "admin")
    with pytest.raises(Conflict, match="no account able to administer"):
        accounts.set_category(session, "admin", config=False, members="write")
    with pytest.raises(Conflict):
        accounts.set_category(session, "admin", login=False)
    admin = accounts.get_category(session, "admin")
    assert admin.config and admin.members == "admin" and admin.login
    accounts.set_category(session, "admin", config=False)  # members=admin still administers


def test_admin_may_go_when_another_remains(session: Session, pw: Passwords) -> None:
    add(session, pw, "alice", "admin")
    add(session, pw, "bob", "admin")
    accounts.set_user(session, pw, "alice", active=False)
    with pytest.raises(Conflict):
        accounts.delete_user(session, "bob")
    accounts.delete_user(session, "alice")
    assert accounts.find_user(session, "alice") is None


def test_disabled_admin_does_not_count_as_an_administrator(
    session: Session, pw: Passwords
) -> None:
    add(session, pw, "alice", "admin", active=False)
    add(session, pw, "bob", "admin")
    with pytest.raises(Conflict):
        accounts.set_user(session, pw, "bob", category="member")


# --- actors (DESIGN 3.11) ----------------------------------------------------------------


def test_nobody_deletes_own_account_or_changes_own_category(
    session: Session, pw: Passwords
) -> None:
    alice = add(session, pw, "alice", "admin")
    add(session, pw, "bob", "admin")
    me = accounts.actor_for(alice)
    with pytest.raises(Forbidden, match="own account"):
        accounts.delete_user(session, "alice", actor=me)
    with pytest.raises(Forbidden, match="own category"):
        accounts.set_user(session, pw, "alice", category="office", actor=me)
    accounts.set_user(session, pw, "alice", password="my new password", actor=me)


def test_a_member_edits_own_password_but_not_own_degree_or_others(
    session: Session, pw: Passwords
) -> None:
    carol = add(session, pw, "carol")
    add(session, pw, "dave")
    me = accounts.actor_for(carol)
    accounts.set_user(session, pw, "carol", password="carol's new one", display_name="C",
                      actor=me)
    with pytest.raises(Forbidden, match="members level"):
        accounts.set_user(session, pw, "carol", degree=5, actor=me)
    with pytest.raises(Forbidden):
        accounts.set_user(session, pw, "dave", password="dave is mine", actor=me)
    assert carol.degree == 1


def test_members_write_adds_and_edits_but_never_deletes_or_recategorises(
    session: Session, pw: Passwords
) -> None:
    bob = add(session, pw, "bob", "office")
    add(session, pw, "alice", "admin")
    office = accounts.actor_for(bob)
    accounts.add_user(session, pw, "carol", password="carol's pass", actor=office)
    accounts.set_user(session, pw, "carol", degree=2, actor=office)
    with pytest.raises(Forbidden):
        accounts.delete_user(session, "carol", actor=office)
    with pytest.raises(Forbidden):
        accounts.set_user(session, pw, "carol", category="office", actor=office)
    with pytest.raises(Forbidden, match="default category"):
        accounts.add_user(session, pw, "mallory", category="admin", actor=office)
    with pytest.raises(Forbidden, match="administrators' accounts"):
        accounts.set_user(session, pw, "alice", password="taken over!", actor=office)


def test_members_none_cannot_list_users_and_hidden_categories_are_for_admins(
    session: Session, pw: Passwords
) -> None:
    carol = add(session, pw, "carol")
    bob = add(session, pw, "bob", "office")
    add(session, pw, "erin", "former")
    with pytest.raises(Forbidden):
        accounts.list_users(session, accounts.actor_for(carol))
    seen = [u.login for u in accounts.list_users(session, accounts.actor_for(bob))]
    assert seen == ["bob", "carol"], "erin's category is hidden"
    shown = accounts.list_categories(session, accounts.actor_for(bob))
    assert "former" not in [c.slug for c in shown]
    assert "erin" in [u.login for u in accounts.list_users(session)]


def test_actor_for_copies_category_rights_and_degree(session: Session, pw: Passwords) -> None:
    user = add(session, pw, "dave", degree=2)
    actor = accounts.actor_for(user)
    assert (actor.user_id, actor.login, actor.category, actor.documents, actor.degree) == (
        user.id, "dave", "member", "read", 2)
    assert actor.excluded_doc_types == frozenset({"treasury", "receipt", "meal-attendance"})
    assert not actor.is_system


# --- app passwords, deletion ------------------------------------------------------------


def test_app_password_is_random_and_only_its_hash_is_stored(
    session: Session, pw: Passwords
) -> None:
    add(session, pw, "carol")
    first = accounts.app_password(session, "carol", "laptop")
    second = accounts.app_password(session, "carol", "phone")
    assert first != second and len(first) >= 32
    rows = session.scalars(select(AppPassword)).all()
    assert {r.token_hash for r in rows} == {token_hash(first), token_hash(second)}
    assert {r.label for r in rows} == {"laptop", "phone"}


def test_revoking_an_app_password_marks_only_that_label_and_is_audited(
    session: Session, pw: Passwords
) -> None:
    """Rule: revocation is per label, leaves other tokens live, and is audited."""
    add(session, pw, "carol")
    accounts.app_password(session, "carol", "laptop")
    accounts.app_password(session, "carol", "phone")
    assert accounts.revoke_app_password(session, "carol", "laptop") == 1
    rows = {r.label: r.revoked_at for r in session.scalars(select(AppPassword))}
    assert rows["laptop"] is not None and rows["phone"] is None
    actions = session.scalars(select(AuditEvent.action)).all()
    assert "app_password.revoke" in actions
    with pytest.raises(NotFound):
        accounts.revoke_app_password(session, "carol", "laptop")  # already revoked


def test_only_members_admins_revoke_other_users_app_passwords(
    session: Session, pw: Passwords
) -> None:
    carol = add(session, pw, "carol")
    dave = add(session, pw, "dave")
    accounts.app_password(session, "carol", "laptop")
    with pytest.raises(Forbidden):
        accounts.revoke_app_password(session, "carol", "laptop", actor=accounts.actor_for(dave))
    assert accounts.revoke_app_password(
        session, "carol", "laptop", actor=accounts.actor_for(carol)
    ) == 1


def test_deleting_a_user_hands_files_to_the_system(
    session: Session, pw: Passwords, runtime: Runtime
) -> None:
    carol = add(session, pw, "carol")
    accounts.app_password(session, "carol", "x")
    node = folder(session, runtime, "Shared")
    node.owner_id = carol.id
    session.commit()
    accounts.delete_user(session, "carol")
    session.commit()
    assert session.get(Node, node.id).owner_id is None  # type: ignore[union-attr]
    assert session.scalars(select(AppPassword)).all() == []


# --- folder rights and node settings -------------------------------------------------------


def test_folder_rights_store_none_explicitly_and_inherit_removes(
    session: Session, runtime: Runtime
) -> None:
    board = folder(session, runtime, "Board")
    node_admin.set_folder_rights(session, board, {"office": "write", "member": "none"})
    assert node_admin.folder_rights(session, board) == {"member": "none", "office": "write"}
    node_admin.set_folder_rights(session, board, {"member": "inherit", "office": "manage"})
    assert node_admin.folder_rights(session, board) == {"office": "manage"}


def test_invalid_folder_rights_change_nothing(session: Session, runtime: Runtime) -> None:
    board = folder(session, runtime, "Board")
    with pytest.raises(BadRequest, match="none, read, write, manage"):
        node_admin.set_folder_rights(session, board, {"office": "write", "member": "admin"})
    with pytest.raises(NotFound, match="ghosts"):
        node_admin.set_folder_rights(session, board, {"office": "write", "ghosts": "read"})
    assert session.scalars(select(FolderRight)).all() == []


def test_rights_are_for_folders_and_need_set_rights(
    session: Session, runtime: Runtime, pw: Passwords
) -> None:
    board = folder(session, runtime, "Board")
    carol = add(session, pw, "carol")
    with pytest.raises(Forbidden):
        node_admin.set_folder_rights(session, board, {"member": "write"},
                                   actor=accounts.actor_for(carol))


def test_node_set_changes_classification(
    session: Session, runtime: Runtime, pw: Passwords
) -> None:
    node = folder(session, runtime, "Treasury")
    bob = add(session, pw, "bob", "office")
    node_admin.node_set(session, node, min_degree=2, doc_type="treasury", visibility="private",
                      protected=True, owner_login="BOB", new_files_private=True)
    assert (node.min_degree, node.doc_type, node.visibility, node.protected,
            node.owner_id, node.new_files_private) == (2, "treasury", "private", True, bob.id, True)
    node_admin.node_set(session, node, doc_type="", owner_login="")
    assert node.doc_type is None and node.owner_id is None
    actions = session.scalars(select(AuditEvent.action)).all()
    assert actions.count("node.set") == 2


def test_node_set_refuses_unknown_values_without_changing(
    session: Session, runtime: Runtime
) -> None:
    node = folder(session, runtime, "Public")
    with pytest.raises(NotFound, match="payroll"):
        node_admin.node_set(session, node, min_degree=3, doc_type="payroll")
    with pytest.raises(BadRequest):
        node_admin.node_set(session, node, visibility="secret")
    with pytest.raises(NotFound):
        node_admin.node_set(session, node, min_degree=3, owner_login="nobody")
    assert node.min_degree == 0


def test_resolve_path_is_case_insensitive_and_reports_missing(
    session: Session, runtime: Runtime
) -> None:
    node = folder(session, runtime, "Board")
    assert node_admin.resolve_path(session, "/board/").id == node.id
    assert node_admin.resolve_path(session, "/").parent_id is None
    with pytest.raises(NotFound, match="/Nope"):
        node_admin.resolve_path(session, "/Nope")
    with pytest.raises(BadRequest):
        node_admin.resolve_path(session, "/../etc")


def test_doctype_add_refuses_duplicates(session: Session) -> None:
    accounts.add_doctype(session, "payroll", "Payroll")
    with pytest.raises(Conflict):
        accounts.add_doctype(session, "payroll")
    assert accounts.get_doctype(session, "payroll").label == "Payroll"

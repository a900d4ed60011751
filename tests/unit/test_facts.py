"""Facts gathered for the policy (DESIGN 3 rule 3): what is inherited along a
path, and which invisible folders are pass-through folders."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from davdrive import accounts, node_admin, tree
from davdrive.facts import FactBuilder
from davdrive.models import Node, utcnow
from davdrive.policy import SYSTEM, Action, Actor, PrivateMark, decide
from davdrive.runtime import Runtime
from davdrive.services import Drive

MEMBER = Actor(
    user_id=None, login="m", category="member", documents="read", degree=1,
    excluded_doc_types=frozenset({"treasury"}),
)


@pytest.fixture
def session(runtime: Runtime) -> Iterator[Session]:
    with runtime.sessions() as session:
        accounts.init_defaults(session)
        node_admin.set_folder_rights(session, tree.get_root(session), {"member": "read"})
        session.commit()
        yield session


def folders(session: Session, runtime: Runtime, *paths: str) -> dict[str, Node]:
    drive = Drive(session, runtime.blobs, SYSTEM, runtime.drive_options)
    made: dict[str, Node] = {}
    for path in paths:
        parent_path, _, name = path.rpartition("/")
        parent = made[parent_path] if parent_path else tree.get_root(session)
        made[path] = drive.make_folder(parent, name)
    return made


def chain_facts(session: Session, actor: Actor, node: Node):  # type: ignore[no-untyped-def]
    return FactBuilder(session, actor).chain(tree.ancestors(session, node))


def test_degree_doc_type_privacy_and_rights_are_inherited(
    session: Session, runtime: Runtime
) -> None:
    made = folders(session, runtime, "/A", "/A/B", "/A/B/C", "/A/B/C/D")
    node_admin.set_folder_rights(session, made["/A"], {"member": "write"})
    node_admin.set_folder_rights(session, made["/A/B/C"], {"member": "none"})
    node_admin.set_folder_rights(session, made["/A/B/C/D"], {"member": "manage"})
    node_admin.node_set(session, made["/A"], min_degree=2, doc_type="minutes")
    node_admin.node_set(session, made["/A/B"], min_degree=1, visibility="private")
    node_admin.node_set(session, made["/A/B/C"], doc_type="treasury")
    session.commit()
    root, a, b, c, d = chain_facts(session, MEMBER, made["/A/B/C/D"])
    assert root.right == "read"
    assert (a.right, b.right, c.right, d.right) == ("write", "write", "none", "manage")
    assert (a.min_degree, b.min_degree, c.min_degree, d.min_degree) == (2, 2, 2, 2)
    assert (a.doc_type, b.doc_type, c.doc_type, d.doc_type) == (
        "minutes", "minutes", "treasury", "treasury")
    assert a.private_marks == ()
    # /A/B is private, owned by the system, held by /A where members have 'write'
    assert b.private_marks == d.private_marks == (PrivateMark(None, "write"),)
    assert root.is_root and not a.is_root


def _leads(session: Session, actor: Actor) -> set[int]:
    return FactBuilder(session, actor).leads()


def test_a_deeper_folder_right_makes_its_ancestors_pass_through(
    session: Session, runtime: Runtime
) -> None:
    made = folders(session, runtime, "/Board", "/Board/Inner", "/Board/Inner/Open", "/Other")
    node_admin.set_folder_rights(session, made["/Board"], {"member": "none"})
    node_admin.set_folder_rights(session, made["/Other"], {"member": "none"})
    node_admin.set_folder_rights(session, made["/Board/Inner/Open"], {"member": "read"})
    session.commit()
    leads = _leads(session, MEMBER)
    assert made["/Board"].id in leads and made["/Board/Inner"].id in leads
    assert made["/Other"].id not in leads and made["/Board/Inner/Open"].id not in leads
    inner = chain_facts(session, MEMBER, made["/Board/Inner"])[-1]
    assert decide(MEMBER, Action.SEE, inner) and not decide(MEMBER, Action.CREATE, inner)


def test_a_deeper_right_behind_a_degree_or_trashed_folder_leads_nowhere(
    session: Session, runtime: Runtime
) -> None:
    made = folders(session, runtime, "/High", "/High/Open", "/Gone", "/Gone/Open")
    for top in ("/High", "/Gone"):
        node_admin.set_folder_rights(session, made[top], {"member": "none"})
        node_admin.set_folder_rights(session, made[f"{top}/Open"], {"member": "read"})
    node_admin.node_set(session, made["/High"], min_degree=3)
    made["/Gone"].deleted_at = utcnow()
    session.commit()
    assert _leads(session, MEMBER) == set()


def test_an_own_doc_type_inside_an_excluded_folder_makes_a_pass_through(
    session: Session, runtime: Runtime
) -> None:
    made = folders(session, runtime, "/Treasury", "/Treasury/Reports", "/Treasury/Reports/AG")
    node_admin.node_set(session, made["/Treasury"], doc_type="treasury")
    node_admin.node_set(session, made["/Treasury/Reports"], doc_type="")
    node_admin.node_set(session, made["/Treasury/Reports/AG"], doc_type="minutes")
    session.commit()
    facts = chain_facts(session, MEMBER, made["/Treasury/Reports/AG"])
    assert facts[2].doc_type == "treasury"  # cleared: inherits again
    assert facts[3].doc_type == "minutes"
    leads = _leads(session, MEMBER)
    assert leads >= {made["/Treasury"].id, made["/Treasury/Reports"].id}
    office = Actor(user_id=None, login="o", category="office", documents="write")
    assert _leads(session, office) == set(), "nothing is hidden from office: no pass-through"


def test_pass_through_costs_a_fixed_number_of_statements(
    session: Session, runtime: Runtime
) -> None:
    def statements_for(size: int) -> int:
        made = folders(session, runtime, f"/T{size}")
        node_admin.node_set(session, made[f"/T{size}"], doc_type="treasury")
        parent = made[f"/T{size}"]
        for i in range(size):
            session.add(Node(parent_id=parent.id, name=f"n{i}", name_key=f"n{i}", kind="folder",
                             mtime=0, doc_type="minutes" if i % 2 else None))
        session.commit()
        count = 0

        def _count(*_: object) -> None:
            nonlocal count
            count += 1

        engine = runtime.engine
        event.listen(engine, "before_cursor_execute", _count)
        try:
            _leads(session, MEMBER)
        finally:
            event.remove(engine, "before_cursor_execute", _count)
        return count

    assert statements_for(5) == statements_for(300) <= 3


def test_the_listing_row_unpacks_into_the_file_key(session: Session) -> None:
    """The read fast path unpacks ``tree.ROW_COLUMNS`` and builds the file key from the
    values at these places: they must be ``FactBuilder.file_key`` of the row."""
    root = tree.get_root(session)
    session.add(Node(parent_id=root.id, name="k.txt", name_key="k.txt", kind="file", mtime=0,
                     owner_id=None, protected=True, visibility="private", min_degree=2,
                     doc_type="minutes"))
    session.flush()
    (row,) = tree.children_rows(session.connection(), root.id, "file", None, 10)
    (_, _, _, _, _, _, owner, protected, degree, doc_type, shown, *_rest) = row
    assert (owner, protected, shown, degree, doc_type) == FactBuilder.file_key(row)
    assert [c.key for c in tree.ROW_COLUMNS][6:11] == [
        "owner_id", "protected", "min_degree", "doc_type", "visibility"]


def test_a_file_listing_row_holds_the_file_key_in_order(session: Session) -> None:
    """The read fast path takes a file's facts key as ``row[1:6]`` of ``tree.file_rows``
    (the driver's values, converted by ``convert[1:6]``): converted, it must be
    ``FactBuilder.file_key`` of the node (all that ``child`` reads of a file)."""
    root = tree.get_root(session)
    node = Node(parent_id=root.id, name="k.txt", name_key="k.txt", kind="file", mtime=0,
                owner_id=None, protected=True, visibility="private", min_degree=2,
                doc_type="minutes")
    session.add(node)
    session.flush()
    page = tree.file_rows(session.connection(), root.id, ("size",), None, 10)
    (row,) = page.rows
    assert row[0] == "k.txt" and len(row) == 7
    key = tuple(v if f is None else f(v) for v, f in zip(row[1:6], page.convert[1:6],
                                                         strict=True))
    assert key == FactBuilder.file_key(node) == (None, True, "private", 2, "minutes")
    assert type(key[1]) is bool

"""Exhaustive matrix test of the rights engine (DESIGN section 3).

Every combination of a generated matrix of actors and node facts is put to
``davdrive.policy.decide`` for every action, and the answer compared with an
independent oracle written from the written rules (not from the
implementation). The oracle works the other way round from an if-chain per
action: for one (actor, node) it builds the whole set of granted actions,
then takes away the actions that the hard limits (protected, backoffice,
root, files) forbid.

The written rules, as numbered in the oracle:

1. sign-in: active, not expired, category may log in, inside login hours;
2. the system may do everything;
3. for everybody else: protected node -> only SEE/READ; backoffice branch ->
   only SEE/READ; root -> no DELETE/MOVE; file -> no CREATE, no SET_RIGHTS;
4. document admins may do everything else (DELETE/MOVE only with the
   category's ``may_delete``: seed 002 blocks deletion "for the whole
   category");
5. SET_RIGHTS: document admins only;
6. visible = documents >= read, degree >= min_degree, doc type not excluded,
   every private mark own (``None`` is the system, never a user) or held in a
   folder the category manages, folder right >= read;
7. pass-through: an invisible *folder* leading to something visible allows
   SEE and READ, nothing else; files never;
8. changes need visible (not pass-through) and documents >= write;
9. CREATE: right >= write;
10. MODIFY: (owner and right >= write) or right == manage;
11. DELETE/MOVE: as MODIFY, and the category's ``may_delete``;
12. SET_VISIBILITY: owner (any right) or right == manage;
13. SET_CLASSIFICATION: right == manage.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import cache

import pytest

from davdrive.policy import (
    SYSTEM,
    Action,
    Actor,
    Decision,
    LoginFacts,
    NodeFacts,
    PrivateMark,
    allowed_actions,
    decide,
    decide_login,
)

# --------------------------------------------------------------------------
# The oracle, from the written rules only.
# --------------------------------------------------------------------------

DOCUMENT_RANK = {"none": 0, "read": 1, "write": 2, "admin": 3}
FOLDER_RANK = {"none": 0, "read": 1, "write": 2, "manage": 3}

EVERYTHING = frozenset(Action)
LOOKING = frozenset({Action.SEE, Action.READ})
CHANGES = frozenset(
    {
        Action.CREATE,
        Action.MODIFY,
        Action.DELETE,
        Action.MOVE,
        Action.SET_VISIBILITY,
        Action.SET_CLASSIFICATION,
    }
)


def oracle_visible(actor: Actor, node: NodeFacts) -> bool:
    """Rule 6, as a list of conditions that must all hold."""
    conditions = [
        DOCUMENT_RANK[actor.documents] >= DOCUMENT_RANK["read"],
        actor.degree >= node.min_degree,
        node.doc_type is None or node.doc_type not in actor.excluded_doc_types,
        FOLDER_RANK[node.right] >= FOLDER_RANK["read"],
    ]
    for mark in node.private_marks:
        mine = mark.owner_id is not None and mark.owner_id == actor.user_id
        conditions.append(mine or mark.holder_right == "manage")
    return all(conditions)


def oracle_forbidden(node: NodeFacts) -> frozenset[Action]:
    """Rule 3: hard limits for everybody but the system."""
    forbidden: set[Action] = set()
    if node.protected:
        forbidden |= EVERYTHING - LOOKING
    if node.in_backoffice:
        forbidden |= EVERYTHING - LOOKING
    if node.is_root:
        forbidden |= {Action.DELETE, Action.MOVE}
    if not node.is_folder:
        forbidden |= {Action.CREATE, Action.SET_RIGHTS}
    return frozenset(forbidden)


def oracle_granted(actor: Actor, node: NodeFacts) -> frozenset[Action]:
    """Rules 4-13, before the hard limits of rule 3 are taken away."""
    if DOCUMENT_RANK[actor.documents] == DOCUMENT_RANK["admin"]:
        if not actor.may_delete:
            return EVERYTHING - {Action.DELETE, Action.MOVE}  # rules 4 and 11
        return EVERYTHING  # rule 4 (and rule 5: SET_RIGHTS for admins)
    visible = oracle_visible(actor, node)
    granted: set[Action] = set()
    if visible or (node.is_folder and node.leads_to_visible):
        granted |= LOOKING  # rules 6 and 7
    if not visible or DOCUMENT_RANK[actor.documents] < DOCUMENT_RANK["write"]:
        return frozenset(granted)  # rule 8
    owns = node.owner_id is not None and node.owner_id == actor.user_id
    rank = FOLDER_RANK[node.right]
    manages = rank == FOLDER_RANK["manage"]
    table: dict[Action, bool] = {
        Action.CREATE: rank >= FOLDER_RANK["write"],  # rule 9
        Action.MODIFY: (owns and rank >= FOLDER_RANK["write"]) or manages,  # rule 10
        Action.SET_VISIBILITY: owns or manages,  # rule 12
        Action.SET_CLASSIFICATION: manages,  # rule 13
    }
    table[Action.DELETE] = table[Action.MODIFY] and actor.may_delete  # rule 11
    table[Action.MOVE] = table[Action.DELETE]
    granted |= {action for action, ok in table.items() if ok}
    assert granted <= LOOKING | CHANGES  # rule 5: never SET_RIGHTS here
    return frozenset(granted)


def oracle(actor: Actor, node: NodeFacts) -> frozenset[Action]:
    if actor.is_system:
        return EVERYTHING  # rule 2
    return oracle_granted(actor, node) - oracle_forbidden(node)


def oracle_login(facts: LoginFacts) -> bool:
    """Rule 1."""
    return facts.active and not facts.expired and facts.category_login and facts.inside_hours


# --------------------------------------------------------------------------
# The matrix.
# --------------------------------------------------------------------------

ME = 7
OTHER = 8

# name, documents, may_delete, excluded doc types
CATEGORIES: list[tuple[str, str, bool, frozenset[str]]] = [
    ("admin", "admin", True, frozenset()),
    ("admin-restricted", "admin", True, frozenset({"treasury"})),
    ("admin-no-delete", "admin", False, frozenset()),
    ("office", "write", True, frozenset()),
    ("member", "read", True, frozenset({"treasury", "receipt"})),
    ("none", "none", True, frozenset()),
    ("writer-no-delete", "write", False, frozenset()),
    ("clerk", "write", True, frozenset({"treasury"})),
]
USER_DEGREES = (0, 1, 3)
MIN_DEGREES = (0, 2, 3)
DOC_TYPES: tuple[str | None, ...] = (None, "treasury", "minutes")
PRIVATE_MARKS: tuple[tuple[PrivateMark, ...], ...] = (
    (),
    (PrivateMark(ME, "none"),),
    (PrivateMark(OTHER, "write"),),
    (PrivateMark(OTHER, "manage"),),
    (PrivateMark(None, "read"),),
    (PrivateMark(None, "manage"), PrivateMark(ME, "read")),
    (PrivateMark(ME, "manage"), PrivateMark(OTHER, "read")),
)
OWNERS: tuple[int | None, ...] = (ME, OTHER, None)
# (protected, in_backoffice, is_root): plain, each limit alone, and all at once
LIMITS: tuple[tuple[bool, bool, bool], ...] = (
    (False, False, False),
    (True, False, False),
    (False, True, False),
    (False, False, True),
    (True, True, True),
)
RIGHTS = ("none", "read", "write", "manage")
# (is_folder, leads_to_visible); a file "leading to" something visible is
# nonsense from the caller, but must still never be a pass-through (rule 7)
KINDS: tuple[tuple[bool, bool], ...] = ((False, False), (False, True), (True, False), (True, True))

ACTORS_PER_CATEGORY = len(USER_DEGREES)
N_ACTORS = len(CATEGORIES) * ACTORS_PER_CATEGORY + 1  # + the system
N_FACTS = (
    len(MIN_DEGREES)
    * len(DOC_TYPES)
    * len(PRIVATE_MARKS)
    * len(OWNERS)
    * len(LIMITS)
    * len(RIGHTS)
    * len(KINDS)
)
N_CASES = N_ACTORS * N_FACTS


def make_actors() -> list[Actor]:
    actors = [
        Actor(
            user_id=ME,
            login=f"{name}-{degree}",
            category=name,
            documents=documents,
            may_delete=may_delete,
            degree=degree,
            excluded_doc_types=excluded,
        )
        for (name, documents, may_delete, excluded), degree in itertools.product(
            CATEGORIES, USER_DEGREES
        )
    ]
    actors.append(SYSTEM)
    return actors


def make_facts() -> list[NodeFacts]:
    return [
        NodeFacts(
            is_folder=is_folder,
            owner_id=owner,
            protected=protected,
            is_root=is_root,
            in_backoffice=in_backoffice,
            min_degree=min_degree,
            doc_type=doc_type,
            private_marks=marks,
            right=right,
            leads_to_visible=leads,
        )
        for (
            min_degree,
            doc_type,
            marks,
            owner,
            (protected, in_backoffice, is_root),
            right,
            (is_folder, leads),
        ) in itertools.product(MIN_DEGREES, DOC_TYPES, PRIVATE_MARKS, OWNERS, LIMITS, RIGHTS, KINDS)
    ]


@dataclass(frozen=True)
class Case:
    actor: Actor
    node: NodeFacts
    expected: frozenset[Action]


@cache
def matrix() -> tuple[Case, ...]:
    facts = make_facts()
    return tuple(
        Case(actor, node, oracle(actor, node)) for actor in make_actors() for node in facts
    )


def describe(actor: Actor, node: NodeFacts) -> str:
    if actor.is_system:
        who = "SYSTEM"
    else:
        who = (
            f"actor(category={actor.category!r}, user_id={actor.user_id}, "
            f"documents={actor.documents!r}, degree={actor.degree}, "
            f"may_delete={actor.may_delete}, excluded={sorted(actor.excluded_doc_types)})"
        )
    return f"{who} on {node!r}"


def report(mismatches: list[str], total: int) -> str:
    shown = "\n".join(mismatches[:10])
    return f"{len(mismatches)} mismatches out of {total}; first ones:\n{shown}"


# --------------------------------------------------------------------------
# The matrix tests.
# --------------------------------------------------------------------------


def test_matrix_size() -> None:
    cases = matrix()
    assert len(make_actors()) == N_ACTORS == 25
    assert len(make_facts()) == N_FACTS == 15120
    assert len(cases) == N_CASES == 378000
    # the matrix is not degenerate: every action is both granted and refused
    for action in Action:
        granted = sum(1 for case in cases if action in case.expected)
        assert 0 < granted < len(cases), action
    # and the main answer classes are all present
    users = [case for case in cases if not case.actor.is_system]
    assert any(case.expected == frozenset() for case in users)
    assert any(case.expected == LOOKING for case in users)
    assert any(case.expected == EVERYTHING for case in users)
    assert any(
        not oracle_visible(case.actor, case.node) and case.expected == LOOKING for case in users
    )


@pytest.mark.parametrize("action", list(Action), ids=str)
def test_decide_matches_the_written_rules(action: Action) -> None:
    mismatches: list[str] = []
    checked = 0
    for case in matrix():
        decision = decide(case.actor, action, case.node)
        checked += 1
        expected = action in case.expected
        if not isinstance(decision, Decision):
            mismatches.append(f"{action}: not a Decision: {decision!r}")
        elif decision.allowed is not expected:
            mismatches.append(
                f"{action}: expected {'allowed' if expected else 'refused'}, "
                f"got {decision!r} for {describe(case.actor, case.node)}"
            )
        elif not decision.allowed and not decision.reason.strip():
            mismatches.append(
                f"{action}: refusal without a reason for {describe(case.actor, case.node)}"
            )
    assert checked == N_CASES
    assert not mismatches, report(mismatches, checked)


def test_allowed_actions_matches_the_written_rules() -> None:
    mismatches: list[str] = []
    checked = 0
    for case in matrix():
        got = allowed_actions(case.actor, case.node)
        checked += 1
        if len(got) != len(set(got)) or frozenset(got) != case.expected:
            mismatches.append(
                f"expected {sorted(case.expected)}, got {got} for {describe(case.actor, case.node)}"
            )
    assert checked == N_CASES
    assert not mismatches, report(mismatches, checked)


def test_allowed_actions_agrees_with_decide() -> None:
    # a smaller sample, through the implementation only: the two entry
    # points must never disagree
    mismatches: list[str] = []
    for case in matrix()[::37]:
        listed = set(allowed_actions(case.actor, case.node))
        decided = {a for a in Action if decide(case.actor, a, case.node).allowed}
        if listed != decided:
            mismatches.append(
                f"allowed_actions {sorted(listed)} != decide {sorted(decided)} "
                f"for {describe(case.actor, case.node)}"
            )
    assert not mismatches, report(mismatches, len(matrix()[::37]))


# --------------------------------------------------------------------------
# Sign-in.
# --------------------------------------------------------------------------


def test_decide_login_all_sixteen_combinations() -> None:
    combos = list(itertools.product((False, True), repeat=4))
    assert len(combos) == 16
    mismatches: list[str] = []
    for active, expired, category_login, inside_hours in combos:
        facts = LoginFacts(
            active=active,
            expired=expired,
            category_login=category_login,
            inside_hours=inside_hours,
        )
        decision = decide_login(facts)
        if decision.allowed is not oracle_login(facts):
            mismatches.append(f"expected {oracle_login(facts)}, got {decision!r} for {facts!r}")
        elif not decision.allowed and not decision.reason.strip():
            mismatches.append(f"refusal without a reason for {facts!r}")
    assert not mismatches, report(mismatches, len(combos))
    assert sum(oracle_login(LoginFacts(*combo)) for combo in combos) == 1


# --------------------------------------------------------------------------
# Reasons of refusals name the key facts.
# --------------------------------------------------------------------------


def user(
    category: str = "office",
    documents: str = "write",
    degree: int = 3,
    excluded: Iterable[str] = (),
    may_delete: bool = True,
) -> Actor:
    return Actor(
        user_id=ME,
        login="u",
        category=category,
        documents=documents,
        degree=degree,
        may_delete=may_delete,
        excluded_doc_types=frozenset(excluded),
    )


OPEN = NodeFacts(is_folder=True, owner_id=ME, right="manage")


def refused(actor: Actor, action: Action, node: NodeFacts) -> str:
    decision = decide(actor, action, node)
    assert not decision.allowed, decision
    assert not decision, "a refusal is falsy"
    return decision.reason


def test_reason_names_the_degrees() -> None:
    node = replace(OPEN, min_degree=3)
    assert decide(user(degree=3), Action.READ, node).allowed
    reason = refused(user(degree=1), Action.READ, node)
    assert "degree 1 < required 3" in reason


def test_reason_names_the_excluded_doc_type_and_the_category() -> None:
    node = replace(OPEN, doc_type="treasury")
    assert decide(user(category="clerk"), Action.READ, OPEN).allowed
    reason = refused(user(category="clerk", excluded={"treasury"}), Action.READ, node)
    assert "treasury" in reason
    assert "clerk" in reason


def test_reason_names_a_documents_level_too_low_to_read() -> None:
    reason = refused(user(category="guests", documents="none"), Action.READ, OPEN)
    assert "'none'" in reason
    assert "read" in reason


def test_reason_names_a_documents_level_too_low_to_write() -> None:
    member = user(category="member", documents="read")
    assert decide(member, Action.READ, OPEN).allowed
    reason = refused(member, Action.MODIFY, OPEN)
    assert "'read'" in reason
    assert "write" in reason


def test_reason_names_the_protection_and_the_backoffice() -> None:
    admin = user(category="admin", documents="admin")
    assert "protected" in refused(admin, Action.MODIFY, replace(OPEN, protected=True)).lower()
    assert "backoffice" in refused(
        admin, Action.DELETE, replace(OPEN, in_backoffice=True)
    ).lower().replace(" ", "").replace("-", "")
    assert "root" in refused(admin, Action.MOVE, replace(OPEN, is_root=True)).lower()


def test_reason_names_the_missing_delete_right() -> None:
    reason = refused(user(category="writer-no-delete", may_delete=False), Action.DELETE, OPEN)
    assert "delete" in reason.lower()


def test_reason_names_a_folder_right_too_low() -> None:
    reason = refused(user(), Action.SEE, replace(OPEN, right="none"))
    assert "'none'" in reason
    assert "read" in reason
    reason = refused(user(), Action.CREATE, replace(OPEN, right="read"))
    assert "'read'" in reason
    assert "write" in reason


def test_reason_names_privacy_and_pass_through() -> None:
    private = replace(OPEN, private_marks=(PrivateMark(OTHER, "write"),))
    assert "private" in refused(user(), Action.READ, private).lower()
    passing = replace(OPEN, right="none", leads_to_visible=True)
    assert decide(user(), Action.READ, passing).allowed
    assert "pass-through" in refused(user(), Action.MODIFY, passing).lower()

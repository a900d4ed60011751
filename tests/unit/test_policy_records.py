"""Rule 10 of DESIGN 3, the back-office branch, over a generated matrix.

Expectations come from the written rule: read-only for everybody; users with
members >= read or documents = admin see every record and attachment; a
member sees only their own member record and its shared attachments; shared
product and activity attachments are seen by every user with documents >=
read (and their record folders, which lead to them); private attachments
only by staff.
"""

from __future__ import annotations

import itertools

from davdrive.policy import SYSTEM, Action, Actor, RecordFacts, decide_record

ME = 5
LEVELS = ("none", "read", "write", "admin")


def expected(actor: Actor, action: Action, record: RecordFacts) -> bool:
    if action not in (Action.SEE, Action.READ):
        return False  # read-only for everybody, the system included (over WebDAV)
    if actor.is_system or actor.documents == "admin" or actor.members in ("read", "write",
                                                                           "admin"):
        return True
    if record.kind == "member":
        own = record.linked_user_id == ME
        return own and record.attachment_visibility != "private"
    if actor.documents == "none":
        return False
    if record.attachment_visibility is None:
        return record.has_shared
    return record.attachment_visibility == "shared"


def test_rule_10_over_the_matrix() -> None:
    actors = [SYSTEM] + [
        Actor(user_id=ME, login="u", category="c", documents=docs, members=members)
        for docs, members in itertools.product(LEVELS, LEVELS)
    ]
    records = [
        RecordFacts(kind=kind, linked_user_id=linked, attachment_visibility=vis,
                    has_shared=shared)
        for kind, linked, vis, shared in itertools.product(
            ("member", "product", "activity"), (ME, 6, None), (None, "shared", "private"),
            (False, True))
    ]
    mismatches = []
    count = 0
    for actor, record, action in itertools.product(actors, records, list(Action)):
        count += 1
        got = decide_record(actor, action, record)
        if got.allowed != expected(actor, action, record):
            mismatches.append((actor, action, record, got))
        assert got.reason
    assert count == 17 * 54 * len(Action)
    assert mismatches == [], mismatches[:5]


def test_refusal_reasons_say_why() -> None:
    member = Actor(user_id=ME, login="carol", category="member", documents="read")
    other = RecordFacts(kind="member", linked_user_id=6)
    assert "another member" in decide_record(member, Action.READ, other).reason
    private = RecordFacts(kind="member", linked_user_id=ME, attachment_visibility="private")
    assert "private" in decide_record(member, Action.READ, private).reason
    own = RecordFacts(kind="member", linked_user_id=ME)
    assert "read-only" in decide_record(member, Action.MODIFY, own).reason

"""A signed-in account's row and actor are reused only while the database agrees.

Issue 12 (small GET): sign-in from the cache reads the account on every request
(a password, category or rights change must be seen at once), but building the
``AccountRow`` and its ``Actor`` again from unchanged values cost as much as
reading them. ``signin.KnownAccounts`` reuses them while the values read are the
same; any change in the row or its category gives new ones, a deleted account
gives None.
"""

from __future__ import annotations

from davdrive import signin
from davdrive.models import Category, User
from davdrive.runtime import Runtime
from tests.conftest import add_user


def _uid(runtime: Runtime) -> int:
    with runtime.sessions() as session:
        return session.query(User).filter_by(login="ann").one().id


def test_unchanged_values_give_the_same_row_and_actor(runtime: Runtime) -> None:
    add_user(runtime, "ann")
    known = signin.KnownAccounts()
    with runtime.engine.connect() as conn:
        first = known.by_id(conn, _uid(runtime))
        again = known.by_id(conn, _uid(runtime))
    assert first is not None and again is first
    assert again.actor() is first.actor()
    assert first.actor().login == "ann"


def test_any_change_is_read_at_once(runtime: Runtime) -> None:
    add_user(runtime, "ann", degree=1)
    known = signin.KnownAccounts()
    uid = _uid(runtime)
    with runtime.engine.connect() as conn:
        before = known.by_id(conn, uid)
        with runtime.sessions() as session:
            user = session.get(User, uid)
            assert user is not None
            user.degree = 3  # even without a version bump
            session.commit()
        after_degree = known.by_id(conn, uid)
        with runtime.sessions() as session:
            category = session.query(Category).filter_by(slug="docs-write").one()
            category.excluded_doc_types = ["treasury"]
            session.commit()
        after_category = known.by_id(conn, uid)
        with runtime.sessions() as session:
            session.delete(session.get(User, uid))
            session.commit()
        gone = known.by_id(conn, uid)
    assert before is not None and before.actor().degree == 1
    assert after_degree is not None and after_degree is not before
    assert after_degree.actor().degree == 3
    assert after_category is not None
    assert after_category.actor().excluded_doc_types == frozenset({"treasury"})
    assert gone is None


def test_the_row_equals_a_fresh_read(runtime: Runtime) -> None:
    add_user(runtime, "ann", login_hours="Mon-Fri 08:00-18:00")
    known = signin.KnownAccounts()
    with runtime.engine.connect() as conn:
        known.by_id(conn, _uid(runtime))
        reused = known.by_id(conn, _uid(runtime))
        fresh = signin.by_id(conn, _uid(runtime))
    assert reused == fresh
    assert reused is not None and fresh is not None
    assert reused.actor() == fresh.actor()

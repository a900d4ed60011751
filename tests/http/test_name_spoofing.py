"""Names over WebDAV (issue 9, finding 9): no name may pass for the back-office branch,
hide characters or name a Windows device.

Rules checked: a new root name that reads as ``backoffice`` (case, fullwidth, Cyrillic
or Greek letters, zero-width characters, soft hyphen) gets the 409 "name not available"
that ``backoffice`` itself gets, by PUT, MKCOL, COPY/MOVE destination and LOCK of a new
name; bidi controls, zero-width characters and a BOM in any new name get 400 with the
reason; Windows device names with digits 0-9, superscripts and CONIN$/CONOUT$ get 400.
Each refusal changes nothing.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
from sqlalchemy import select
from werkzeug.test import Client

from davdrive.models import Category, Node
from davdrive.runtime import Runtime
from davdrive.server import DriveApp
from tests.conftest import Dav, add_user, basic

LOCKINFO = (
    '<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/>'
    "</D:lockscope><D:locktype><D:write/></D:locktype>"
    "<D:owner>tester</D:owner></D:lockinfo>"
)

# The names of the finding, and the other tricks of the same kind.
BACKOFFICE_LOOKALIKES = [
    "\uff42\uff41\uff43\uff4b\uff4f\uff46\uff46\uff49\uff43\uff45",  # fullwidth
    "backoffi\u0441e",  # CYRILLIC SMALL LETTER ES
    "backoffice\u200b",  # + ZERO WIDTH SPACE
    "ba\u00adckoffice",  # SOFT HYPHEN
    "\u0412\u0410\u0421\u041a\u041e\u0046\u0046\u0406\u0421\u0415",  # Cyrillic capitals
    "\ufeffbackoffice",  # BOM
    "BACKOFFICE",  # same name_key as the branch
    "b\u0430ck\u03bfffice",  # Cyrillic a, Greek omicron
]


def node_names(runtime: Runtime) -> set[str]:
    with runtime.sessions() as session:
        return set(session.scalars(select(Node.name).where(Node.deleted_at.is_(None))))


def url(name: str) -> str:
    return "/dav/" + quote(name.encode("utf-8"))


def lookalike_id(value: str | bytes) -> str:
    if isinstance(value, bytes):
        return value.decode()
    return value.encode("ascii", "backslashreplace").decode()


def test_backoffice_itself_is_not_available_at_the_root(dav: Dav) -> None:
    """The reference answer: MKCOL /dav/backoffice/ by a writer who does not see the branch."""
    response = dav("MKCOL", "/dav/backoffice/")
    assert response.status_code == 409
    assert b"reserved" in response.data


@pytest.mark.parametrize("name", BACKOFFICE_LOOKALIKES, ids=lookalike_id)
def test_mkcol_and_put_of_a_backoffice_lookalike_answer_409(
    dav: Dav, runtime: Runtime, name: str
) -> None:
    """MKCOL /dav/<lookalike>/ and PUT /dav/<lookalike> are refused like backoffice."""
    before = node_names(runtime)
    mkcol = dav("MKCOL", url(name) + "/")
    assert mkcol.status_code == 409, mkcol.data
    assert b"reserved" in mkcol.data
    put = dav("PUT", url(name), b"x")
    assert put.status_code == 409, put.data
    assert node_names(runtime) == before


@pytest.mark.parametrize("method", ["MOVE", "COPY"])
@pytest.mark.parametrize("name", BACKOFFICE_LOOKALIKES, ids=lookalike_id)
def test_copy_or_move_onto_a_backoffice_lookalike_answers_409(
    dav: Dav, runtime: Runtime, method: str, name: str
) -> None:
    """MOVE/COPY /dav/src/ with Destination: /dav/<lookalike>/ is refused like backoffice."""
    assert dav("MKCOL", "/dav/src/").status_code == 201
    before = node_names(runtime)
    response = dav(method, "/dav/src/", Destination=url(name) + "/")
    assert response.status_code == 409, response.data
    assert node_names(runtime) == before


@pytest.mark.parametrize("name", BACKOFFICE_LOOKALIKES, ids=lookalike_id)
def test_lock_of_a_new_backoffice_lookalike_answers_409(
    dav: Dav, runtime: Runtime, name: str
) -> None:
    """LOCK /dav/<lookalike> (an unmapped URL, which would create an empty file)."""
    before = node_names(runtime)
    response = dav("LOCK", url(name), LOCKINFO, Timeout="Second-60", Depth="0")
    assert response.status_code == 409, response.data
    assert node_names(runtime) == before


def test_lookalikes_are_only_reserved_at_the_root(dav: Dav, runtime: Runtime) -> None:
    """Inside a folder, a name like "backoffice" is an ordinary name (nothing to confuse)."""
    assert dav("MKCOL", "/dav/Archive/").status_code == 201
    assert dav("MKCOL", "/dav/Archive/backoffice/").status_code == 201
    assert dav("PUT", "/dav/Archive/" + quote("backoffi\u0441e.txt"), b"x").status_code == 201
    assert dav("MKCOL", "/dav/backoffice-2024/").status_code == 201


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("invoice\u202efdp.exe", b"U+202E RIGHT-TO-LEFT OVERRIDE"),
        ("\u200b", b"U+200B ZERO WIDTH SPACE"),
        ("\ufeffnotes.txt", b"U+FEFF"),
        ("report\u2066.txt", b"U+2066"),
        ("re\u200dport.txt", b"U+200D"),
    ],
    ids=lookalike_id,
)
def test_names_with_bidi_controls_or_invisible_characters_answer_400(
    dav: Dav, runtime: Runtime, name: str, reason: bytes
) -> None:
    """PUT /dav/invoice%E2%80%AEfdp.exe, MKCOL /dav/%E2%80%8B/, MOVE onto a BOM name."""
    assert dav("PUT", "/dav/ok.txt", b"x").status_code == 201
    before = node_names(runtime)
    put = dav("PUT", url(name), b"x")
    assert put.status_code == 400 and reason in put.data, put.data
    mkcol = dav("MKCOL", url(name) + "/")
    assert mkcol.status_code == 400 and reason in mkcol.data, mkcol.data
    move = dav("MOVE", "/dav/ok.txt", Destination=url(name))
    assert move.status_code == 400 and reason in move.data, move.data
    assert node_names(runtime) == before


@pytest.mark.parametrize("name", ["COM0", "LPT0.txt", "CONOUT$", "COM\u00b2.txt", "conin$.log",
                                  "lpt\u00b3", "CON .txt", "Nul.tar.gz"], ids=lookalike_id)
def test_every_windows_device_name_answers_400(dav: Dav, runtime: Runtime, name: str) -> None:
    """PUT /dav/COM0, /dav/LPT0.txt, /dav/CONOUT$, /dav/COM%C2%B2.txt (finding 9)."""
    before = node_names(runtime)
    put = dav("PUT", url(name), b"x")
    assert put.status_code == 400 and b"device name" in put.data, put.data
    assert dav("MKCOL", url(name) + "/").status_code == 400
    assert node_names(runtime) == before


def test_staff_who_see_the_branch_cannot_create_a_lookalike_beside_it(
    app: DriveApp, runtime: Runtime
) -> None:
    """With the branch listed at the root, MKCOL /dav/ｂａｃｋｏｆｆｉｃｅ/ would put a
    writable twin next to it; BACKOFFICE answers exactly as backoffice does."""
    add_user(runtime, "staff", "staff-pw", documents="write", category="office")
    with runtime.sessions() as session:
        session.query(Category).filter_by(slug="office").one().members = "read"
        session.commit()
    staff = Dav(Client(app), basic("staff", "staff-pw"))
    assert b"/dav/backoffice/" in staff("PROPFIND", "/dav/", Depth="1").data
    before = node_names(runtime)
    for name in BACKOFFICE_LOOKALIKES:
        if name == "BACKOFFICE":
            continue
        assert staff("MKCOL", url(name) + "/").status_code == 409, lookalike_id(name)
        assert staff("PUT", url(name), b"x").status_code == 409, lookalike_id(name)
    for method in ("MKCOL", "PUT"):
        upper, lower = staff(method, "/dav/BACKOFFICE/"), staff(method, "/dav/backoffice/")
        assert (upper.status_code, upper.data) == (lower.status_code, lower.data)
        assert upper.status_code >= 400
    assert node_names(runtime) == before

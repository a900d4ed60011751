"""The club used by the rights tests: one folder, seven users, three hidden files.

/Club, where members (documents read, treasury excluded) have the right read,
writers write, managers manage, and a category that may not delete has
write. Hidden from a degree-1 member: a degree-3 file, a treasury file and a
file inside a degree-3 folder.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from werkzeug.test import Client

from davdrive import accounts, node_admin, tree
from davdrive.models import Category
from davdrive.policy import SYSTEM
from davdrive.runtime import Runtime
from davdrive.server import DriveApp
from davdrive.services import Drive
from tests.conftest import Dav, add_user, basic, put_file

SECRET = b"classified content"
LOCKINFO = (
    '<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/>'
    "</D:lockscope><D:locktype><D:write/></D:locktype><D:owner>someone</D:owner></D:lockinfo>"
)
PROPPATCH = (
    '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:x="urn:x"><D:set><D:prop>'
    "<x:tag>v</x:tag></D:prop></D:set></D:propertyupdate>"
)
HIDDEN = ("/Club/Degree3.txt", "/Club/Budget.txt", "/Club/Deep/Inner.txt")
MISSING = "/Club/Nothing-here.txt"

# login -> (category, documents, right on /Club, degree)
PEOPLE = {
    "carol": ("member", "read", "read", 1),
    "dave": ("member", "read", "read", 3),
    "wendy": ("writer", "write", "write", 1),
    "walt": ("writer", "write", "write", 1),
    "mia": ("manager", "write", "manage", 3),
    "ada": ("docadmin", "admin", None, 1),
    "nora": ("nodelete", "write", "write", 1),
}


@dataclass
class Club:
    app: DriveApp
    runtime: Runtime

    def as_(self, login: str) -> Dav:
        return Dav(Client(self.app), basic(login, f"{login}-password"))

    def content(self, path: str) -> bytes | None:
        """The content at ``path`` as the system sees it (None if missing)."""
        with self.runtime.sessions() as session:
            chain = tree.resolve_chain(session, [p for p in path.split("/") if p])
            if chain is None:
                return None
            drive = Drive(session, self.runtime.blobs, SYSTEM, self.runtime.drive_options)
            with drive.open_content(chain[-1]) as stream:
                return stream.read()

@pytest.fixture
def club(app: DriveApp, runtime: Runtime) -> Iterator[Club]:
    yield build_club(app, runtime)


def build_club(app: DriveApp, runtime: Runtime) -> Club:
    """Add the club's people, folders and files to ``runtime``'s drive."""
    for login, (category, documents, _, degree) in PEOPLE.items():
        add_user(runtime, login, f"{login}-password", documents=documents, category=category,
                 root_right="none", degree=degree)
    with runtime.sessions() as session:
        accounts.add_doctype(session, "treasury")
        for slug, field, value in (("member", "excluded_doc_types", ["treasury"]),
                                   ("nodelete", "may_delete", False)):
            setattr(session.query(Category).filter_by(slug=slug).one(), field, value)
        drive = Drive(session, runtime.blobs, SYSTEM, runtime.drive_options)
        club = drive.make_folder(tree.get_root(session), "Club")
        deep = drive.make_folder(club, "Deep")
        drive.make_folder(club, "System")
        for folder, name in ((club, "Degree3.txt"), (club, "Budget.txt"), (deep, "Inner.txt"),
                             (club, "Public.txt"), (club, "Fixed.txt")):
            put_file(drive, folder, name, SECRET if folder is deep or "3" in name or "Bud" in name
                 else b"public")
        node_admin.set_folder_rights(session, club, {
            c: r for c, _, r, _ in PEOPLE.values() if r is not None})
        for path, values in (
            ("/Club/Degree3.txt", {"min_degree": 3}),
            ("/Club/Budget.txt", {"doc_type": "treasury"}),
            ("/Club/Deep", {"min_degree": 3}),
            ("/Club/Fixed.txt", {"protected": True}),
            ("/Club/System", {"protected": True}),
        ):
            node_admin.node_set(session, node_admin.resolve_path(session, path), **values)
        session.commit()
    return Club(app, runtime)


def _request(dav: Dav, method: str, path: str) -> tuple[int, dict[str, str], bytes]:
    headers: dict[str, str] = {}
    body = ""
    if method in ("COPY", "MOVE"):
        headers["Destination"] = "http://localhost/dav/Club/Elsewhere.txt"
    elif method == "PROPFIND":
        headers["Depth"] = "0"
    elif method == "PROPPATCH":
        body = PROPPATCH
    elif method == "LOCK":
        body = LOCKINFO
    elif method == "UNLOCK":
        headers["Lock-Token"] = "<opaquelocktoken:00000000-0000-0000-0000-000000000000>"
    elif method == "PUT":
        body = "overwritten"
    target = f"{path}/Sub" if method == "MKCOL" else path
    response = dav(method, "/dav" + target, body, **headers)
    kept = {k: v for k, v in response.headers.items() if k not in ("Date", "Content-Length")}
    return response.status_code, kept, response.data.replace(target.encode(), b"<path>")


METHODS = ("OPTIONS", "GET", "HEAD", "PROPFIND", "PROPPATCH", "DELETE", "MKCOL", "COPY", "MOVE",
           "LOCK", "UNLOCK", "PUT")

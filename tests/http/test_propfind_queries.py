"""PROPFIND Depth 1 costs a fixed number of SQL statements per batch, never per entry.

The answer is streamed a batch of ``BATCH_SIZE`` members at a time (finding 4
of issue 9: memory must stay flat), so the statement count is constant for
any folder that fits in one batch, and grows by a fixed number per further
batch: 2,000 entries cost at most ``PER_BATCH`` statements per extra batch.
"""

from __future__ import annotations

from werkzeug.test import Client

from davdrive import node_admin, tree
from davdrive.models import Blob, Category, DeadProperty, Node
from davdrive.runtime import Runtime
from davdrive.server import DriveApp
from provider.propfind import BATCH_SIZE
from tests.conftest import Dav, add_user, basic, recorded_statements

# A batch costs one page query, and for its members one query each for dead
# properties, locks and owners; an empty last page may add one query.
PER_BATCH = 5

ALLPROP = '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>'
NAMED = (
    '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop>'
    "<D:resourcetype/><D:getcontentlength/><D:getlastmodified/><D:getetag/>"
    "<D:lockdiscovery/></D:prop></D:propfind>"
)


def make_folder(runtime: Runtime, name: str, entries: int) -> None:
    """A folder with ``entries`` files (each with a dead property) and one subfolder."""
    blob = runtime.blobs.put_bytes(b"hello")
    with runtime.sessions() as session:
        if session.get(Blob, blob.sha256) is None:
            session.add(Blob(sha256=blob.sha256, sha1=blob.sha1, md5=blob.md5, size=blob.size))
        root = tree.get_root(session)
        folder = Node(parent_id=root.id, name=name, name_key=name, kind="folder", mtime=0)
        session.add(folder)
        session.flush()
        files = [
            Node(
                parent_id=folder.id, name=f"f{i}.txt", name_key=f"f{i}.txt", kind="file",
                blob_sha256=blob.sha256, size=5, content_type="text/plain", mtime=0,
            )
            for i in range(entries - 1)
        ]
        files.append(Node(parent_id=folder.id, name="sub", name_key="sub", kind="folder", mtime=0))
        session.add_all(files)
        session.flush()
        session.add_all(
            DeadProperty(node_id=f.id, name="{urn:x}tag", value='<tag xmlns="urn:x">v</tag>')
            for f in files
        )
        session.commit()


def propfind_statements(app: DriveApp, dav: Dav, path: str, body: str) -> tuple[int, bytes]:
    dav("PROPFIND", path, body, Depth="1")  # warm-up: credential cache, connections
    with recorded_statements(app.runtime.engine) as statements:
        response = dav("PROPFIND", path, body, Depth="1")
    assert response.status_code == 207
    return len(statements), response.data


def assert_small_and_large_cost_the_same(app: DriveApp, dav: Dav, body: str, limit: int) -> bytes:
    """PROPFIND Depth 1 of /small (10 entries) and /medium (400, still one batch): the
    same statement count; /large (2,000 entries, four batches): at most ``PER_BATCH``
    more per extra batch, not one more per entry."""
    assert BATCH_SIZE > 400
    small, small_body = propfind_statements(app, dav, "/dav/small/", body)
    medium, medium_body = propfind_statements(app, dav, "/dav/medium/", body)
    large, large_body = propfind_statements(app, dav, "/dav/large/", body)
    assert small_body.count(b"<D:href>") == 11
    assert medium_body.count(b"<D:href>") == 401
    assert large_body.count(b"<D:href>") == 2001
    assert small == medium, f"{small} statements for 10 entries, {medium} for 400"
    extra_batches = -(-2000 // BATCH_SIZE) - 1
    assert large <= small + PER_BATCH * extra_batches, (
        f"{small} statements for 10 entries, {large} for 2,000"
    )
    assert small <= limit, f"PROPFIND Depth 1 ran {small} statements"
    print(f"PROPFIND Depth 1 as {dav.auth[:12]}...: {small} statements")
    return large_body


def test_propfind_depth1_statement_count_is_independent_of_folder_size(
    app: DriveApp, runtime: Runtime, dav: Dav
) -> None:
    make_folder(runtime, "small", 10)
    make_folder(runtime, "medium", 400)
    make_folder(runtime, "large", 2000)
    for body in (ALLPROP, NAMED):
        assert_small_and_large_cost_the_same(app, dav, body, limit=12)


def test_propfind_allprop_lists_dead_properties_of_members(
    app: DriveApp, runtime: Runtime, dav: Dav
) -> None:
    make_folder(runtime, "tagged", 3)
    body = dav("PROPFIND", "/dav/tagged/", ALLPROP, Depth="1").data
    # two files carry the dead property, plus the subfolder: three values
    assert body.count(b"urn:x") >= 3


DRIVE_PROPS = (
    '<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:d="urn:davdrive"><D:prop>'
    "<D:getetag/><d:owner/><d:degree/><d:visibility/><d:effective-access/>"
    "</D:prop></D:propfind>"
)


def test_statement_count_stays_fixed_for_a_member_under_the_rights_engine(
    app: DriveApp, runtime: Runtime
) -> None:
    """A member with excluded doc types, no right on the root (a pass-through
    folder for them) and a right on the listed folders: pass-through, rights and
    owners cost a fixed number of statements too."""
    add_user(runtime, "member", "secret", documents="read", category="member", root_right="none")
    make_folder(runtime, "small", 10)
    make_folder(runtime, "medium", 400)
    make_folder(runtime, "large", 2000)
    with runtime.sessions() as session:
        member = session.query(Category).filter_by(slug="member").one()
        member.excluded_doc_types = ["treasury"]
        for name in ("small", "medium", "large"):
            folder = node_admin.resolve_path(session, f"/{name}")
            node_admin.set_folder_rights(session, folder, {"member": "read"})
        session.commit()
    dav = Dav(Client(app), basic("member", "secret"))
    for body in (ALLPROP, NAMED, DRIVE_PROPS):
        large_body = assert_small_and_large_cost_the_same(app, dav, body, limit=14)
    root, root_body = propfind_statements(app, dav, "/dav/", NAMED)
    assert root_body.count(b"<D:href>") == 4  # the root (a way through) and the three folders
    assert b">see read</" in large_body  # effective-access of a read-only member


"""ownCloud/Nextcloud extensions that rclone's owncloud and nextcloud vendors rely on:
oc:checksums (SHA1 MD5 SHA256, as Nextcloud writes them), oc:id, oc:fileid,
oc:permissions, oc:size; OC-Checksum verified on PUT; ``X-OC-MTime: accepted``;
PATCH with X-Recalculate-Hash; PROPPATCH of DAV:lastmodified and oc:checksums."""

from __future__ import annotations

import hashlib

import pytest
from lxml import etree

from davdrive.runtime import Runtime
from davdrive.server import DriveApp
from tests.conftest import Dav, add_user, basic

OC_PROPFIND = (
    '<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns">'
    "<d:prop><d:getlastmodified/><oc:checksums/><oc:id/><oc:fileid/><oc:permissions/>"
    "<oc:size/></d:prop></d:propfind>"
)
CONTENT = b"hello world\n"
OC = "http://owncloud.org/ns"


def sha1(data: bytes) -> str:
    return hashlib.sha1(data, usedforsecurity=False).hexdigest()


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def prop(body: bytes, local: str) -> str | None:
    """Text of the first oc: element ``local`` in a multistatus body."""
    found = etree.fromstring(body).find(f".//{{{OC}}}{local}")
    return None if found is None else found.text


def oc_props(dav: Dav, path: str) -> bytes:
    response = dav("PROPFIND", path, OC_PROPFIND, Depth="0")
    assert response.status_code == 207, response.data
    return response.data


@pytest.fixture
def reader(app: DriveApp, runtime: Runtime, dav: Dav) -> Dav:
    add_user(runtime, "reader", "secret", documents="read")
    return Dav(dav.client, basic("reader", "secret"))


def test_oc_checksums_give_sha1_md5_sha256_of_the_content(dav: Dav) -> None:
    """PROPFIND oc:checksums: <oc:checksum>SHA1:.. MD5:.. SHA256:..</oc:checksum>."""
    assert dav("PUT", "/dav/a.txt", CONTENT).status_code == 201
    body = oc_props(dav, "/dav/a.txt")
    expected = (
        f"SHA1:{sha1(CONTENT)} MD5:{md5(CONTENT)} "
        f"SHA256:{hashlib.sha256(CONTENT).hexdigest()}"
    )
    assert prop(body, "checksum") == expected
    assert prop(body, "size") == str(len(CONTENT))


def test_oc_checksums_in_a_listing_are_per_file(dav: Dav) -> None:
    """Depth 1: each file carries the hashes of its own content; the folder has none."""
    assert dav("MKCOL", "/dav/d/").status_code == 201
    for name, data in (("one", b"1"), ("two", b"22")):
        assert dav("PUT", f"/dav/d/{name}", data).status_code == 201
    response = dav("PROPFIND", "/dav/d/", OC_PROPFIND, Depth="1")
    found = [e.text for e in etree.fromstring(response.data).iter(f"{{{OC}}}checksum")]
    assert found == [
        f"SHA1:{sha1(d)} MD5:{md5(d)} "
        f"SHA256:{hashlib.sha256(d).hexdigest()}"
        for d in (b"1", b"22")
    ]


def test_oc_ids_and_permissions_follow_the_rights(dav: Dav, reader: Dav) -> None:
    """oc:fileid is a number, oc:id starts with it padded to 8 digits; a writer gets
    G D NV W on a file and G D NV CK on a folder, a reader only G."""
    assert dav("MKCOL", "/dav/f/").status_code == 201
    assert dav("PUT", "/dav/f/x.txt", b"x").status_code == 201
    body = oc_props(dav, "/dav/f/x.txt")
    fileid = prop(body, "fileid")
    assert fileid is not None and fileid.isdigit()
    assert prop(body, "id") == f"{int(fileid):08d}davdrive"
    assert prop(body, "permissions") == "GDNVW"
    assert prop(oc_props(dav, "/dav/f/"), "permissions") == "GDNVCK"
    assert prop(oc_props(reader, "/dav/f/x.txt"), "permissions") == "G"
    assert prop(oc_props(reader, "/dav/f/"), "permissions") == "G"


def test_put_with_a_matching_oc_checksum_is_stored(dav: Dav) -> None:
    """PUT with OC-Checksum SHA1 (or MD5) of the body: 201."""
    assert dav("PUT", "/dav/a", CONTENT, OC_Checksum=f"SHA1:{sha1(CONTENT)}").status_code == 201
    upper = md5(CONTENT).upper()
    assert dav("PUT", "/dav/b", CONTENT, OC_Checksum=f"MD5:{upper}").status_code == 201


def test_put_with_a_wrong_oc_checksum_is_400_and_stores_nothing(dav: Dav) -> None:
    """PUT with a wrong SHA1 in OC-Checksum: 400; a new name stays absent, an existing
    file keeps its content and no version is added."""
    wrong = "SHA1:" + sha1(b"other")
    response = dav("PUT", "/dav/new.txt", CONTENT, OC_Checksum=wrong)
    assert response.status_code == 400 and b"OC-Checksum" in response.data
    assert dav("GET", "/dav/new.txt").status_code == 404
    assert dav("PUT", "/dav/old.txt", b"before").status_code == 201
    assert dav("PUT", "/dav/old.txt", CONTENT, OC_Checksum=wrong).status_code == 400
    assert dav("GET", "/dav/old.txt").data == b"before"
    malformed = dav("PUT", "/dav/m.txt", CONTENT, OC_Checksum="SHA1:xyz")
    assert malformed.status_code == 400
    assert dav("GET", "/dav/m.txt").status_code == 404


def test_x_oc_mtime_is_answered_accepted(dav: Dav) -> None:
    """PUT with X-OC-Mtime answers X-OC-MTime: accepted and keeps that time; without it
    the header is absent."""
    response = dav("PUT", "/dav/t.txt", b"t", X_OC_Mtime="1700000000")
    assert response.status_code == 201
    assert response.headers.get("X-OC-MTime") == "accepted"
    body = oc_props(dav, "/dav/t.txt")
    assert "Tue, 14 Nov 2023 22:13:20 GMT" in body.decode()
    assert "X-OC-MTime" not in dav("PUT", "/dav/u.txt", b"u").headers


def test_patch_recalculate_hash_answers_the_hash(dav: Dav, reader: Dav) -> None:
    """PATCH with X-Recalculate-Hash: sha1 / md5: 200 with OC-Checksum, also for a reader;
    a folder or an unknown algorithm is 400, a missing file 404."""
    assert dav("PUT", "/dav/h.txt", CONTENT).status_code == 201
    for client in (dav, reader):
        response = client("PATCH", "/dav/h.txt", X_Recalculate_Hash="sha1")
        assert response.status_code == 200
        assert response.headers["OC-Checksum"] == "SHA1:" + sha1(CONTENT)
    by_md5 = dav("PATCH", "/dav/files/tester/h.txt", X_Recalculate_Hash="md5")
    assert by_md5.headers["OC-Checksum"] == "MD5:" + md5(CONTENT)
    assert dav("PATCH", "/dav/h.txt", X_Recalculate_Hash="crc32").status_code == 400
    assert dav("PATCH", "/dav/", X_Recalculate_Hash="sha1").status_code == 400
    assert dav("PATCH", "/dav/missing", X_Recalculate_Hash="sha1").status_code == 404


PROPSET = (
    '<?xml version="1.0" encoding="utf-8" ?><D:propertyupdate xmlns:D="DAV:" '
    'xmlns:oc="http://owncloud.org/ns"><D:set><D:prop>'
    '<lastmodified xmlns="DAV:">{mtime}</lastmodified>'
    "<oc:checksums><oc:checksum>{checksum}</oc:checksum></oc:checksums>"
    "</D:prop></D:set></D:propertyupdate>"
)


def test_proppatch_lastmodified_sets_the_time_and_checksums_must_match(dav: Dav) -> None:
    """rclone's SetModTime PROPPATCH: DAV:lastmodified sets the mtime when oc:checksums
    matches the content (207 with 200s); a mismatching checksum fails the whole request."""
    assert dav("PUT", "/dav/p.txt", CONTENT).status_code == 201
    good = "SHA1:" + sha1(CONTENT)
    response = dav("PROPPATCH", "/dav/p.txt", PROPSET.format(mtime=1600000000, checksum=good))
    assert response.status_code == 207
    assert "200 OK" in response.data.decode() and "HTTP/1.1 4" not in response.data.decode()
    assert "Sun, 13 Sep 2020 12:26:40 GMT" in oc_props(dav, "/dav/p.txt").decode()
    bad = "SHA1:" + sha1(b"x")
    response = dav("PROPPATCH", "/dav/p.txt", PROPSET.format(mtime=1500000000, checksum=bad))
    assert "409" in response.data.decode()
    assert "Sun, 13 Sep 2020 12:26:40 GMT" in oc_props(dav, "/dav/p.txt").decode()


RCLONE_LISTING = (
    '<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns">'
    "<d:prop><d:displayname/><d:getlastmodified/><d:getcontentlength/><d:resourcetype/>"
    "<oc:checksums/><oc:permissions/></d:prop></d:propfind>"
)


def test_a_listing_with_oc_properties_costs_the_same_for_5_or_30_files(
    dav: Dav, app: DriveApp
) -> None:
    """rclone lists with oc:checksums and oc:permissions: hashes come in one query per
    batch, permissions from rules already loaded, so 30 files cost what 5 cost."""
    from tests.conftest import recorded_statements

    assert dav("MKCOL", "/dav/d/").status_code == 201
    counts = []
    for start, end in ((0, 5), (5, 30)):
        for i in range(start, end):
            assert dav("PUT", f"/dav/d/f{i}", b"x%d" % i).status_code == 201
        with recorded_statements(app.runtime.engine) as seen:
            response = dav("PROPFIND", "/dav/d/", RCLONE_LISTING, Depth="1")
        assert len(list(etree.fromstring(response.data).iter(f"{{{OC}}}checksum"))) == end
        counts.append(len(seen))
    assert counts[0] == counts[1], counts

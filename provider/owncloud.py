"""ownCloud/Nextcloud extensions: oc: properties, OC-Checksum and hash recalculation.

Properties in ``http://owncloud.org/ns`` (returned when asked for by name):

- ``oc:checksums``: ``<oc:checksum>SHA1:hex MD5:hex SHA256:hex</oc:checksum>``,
  as Nextcloud writes them (files only; sha1 and md5 computed from the stored
  content when first shown, ``davdrive.checksums``);
- ``oc:id`` (file id padded to 8 digits + instance id), ``oc:fileid`` (the node id);
- ``oc:permissions``: Nextcloud's letters from the actions the user may take
  (G read, W write a file, C/K create in a folder, D delete, N/V rename/move);
- ``oc:size``: a file's size (folders: 404, the drive does not sum trees).

``OC-Checksum: SHA1:hex`` (or MD5, SHA256) on a PUT is compared with the bytes
received; a mismatch is a 400 and nothing is stored. ``PATCH`` with
``X-Recalculate-Hash: sha1|md5|sha256`` on a readable file answers 200 with the
hash (header ``OC-Checksum`` and body), as Nextcloud does.
"""

from __future__ import annotations

from typing import Any

from lxml import etree
from wsgidav import util
from wsgidav.dav_error import DAVError

from davdrive.models import Blob, Node
from davdrive.policy import Action
from provider.context import context_of
from provider.errors import dav_errors, plain_response

OC = "http://owncloud.org/ns"
OC_PROPS = tuple(f"{{{OC}}}{name}" for name in ("checksums", "id", "fileid", "permissions", "size"))
INSTANCE_ID = "davdrive"
ALGORITHMS = {"SHA1": "sha1", "MD5": "md5", "SHA256": "sha256"}
HEX_LENGTH = {"sha1": 40, "md5": 32, "sha256": 64}


def checksums_text(blob: Blob) -> str:
    return f"SHA1:{blob.sha1} MD5:{blob.md5} SHA256:{blob.sha256}"


def permissions(node: Node, allowed: list[Action]) -> str:
    """Nextcloud's permission letters for what the actor may do with ``node``."""
    letters = ""
    if Action.READ in allowed:
        letters += "G"
    if Action.DELETE in allowed:
        letters += "D"
    if Action.MOVE in allowed:
        letters += "NV"
    if node.is_folder:
        if Action.CREATE in allowed:
            letters += "CK"
    elif Action.MODIFY in allowed:
        letters += "W"
    return letters


def oc_property(name: str, node: Node, blob: Blob | None, allowed: list[Action]) -> Any:
    """The element for one oc: property; DAVError 404 where it has no value."""
    local = name.split("}", 1)[1]
    element = etree.Element(name)
    if local == "checksums":
        if node.is_folder or blob is None or blob.sha1 is None or blob.md5 is None:
            raise DAVError(404)  # no checksums of damaged content (davdrive.checksums)
        etree.SubElement(element, f"{{{OC}}}checksum").text = checksums_text(blob)
    elif local == "id":
        element.text = f"{node.id:08d}{INSTANCE_ID}"
    elif local == "fileid":
        element.text = str(node.id)
    elif local == "permissions":
        element.text = permissions(node, allowed)
    elif local == "size":
        if node.is_folder:
            raise DAVError(404)
        element.text = str(node.size)
    else:
        raise DAVError(404)
    return element


def parse_oc_checksum(environ: dict[str, Any]) -> tuple[str, str] | None:
    """(algorithm, lowercase hex) from ``OC-Checksum``, or None when absent.

    Several ``ALGO:hex`` words may be sent; the first known one is used. A known
    algorithm with a malformed value is a 400 (before the body is read).
    """
    raw = environ.get("HTTP_OC_CHECKSUM")
    if raw is None or not raw.strip():
        return None
    for word in raw.split():
        algo, _, value = word.partition(":")
        key = ALGORITHMS.get(algo.upper())
        if key is None:
            continue
        value = value.lower()
        if len(value) != HEX_LENGTH[key] or any(c not in "0123456789abcdef" for c in value):
            raise DAVError(400, f"Invalid OC-Checksum header: {algo} wants {HEX_LENGTH[key]} "
                                "hexadecimal digits.")
        return key, value
    return None


def check_oc_checksum(expected: tuple[str, str] | None, digests: dict[str, str]) -> None:
    if expected is not None and digests[expected[0]] != expected[1]:
        raise DAVError(
            400,
            f"The content does not match the OC-Checksum header ({expected[0].upper()}); "
            "nothing was stored.",
        )


def recalculate_hash(
    provider: Any, path: str, environ: dict[str, Any], start_response: Any
) -> Any:
    """PATCH with X-Recalculate-Hash on ``path`` (below the mount): 200 with ``ALGO:hex``
    for a file the actor may read. WsgiDAV has no PATCH, so this runs before it."""
    try:
        return _recalculate(provider, path, environ, start_response)
    except DAVError as exc:
        status = util.get_http_status_string(exc.value)
        text = exc.context_info if isinstance(exc.context_info, str) else ""
        return plain_response(start_response, status, f"{status}\n{text}".strip())


def _recalculate(provider: Any, path: str, environ: dict[str, Any], start_response: Any) -> Any:
    algo = environ.get("HTTP_X_RECALCULATE_HASH", "").strip().upper()
    key = ALGORITHMS.get(algo)
    if key is None:
        return plain_response(
            start_response, "400 Bad Request",
            "400 Bad Request\nX-Recalculate-Hash must be sha1, md5 or sha256.",
        )
    environ.setdefault("wsgidav.provider", provider)
    with dav_errors():
        res = provider.get_resource_inst(path, environ)
    node = getattr(res, "node", None)
    if node is None:
        return plain_response(start_response, "404 Not Found", "404 Not Found")
    if node.is_folder:
        return plain_response(
            start_response, "400 Bad Request", "400 Bad Request\nA folder has no hash."
        )
    drive = context_of(environ).drive
    with dav_errors():
        drive.require(Action.READ, node)
    blob = drive.blob_info(node)
    if blob is None or getattr(blob, key) is None:  # None: damaged (davdrive.checksums)
        return plain_response(start_response, "404 Not Found", "404 Not Found")
    checksum = f"{algo}:{getattr(blob, key)}"
    return plain_response(start_response, "200 OK", checksum, [("OC-Checksum", checksum)])


LASTMODIFIED = "{DAV:}lastmodified"
OC_WRITABLE = (LASTMODIFIED, f"{{{OC}}}checksums")


def oc_proppatch(drive: Any, node: Node, name: str, value: Any, dry_run: bool) -> None:
    """PROPPATCH as ownCloud clients send it after an upload (rclone's SetModTime).

    ``DAV:lastmodified`` (Unix seconds) sets the modification time; ``oc:checksums``
    is computed by the drive, so it is accepted only when every known hash in it
    matches the content (409 otherwise) and changes nothing.
    """
    drive.require(Action.MODIFY, node)
    text = "" if value is None else " ".join("".join(value.itertext()).split())
    if name == LASTMODIFIED:
        if not (text.isascii() and text.isdigit() and int(text) <= 253402300799):
            raise DAVError(400, "DAV:lastmodified is Unix seconds.")
        if not dry_run:
            drive.set_mtime(node, float(text))
        return
    blob = None if node.is_folder else drive.blob_info(node)
    for word in text.split():
        algo, _, hexvalue = word.partition(":")
        key = ALGORITHMS.get(algo.upper())
        if key is None:
            continue
        if blob is None or getattr(blob, key) != hexvalue.lower():
            raise DAVError(409, f"The {algo.upper()} checksum does not match the content.")

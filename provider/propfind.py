"""Streaming PROPFIND for drive items, Depth 0 and 1: memory stays flat.

WsgiDAV's ``do_PROPFIND`` builds the resources of every member and one XML
tree of all responses, then serialises it at once (400 MB for a folder of
50,000 entries). ``streaming_propfind`` answers the same requests with the
same bytes: it asks each resource for its properties exactly as WsgiDAV does
(``get_properties`` + ``util.add_property_response``), but a batch of members
at a time (``FolderResource.member_batches``: keyset pages, dead properties,
locks and owners loaded per batch), serialises the batch and yields it, so
cheroot sends the answer chunked.

Anything else goes to WsgiDAV's handler unchanged: the back-office branch,
missing or hidden paths (the usual 404), Depth infinity, and bodies WsgiDAV
would refuse or that are not a ``propfind`` (its own 400).

WsgiDAVApp logs an error and forces ``Connection: close`` when a response has
no Content-Length; the streamed answer carries a placeholder that
``StreamedResponses``, wired directly around WsgiDAVApp, removes.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from typing import Any

from lxml import etree
from wsgidav import util, xml_tools
from wsgidav.dav_error import DAVError
from wsgidav.dav_provider import _DAVResource

from provider.resources import FileResource, FolderResource

BATCH_SIZE = 500
STREAMED = "davdrive.streamed_propfind"
PLACEHOLDER_LENGTH = "streamed"
_HEAD = b"<?xml version='1.0' encoding='UTF-8'?>\n"
_OPEN = b'<D:multistatus xmlns:D="DAV:">'
_CLOSE = b"</D:multistatus>"


def streaming_propfind(
    provider: Any, environ: dict[str, Any], start_response: Any, default_handler: Any
) -> Iterable[bytes]:
    """Answer a PROPFIND Depth 0/1 on a drive item as a stream, else defer to WsgiDAV."""
    depth = environ.get("HTTP_DEPTH", "infinity")
    evaluate_if_headers = getattr(
        getattr(default_handler, "__self__", None), "_evaluate_if_headers", None
    )
    if depth not in ("0", "1") or evaluate_if_headers is None:
        return wsgidav_propfind(default_handler, environ, start_response)
    res = provider.get_resource_inst(environ["PATH_INFO"], environ)
    if not isinstance(res, FolderResource | FileResource) or res.node is None:
        return wsgidav_propfind(default_handler, environ, start_response)
    evaluate_if_headers(res, environ)
    request = _parse_request(environ)
    if request is None:
        return wsgidav_propfind(default_handler, environ, start_response)
    mode, names = request
    start_response(
        "207 Multi-Status",
        [
            ("Content-Type", "application/xml; charset=utf-8"),
            ("Date", util.get_rfc1123_time()),
            ("Content-Length", PLACEHOLDER_LENGTH),
        ],
    )
    environ[STREAMED] = True
    return _stream(res, depth, mode, names)


def wsgidav_propfind(
    default_handler: Any, environ: dict[str, Any], start_response: Any
) -> Iterable[bytes]:
    """WsgiDAV's PROPFIND, with RFC 4918's ``<D:propname/>`` translated to the
    ``<D:name/>`` WsgiDAV 4.4 looks for (it answered empty property lists)."""
    length = environ.get("CONTENT_LENGTH", "").strip()
    if length.isdigit() and int(length) > 0:
        body = environ["wsgi.input"].read(int(length))
        try:
            root = etree.fromstring(body, parser=_SAFE_PARSER)
        except etree.XMLSyntaxError:
            root = None
        if root is not None and root.tag == "{DAV:}propfind":
            for node in root:
                if node.tag == "{DAV:}propname":
                    node.tag = "{DAV:}name"
                    body = etree.tostring(root)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
    return default_handler(environ, start_response)  # type: ignore[no-any-return]


def _parse_request(environ: dict[str, Any]) -> tuple[str, list[str] | None] | None:
    """(mode, names) as WsgiDAV reads the body, or None where it would refuse it
    (the body is then left for WsgiDAV to read again)."""
    length = environ.get("CONTENT_LENGTH", "").strip()
    body = environ["wsgi.input"].read(int(length)) if length.isdigit() else b""
    environ["wsgi.input"] = io.BytesIO(body)
    try:
        root = util.parse_xml_body(environ, allow_empty=True)
    except DAVError:
        root = etree.Element("invalid")
    if root is None:
        return "allprop", None  # an empty body asks for all properties
    mode: str | None = None
    names: list[str] = []
    if root.tag == "{DAV:}propfind":
        for node in root:
            if node.tag in ("{DAV:}allprop", "{DAV:}propname"):
                if mode is not None:
                    break
                mode = "allprop" if node.tag == "{DAV:}allprop" else "name"
            elif node.tag == "{DAV:}prop":
                if mode not in (None, "named"):
                    break
                mode = "named"
                names.extend(child.tag for child in node)
        else:
            return (mode, None) if mode in ("allprop", "name") else ("named", names)
    environ["wsgi.input"] = io.BytesIO(body)
    environ.pop("wsgidav.all_input_read", None)
    return None


def _stream(
    res: FolderResource | FileResource, depth: str, mode: str, names: list[str] | None
) -> Iterator[bytes]:
    # The first chunk carries the item's own response: an error computing it still
    # reaches the client as a clean error answer (nothing was sent yet).
    yield _HEAD + _OPEN + _responses([res], mode, names)
    if depth == "1" and isinstance(res, FolderResource):
        for batch in res.member_batches(BATCH_SIZE):
            yield _responses(batch, mode, names)
    yield _CLOSE


def _responses(resources: list[_DAVResource], mode: str, names: list[str] | None) -> bytes:
    """The ``<D:response>`` elements of ``resources``, serialised as WsgiDAV does."""
    multistatus = xml_tools.make_multistatus_el()
    for res in resources:
        props = res.get_properties(mode, name_list=names)
        util.add_property_response(multistatus, res.get_href(), props)
    xml: bytes = etree.tostring(multistatus, encoding="UTF-8", xml_declaration=False)
    if not (xml.startswith(_OPEN) and xml.endswith(_CLOSE)):
        raise RuntimeError("unexpected multistatus serialisation")
    return xml[len(_OPEN):-len(_CLOSE)]


_SAFE_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


class StreamedResponses:
    """Directly around WsgiDAVApp: removes the placeholder Content-Length of a
    streamed PROPFIND, so the server sends it chunked and keeps the connection."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        def _start_response(status: str, headers: list[Any], exc_info: Any = None) -> Any:
            if environ.get(STREAMED):
                headers = [
                    (k, v) for k, v in headers
                    if not (k.lower() == "content-length" and v == PLACEHOLDER_LENGTH)
                ]
            return start_response(status, headers, exc_info)

        return self.app(environ, _start_response)

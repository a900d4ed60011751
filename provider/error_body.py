"""The body of every error answer: a DAV error element with a human sentence.

Shape (SabreDAV's, which rclone and the Nextcloud/ownCloud clients read)::

    <d:error xmlns:d="DAV:" xmlns:s="http://sabredav.org/ns">
      <d:lock-token-submitted>...</d:lock-token-submitted>   (RFC 4918 condition, if any)
      <s:exception>Sabre\\DAV\\Exception\\Locked</s:exception>
      <s:message>A sentence saying what went wrong.</s:message>
    </d:error>

``error_body(status, message, conditions)`` builds it; ``message`` may be a
bare path or empty (WsgiDAV's habit), then a sentence for the status is used.
"""

from __future__ import annotations

from collections.abc import Iterable

from lxml import etree

SABRE_NS = "http://sabredav.org/ns"
_NSMAP = {"d": "DAV:", "s": SABRE_NS}

# Exception names as SabreDAV spells them; clients match some of them.
_EXCEPTION = {
    400: "BadRequest",
    401: "NotAuthenticated",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    411: "LengthRequired",
    412: "PreconditionFailed",
    415: "UnsupportedMediaType",
    416: "RequestedRangeNotSatisfiable",
    423: "Locked",
    501: "NotImplemented",
    503: "ServiceUnavailable",
    507: "InsufficientStorage",
}

_SENTENCE = {
    400: "The request is malformed.",
    401: "Sign in with your login and password.",
    403: "You may not do this here.",
    404: "Nothing was found at this address.",
    405: "This method is not allowed on this item (it may already exist).",
    408: "The request was not received in time.",
    409: "The request conflicts with the drive (is the parent folder missing?).",
    411: "The request must announce its length.",
    412: "A condition of the request failed.",
    413: "The request is too large.",
    415: "This request may not carry a body.",
    416: "The requested range is not in the file.",
    423: "The item is locked.",
    424: "The request failed because a related operation failed.",
    429: "Too many attempts; wait before trying again.",
    431: "The request headers are too large.",
    500: "Internal error; it has been logged.",
    501: "This method is not implemented.",
    502: "The destination is not on this server.",
    503: "The server is busy; try again shortly.",
    507: "There is not enough storage space left for this.",
}


def sentence(code: int, message: str) -> str:
    """``message`` as a sentence: a bare path (or nothing) gets the status's sentence."""
    message = message.strip()
    default = _SENTENCE.get(code, "The request failed.")
    if not message:
        return default
    if message.startswith("/"):  # a bare path, as WsgiDAV gives it
        return f"{default.rstrip('.')}: {message}"
    return message[0].upper() + message[1:]


def error_body(code: int, message: str, conditions: Iterable[etree._Element] = ()) -> bytes:
    root = etree.Element("{DAV:}error", nsmap=_NSMAP)  # type: ignore[arg-type]
    for condition in conditions:
        root.append(condition)
    name = _EXCEPTION.get(code)
    exception = "Sabre\\DAV\\Exception" + (f"\\{name}" if name else "")
    etree.SubElement(root, f"{{{SABRE_NS}}}exception").text = exception
    etree.SubElement(root, f"{{{SABRE_NS}}}message").text = sentence(code, message)
    body: bytes = etree.tostring(root, xml_declaration=True, encoding="utf-8")
    return body + b"\n"

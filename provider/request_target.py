"""cheroot's request attributes for a request line, without cheroot's parser.

``origin_target`` does what cheroot's ``read_request_line`` does after the
strict parse, for the request lines clients send (origin-form target, no
fragment, HTTP/1.0 or 1.1, upper-case method other than OPTIONS and
CONNECT): path unquoted except ``%2F``, query string kept as sent. For any
other line it returns None and cheroot's own code runs.
"""

from __future__ import annotations

import re
import urllib.parse

_CHEROOT_ONLY = frozenset({b"OPTIONS", b"CONNECT"})
QUOTED_SLASH = b"%2F"  # as cheroot: "%2F" stays quoted in the path
QUOTED_SLASH_REGEX = re.compile(rb"(?i)%2F")


def origin_target(
    method: bytes, target: bytes, version: tuple[int, int], server_protocol: str
) -> dict[str, object] | None:
    """cheroot's request attributes for a common request line, else None."""
    if (
        method in _CHEROOT_ONLY
        or method != method.upper()
        or not target.startswith(b"/")
        or target.startswith(b"//")
        or b"#" in target
        or version not in ((1, 0), (1, 1))
    ):
        return None
    path, _, query = target.partition(b"?")
    if b"%" in path:
        try:
            path = QUOTED_SLASH.join(
                urllib.parse.unquote_to_bytes(atom) for atom in QUOTED_SLASH_REGEX.split(path)
            )
        except ValueError:
            return None
    major, minor = min(version, (int(server_protocol[5]), int(server_protocol[7])))
    return {
        "uri": target,
        "method": method,
        "authority": b"",
        "path": path,
        "qs": query,
        "request_protocol": b"HTTP/%d.%d" % version,
        "response_protocol": f"HTTP/{major}.{minor}",
    }

"""Windows' file-time properties, mapped onto the node's times.

The Mini-Redirector writes ``Win32CreationTime`` and ``Win32LastModifiedTime``
(namespace ``urn:schemas-microsoft-com:``) by PROPPATCH after each upload, and
Explorer shows them. Kept as dead properties they would go stale as soon as
another client changes the file, so they are read from and written to the
node's creation date and modification time (RFC 1123 dates, as Windows
writes them). ``Win32LastAccessTime`` and ``Win32FileAttributes`` stay
ordinary dead properties.
"""

from __future__ import annotations

import datetime as dt
import email.utils
from typing import Any

from lxml import etree

from davdrive.errors import BadRequest
from davdrive.models import Node

MS = "{urn:schemas-microsoft-com:}"
MODIFIED = MS + "Win32LastModifiedTime"
CREATED = MS + "Win32CreationTime"
TIME_PROPS = (MODIFIED, CREATED)


def value_element(name: str, node: Node) -> etree._Element:
    """The property ``name`` (one of ``TIME_PROPS``) of ``node``."""
    if name == MODIFIED:
        stamp = node.mtime
    else:
        created = node.created_at
        if created.tzinfo is None:
            created = created.replace(tzinfo=dt.UTC)
        stamp = created.timestamp()
    element = etree.Element(name)
    element.text = email.utils.formatdate(stamp, usegmt=True)
    return element


def parse(name: str, value: Any) -> float:
    """Unix seconds from a PROPPATCH value; ``BadRequest`` unless an RFC 1123 date."""
    text = "" if value is None else "".join(value.itertext()).strip()
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        when = None
    if when is None:
        local = name.split("}", 1)[1]
        raise BadRequest(f"{local} must be a date such as 'Tue, 05 Mar 2024 10:20:30 GMT'.")
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()

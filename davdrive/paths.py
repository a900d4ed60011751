"""Pure path and name rules: normalise, split and validate.

No I/O. Paths given here are already percent-decoded (the WSGI server does
that); anything that still looks like an encoding trick or escapes the tree
is refused with ``BadRequest``.
"""

from __future__ import annotations

import re
import unicodedata

from davdrive.errors import BadRequest

MAX_NAME_BYTES = 255
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_WINDOWS_FORBIDDEN = re.compile(r'[\\:*?"<>|]')
_WINDOWS_RESERVED = frozenset(
    ["CON", "PRN", "AUX", "NUL"]
    + [f"COM{i}" for i in range(1, 10)]
    + [f"LPT{i}" for i in range(1, 10)]
)


def normalize_name(name: str) -> str:
    """NFC form of a name, as stored and compared."""
    return unicodedata.normalize("NFC", name)


def name_key(name: str) -> str:
    """Case- and normalisation-insensitive key: two names clash when keys are equal."""
    return unicodedata.normalize("NFC", normalize_name(name).casefold())


def split_path(path: str) -> list[str]:
    """Split a decoded absolute path into NFC segments.

    Empty segments (``//``, trailing ``/``) are ignored. ``.``, ``..``,
    backslashes and control characters are refused: they have no meaning in
    the drive and only appear in attacks.
    """
    if _CONTROL.search(path):
        raise BadRequest("The path contains control characters.")
    if "\\" in path:
        raise BadRequest("The path contains a backslash.")
    parts = []
    for segment in path.split("/"):
        if segment == "":
            continue
        if segment in (".", ".."):
            raise BadRequest("The path contains '.' or '..' segments.")
        parts.append(normalize_name(segment))
    return parts


def validate_name(name: str, *, windows: bool = True) -> str:
    """Return the NFC name if it may be used for a new item, else raise BadRequest."""
    name = normalize_name(name)
    if not name or name in (".", ".."):
        raise BadRequest("A name may not be empty, '.' or '..'.")
    if "/" in name:
        raise BadRequest("A name may not contain '/'.")
    if _CONTROL.search(name):
        raise BadRequest("A name may not contain control characters.")
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise BadRequest(f"A name may not be longer than {MAX_NAME_BYTES} bytes.")
    if windows:
        if _WINDOWS_FORBIDDEN.search(name):
            raise BadRequest('A name may not contain any of \\ : * ? " < > |.')
        if name.split(".")[0].upper() in _WINDOWS_RESERVED:
            raise BadRequest(f"{name!r} is a reserved name on Windows.")
        if name.endswith((" ", ".")):
            raise BadRequest("A name may not end with a space or a dot.")
    return name


def join(parts: list[str]) -> str:
    """Absolute path of segments, '/' for the root."""
    return "/" + "/".join(parts)


MAX_SAFE_NAME_BYTES = 200  # leaves room for " (NNN)" within MAX_NAME_BYTES


def safe_name(text: str, taken: set[str], fallback: str = "record") -> str:
    """A valid, Windows-safe name for ``text`` whose key is not in ``taken``.

    Forbidden and control characters become ``_``; a reserved Windows name or
    a trailing dot or space gets a ``_``; long names are cut; a clash (case-
    and normalisation-insensitive, see ``name_key``) gets `` (2)``, `` (3)``...
    ``taken`` holds the keys already used; the caller stores the result, so a
    name once given never changes when others are added.
    """
    name = normalize_name(text)
    name = _CONTROL.sub("_", name).replace("/", "_")
    name = _WINDOWS_FORBIDDEN.sub("_", name).strip()
    while len(name.encode("utf-8")) > MAX_SAFE_NAME_BYTES:
        name = name[:-1]
    name = name.rstrip()
    if not name or set(name) <= {"."}:
        name = fallback
    if name.split(".")[0].upper() in _WINDOWS_RESERVED:
        name = "_" + name
    if name.endswith((" ", ".")):
        name += "_"
    candidate, n = name, 1
    while name_key(candidate) in taken:
        n += 1
        candidate = f"{name} ({n})"
    return validate_name(candidate)

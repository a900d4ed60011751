"""Pure path and name rules: normalise, split and validate.

No I/O. Paths given here are already percent-decoded (the WSGI server does
that); anything that still looks like an encoding trick or escapes the tree
is refused with ``BadRequest``.
"""

from __future__ import annotations

import re
import unicodedata

from davdrive import invisible, lookalikes
from davdrive.errors import BadRequest

MAX_NAME_BYTES = 255
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_WINDOWS_FORBIDDEN = re.compile(r'[\\:*?"<>|]')
# Win32 device names: digits 0-9 and the Latin-1 superscripts count for COM/LPT.
_WINDOWS_DEVICES = frozenset(
    ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"]
    + [f"{port}{digit}" for port in ("COM", "LPT") for digit in "0123456789\u00b9\u00b2\u00b3"]
)


def normalize_name(name: str) -> str:
    """NFC form of a name, as stored and compared."""
    return unicodedata.normalize("NFC", name)


def name_key(name: str) -> str:
    """Case- and normalisation-insensitive key: two names clash when keys are equal."""
    if name.isascii():  # NFC leaves ASCII as it is, and casefolds it to lower case
        return name.lower()
    return unicodedata.normalize("NFC", normalize_name(name).casefold())


def reserved_key(name: str) -> str:
    """Key for comparing a new name with reserved names: what the name reads as.

    NFKC, default-ignorable characters removed, lookalikes of ASCII letters
    mapped, case folded (see ``lookalikes.skeleton``). ``name_key`` decides
    which existing item a name resolves to; this key only decides whether a
    new name is too close to a reserved one.
    """
    return lookalikes.skeleton(name)


def is_windows_device_name(name: str) -> bool:
    """True when Windows opens a device instead of a file for ``name``.

    Win32 compares the part before the first dot, without its trailing
    spaces, case-insensitively: ``con``, ``LPT0.txt``, ``COM\u00b2.tar.gz``,
    ``CON .txt`` and ``nul.`` all name a device.
    """
    stem = name.split(".", 1)[0].rstrip(" ")
    return stem.upper() in _WINDOWS_DEVICES


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
    """Return the NFC name if it may be used for a new item, else raise BadRequest.

    Refused everywhere: empty, ``.``, ``..``, ``/``, over MAX_NAME_BYTES, and
    the characters of ``invisible.refused_character`` (controls, bidi
    controls, zero-width and other invisible characters, lone surrogates).
    With ``windows``: ``\\ : * ? " < > |``, device names
    (``is_windows_device_name``) and a trailing dot or space.
    """
    name = normalize_name(name)
    if not name or name in (".", ".."):
        raise BadRequest("A name may not be empty, '.' or '..'.")
    if "/" in name:
        raise BadRequest("A name may not contain '/'.")
    reason = invisible.refused_character(name)
    if reason is not None:
        raise BadRequest(reason)
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise BadRequest(f"A name may not be longer than {MAX_NAME_BYTES} bytes.")
    if windows:
        if _WINDOWS_FORBIDDEN.search(name):
            raise BadRequest('A name may not contain any of \\ : * ? " < > |.')
        if is_windows_device_name(name):
            raise BadRequest(f"{name!r} is a reserved device name on Windows.")
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
    name = invisible.clean(normalize_name(text)).replace("/", "_")
    name = _WINDOWS_FORBIDDEN.sub("_", name).strip()
    while len(name.encode("utf-8")) > MAX_SAFE_NAME_BYTES:
        name = name[:-1]
    name = name.rstrip()
    if not name or set(name) <= {"."}:
        name = fallback
    if is_windows_device_name(name):
        name = "_" + name
    if name.endswith((" ", ".")):
        name += "_"
    candidate, n = name, 1
    while name_key(candidate) in taken:
        n += 1
        candidate = f"{name} ({n})"
    return validate_name(candidate)

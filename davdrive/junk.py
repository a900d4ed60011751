"""Junk files of desktop clients: accepted, never kept.

Finder writes ``._*`` (AppleDouble) and ``.DS_Store`` files next to what it
copies, Explorer ``Thumbs.db`` and ``desktop.ini``. They clutter every other
client's view and sync, so the drive answers as if it stored them and keeps
nothing: they are never created, listed or served. The patterns (shell-style,
case-insensitive) are a setting, ``dav.junk_names``; they apply to files
only, and Office owner files (``~$*``) are ordinary files.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from fnmatch import translate
from typing import Any

DEFAULT_JUNK_NAMES = ("._*", ".DS_Store", "Thumbs.db", "desktop.ini")


class JunkNames:
    """``junk(name)``: True when a file of this name is junk."""

    def __init__(self, patterns: Iterable[str] = DEFAULT_JUNK_NAMES) -> None:
        self.patterns = tuple(p.casefold() for p in patterns)
        self._match, self._lines = _compiled(self.patterns)

    def __call__(self, name: str) -> bool:
        return self._match is not None and self._match(name.casefold()) is not None

    def any_in(self, names: list[str]) -> bool:
        """False only when no name of ``names`` is junk (one search for them all); True
        when one may be (ask each then)."""
        if self._match is None or not names:
            return False
        if self._lines is None:
            return True
        text = "\n".join(names)
        if text.count("\n") != len(names) - 1:
            return True  # a name holds a line break: a line is not a name
        return self._lines(text.casefold()) is not None


def _compiled(patterns: tuple[str, ...]) -> tuple[Callable[..., Any] | None,
                                                   Callable[..., Any] | None]:
    """(match of a name, search of lines) for casefolded patterns. Built once per
    ``JunkNames``; the server builds one per set of options (``DriveOptions.is_junk``)."""
    # One regular expression for all patterns (what ``fnmatchcase`` does for each):
    # a listing asks this for every file.
    joined = "|".join(translate(p) for p in patterns)
    match = re.compile(joined).match if joined else None
    # The same patterns for whole lines (``.`` never crossing a line break), to look
    # at a page of names in one search (``JunkNames.any_in``).
    lines = [_line_pattern(p) for p in patterns]
    if not lines or None in lines:
        return match, None
    return match, re.compile(f"^(?:{'|'.join(lines)})$", re.MULTILINE).search  # type: ignore[arg-type]


def _line_pattern(pattern: str) -> str | None:
    """``translate(pattern)`` as a pattern of one line: without its whole-string
    anchor and with ``.`` not matching a line break (None if ``translate`` writes
    another form). A class such as ``[!a]`` may still match a line break, which can
    only make ``any_in`` answer True."""
    text = translate(pattern)
    if not (text.startswith("(?s:") and text.endswith(")\\Z")):
        return None
    return f"(?:{text[4:-3]})"

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
from collections.abc import Iterable
from fnmatch import translate

DEFAULT_JUNK_NAMES = ("._*", ".DS_Store", "Thumbs.db", "desktop.ini")


class JunkNames:
    """``junk(name)``: True when a file of this name is junk."""

    def __init__(self, patterns: Iterable[str] = DEFAULT_JUNK_NAMES) -> None:
        self.patterns = tuple(p.casefold() for p in patterns)
        # One regular expression for all patterns (what ``fnmatchcase`` does for each):
        # a listing asks this for every file.
        joined = "|".join(translate(p) for p in self.patterns)
        self._match = re.compile(joined).match if joined else None

    def __call__(self, name: str) -> bool:
        return self._match is not None and self._match(name.casefold()) is not None

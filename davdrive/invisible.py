"""Characters a name may not contain because they are invisible or reorder text.

Pure data and predicates, no I/O. ``refused_character`` is the single rule
``paths.validate_name`` applies; ``is_ignorable`` is what ``lookalikes``
removes before comparing a name with a reserved one.

Python's ``unicodedata`` gives the general category but not the
``Default_Ignorable_Code_Point`` property, so the ranges of that property
(Unicode DerivedCoreProperties.txt) that are not format characters are listed
here; format characters (category Cf) come from ``unicodedata``.
"""

from __future__ import annotations

import re
import unicodedata

# Explicit directional formatting (UAX #9): they reorder what a name shows,
# e.g. "invoice\u202efdp.exe" displays as "invoiceexe.pdf".
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f" + "".join(map(chr, range(0x202A, 0x202F)))
    + "".join(map(chr, range(0x2066, 0x206A)))
)

# Format characters that are visible signs (prepended concatenation marks):
# they are allowed in names.
VISIBLE_FORMAT = frozenset(
    "\u0600\u0601\u0602\u0603\u0604\u0605\u06dd\u070f\u0890\u0891\u08e2"
    "\U000110bd\U000110cd"
)

# Default-ignorable code points outside category Cf: combining grapheme
# joiner, Hangul fillers, Khmer inherent vowels, Mongolian free variation
# selectors, variation selectors and the reserved ignorable ranges.
_IGNORABLE_RANGES = (
    (0x034F, 0x034F), (0x115F, 0x1160), (0x17B4, 0x17B5), (0x180B, 0x180F),
    (0x2060, 0x206F), (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF),
)

# Variation selectors pick a glyph of the character before them (emoji,
# ideographs); after anything else they only hide a difference.
_VARIATION_SELECTORS = ((0x180B, 0x180D), (0x180F, 0x180F), (0xFE00, 0xFE0F),
                        (0xE0100, 0xE01EF))


_PRINTABLE_ASCII = re.compile("[\x20-\x7e]*")


def _in(ranges: tuple[tuple[int, int], ...], char: str) -> bool:
    code = ord(char)
    return any(low <= code <= high for low, high in ranges)


def is_noncharacter(char: str) -> bool:
    """U+FDD0..U+FDEF and the last two code points of every plane."""
    code = ord(char)
    return 0xFDD0 <= code <= 0xFDEF or (code & 0xFFFE) == 0xFFFE


def is_ignorable(char: str) -> bool:
    """True for default-ignorable code points (drawn as nothing by default)."""
    if unicodedata.category(char) == "Cf":
        return char not in VISIBLE_FORMAT and not 0xFFF9 <= ord(char) <= 0xFFFB
    return _in(_IGNORABLE_RANGES, char)


def _selects_a_glyph(char: str, previous: str) -> bool:
    """A variation selector right after a symbol or a non-Latin letter (emoji, ideograph)."""
    if not _in(_VARIATION_SELECTORS, char) or not previous:
        return False
    return unicodedata.category(previous) in ("So", "Lo")


def describe(char: str) -> str:
    """``U+202E RIGHT-TO-LEFT OVERRIDE``: how messages name a character."""
    return f"U+{ord(char):04X} {unicodedata.name(char, '')}".rstrip()


def _reason(char: str, previous: str) -> str | None:
    """Why ``char`` (after ``previous``) may not be in a name, or None."""
    category = unicodedata.category(char)
    if category in ("Cc", "Zl", "Zp"):
        return "A name may not contain control characters or line breaks."
    if category == "Cs":
        return "A name may not contain unpaired surrogates (invalid Unicode)."
    if is_noncharacter(char):
        return f"A name may not contain the noncharacter {describe(char)}."
    if char in BIDI_CONTROLS:
        return (
            f"A name may not contain the bidirectional control {describe(char)}: "
            "it can make a name display as another."
        )
    if (category == "Cf" and char not in VISIBLE_FORMAT) or (
        is_ignorable(char) and not _selects_a_glyph(char, previous)
    ):
        return (
            f"A name may not contain the invisible character {describe(char)}: "
            "it can make two different names look the same."
        )
    return None


def refused_character(name: str) -> str | None:
    """Why ``name`` may not be used (naming the first bad character), or None.

    Refused: control characters (C0, DEL, C1), line and paragraph separators,
    lone surrogates, noncharacters, bidirectional controls, and every
    invisible (default-ignorable) character: zero-width space, joiners and
    non-joiner, word joiner, BOM, soft hyphen, tags, Hangul fillers... except
    a variation selector right after a symbol or a non-Latin letter.
    Printable ASCII is never refused (the usual name is checked with one match).
    """
    if _PRINTABLE_ASCII.fullmatch(name):
        return None
    previous = ""
    for char in name:
        reason = _reason(char, previous)
        if reason is not None:
            return reason
        previous = char
    return None


def clean(text: str, replacement: str = "_") -> str:
    """``text`` without refused characters: invisible ones dropped, the others replaced."""
    out: list[str] = []
    for char in text:
        if _reason(char, out[-1] if out else "") is None:
            out.append(char)
        elif unicodedata.category(char) != "Cf" and not is_ignorable(char):
            out.append(replacement)
    return "".join(out)

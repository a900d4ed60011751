"""The lookalike table and the invisible-character rules, checked against Python's
Unicode database (rule: reserved names compare by what they read as; invisible
characters are never part of a new name)."""

from __future__ import annotations

import sys
import unicodedata

import pytest

from davdrive import invisible, lookalikes

SCRIPTS = ("LATIN", "GREEK", "CYRILLIC", "ARMENIAN", "CHEROKEE", "LISU")


def test_every_lookalike_is_a_letter_of_a_listed_script_mapped_to_ascii() -> None:
    assert len(lookalikes.LOOKALIKES) > 150
    for code, target in lookalikes.LOOKALIKES.items():
        char = chr(code)
        assert target.isascii() and target.isalnum() and target == target.lower(), char
        if char.isascii():
            continue  # the same-letter classes: 1 i l | and 0 o
        name = unicodedata.name(char)
        assert name.startswith(SCRIPTS), f"U+{code:04X} {name}"
        assert unicodedata.category(char).startswith("L"), f"U+{code:04X} {name}"


def test_no_ascii_letter_is_mapped_to_another_letter_except_the_i_l_class() -> None:
    for char in "abcdefghjkmnopqrstuvwxyz":
        assert lookalikes.LOOKALIKES.get(ord(char), char) == char
    assert {lookalikes.skeleton(c) for c in "1iIl|"} == {"l"}
    assert lookalikes.skeleton("0") == lookalikes.skeleton("O") == "o"


def test_every_small_capital_reads_as_its_letter() -> None:
    """Generated from unicodedata: LATIN LETTER SMALL CAPITAL X reads as x."""
    found = 0
    for code in range(0x80, 0x10000):
        name = unicodedata.name(chr(code), "")
        if name.startswith("LATIN LETTER SMALL CAPITAL ") and len(name) == 28:
            found += 1
            assert lookalikes.skeleton(chr(code)) == lookalikes.skeleton(name[-1]), name
    assert found >= 20


def test_every_fullwidth_and_mathematical_letter_reads_as_its_letter() -> None:
    for letter in "ABCDEFGHIJKLMNOPQRSTUVWXYZ":
        for name in (f"FULLWIDTH LATIN CAPITAL LETTER {letter}",
                     f"FULLWIDTH LATIN SMALL LETTER {letter}",
                     f"MATHEMATICAL SANS-SERIF BOLD CAPITAL {letter}",
                     f"MATHEMATICAL DOUBLE-STRUCK SMALL {letter}",
                     f"CIRCLED LATIN SMALL LETTER {letter}"):
            assert lookalikes.skeleton(unicodedata.lookup(name)) == lookalikes.skeleton(letter)


def test_every_format_character_of_the_unicode_database_is_refused() -> None:
    """All of category Cf but the visible prepended concatenation marks."""
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        if unicodedata.category(char) != "Cf":
            continue
        reason = invisible.refused_character(f"a{char}b")
        if char in invisible.VISIBLE_FORMAT:
            assert reason is None, f"U+{code:04X}"
        else:
            assert reason is not None, f"U+{code:04X}"


@pytest.mark.parametrize("char", ["\u00ad", "\u034f", "\u115f", "\u1160", "\u17b4", "\u180b",
                                  "\u200b", "\u2065", "\u3164", "\ufe00", "\uffa0", "\ufff0",
                                  "\U0001bca0", "\U000e0000", "\U000e0100", "\U000e0fff"])
def test_default_ignorable_code_points_are_ignorable(char: str) -> None:
    """Samples of Default_Ignorable_Code_Point (DerivedCoreProperties.txt)."""
    assert invisible.is_ignorable(char)
    assert lookalikes.skeleton(f"a{char}b") == "ab"


def test_visible_format_characters_are_not_ignorable() -> None:
    for char in invisible.VISIBLE_FORMAT | {"\ufff9", "a", " ", "\u00e9"}:
        assert not invisible.is_ignorable(char)


def test_characters_are_named_by_code_point_and_unicode_name() -> None:
    assert invisible.describe("\u202e") == "U+202E RIGHT-TO-LEFT OVERRIDE"
    assert invisible.describe("\ufffe") == "U+FFFE"
    assert invisible.describe("\U000e0001") == "U+E0001 LANGUAGE TAG"


def test_printable_ascii_is_never_refused_and_its_neighbours_are() -> None:
    """``refused_character`` answers printable ASCII with one match (issue 12: the
    per-character rules cost a PUT tens of microseconds); the characters each side of
    that range are still judged by the rules."""
    for code in range(0x20, 0x7F):
        char = chr(code)
        assert invisible._reason(char, "a") is None, hex(code)  # the rules agree
        assert invisible.refused_character(f"a{char}b") is None
    for char in ("\x1f", "\x7f", "\x85", "\u200b", "\u202e"):
        assert invisible.refused_character(f"report{char}.pdf") is not None, repr(char)
    assert invisible.refused_character("plain name (2).txt") is None

"""Junk names: one compiled expression answers exactly as shell-style matching does."""

from fnmatch import fnmatchcase

from davdrive.junk import DEFAULT_JUNK_NAMES, JunkNames

NAMES = ("._x", "._", ".DS_Store", ".ds_store", "Thumbs.db", "THUMBS.DB", "desktop.ini",
         "a._x", "x.DS_Store", "Thumbs.db.txt", "~$doc.docx", "report.pdf", "", "ÄÖ.txt",
         ".DS_Store\n")


def test_compiled_patterns_match_as_fnmatch_on_the_casefolded_name() -> None:
    junk = JunkNames()
    for name in NAMES:
        expected = any(fnmatchcase(name.casefold(), p.casefold()) for p in DEFAULT_JUNK_NAMES)
        assert junk(name) is expected, name


def test_custom_and_empty_pattern_lists() -> None:
    assert JunkNames(["*.tmp", "[ab]?.x"])("A1.X")
    assert not JunkNames(["*.tmp"])("file.txt")
    assert not JunkNames([])("._x")


def test_a_page_search_never_misses_a_junk_name() -> None:
    """Rule: a PROPFIND listing never shows a junk file. It asks ``any_in`` once per page
    and each name only when that answers True, so ``any_in`` must answer True whenever
    one name is junk (line breaks, case, classes and stars included), and False for a
    page of ordinary names (else the page search saves nothing)."""
    pattern_lists = [DEFAULT_JUNK_NAMES, ["*a*b", "[!x]y", "a?c", "ß*"], ["*"], []]
    extra = ("a\nb", "q\nab", "\ny", "xy", "a\nc", "SSx", "ßx", "STRASSE", "x\n._y", "b")
    for patterns in pattern_lists:
        junk = JunkNames(patterns)
        for size in (1, 2, 3):
            for start in range(len(NAMES + extra)):
                page = list((NAMES + extra)[start:start + size])
                if any(junk(name) for name in page):
                    assert junk.any_in(page), (patterns, page)
    assert not JunkNames().any_in([f"f{i:05d}.txt" for i in range(2000)])
    assert not JunkNames().any_in(["ordinary", "._x"][:1])
    assert JunkNames().any_in(["ordinary", "THUMBS.db"])
    assert not JunkNames([]).any_in(["._x"])

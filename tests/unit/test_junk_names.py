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

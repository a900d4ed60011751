"""Path rules: no segment can escape the tree; names are NFC and Windows-safe."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from davdrive import paths
from davdrive.errors import BadRequest
from davdrive.paths import join, name_key, split_path, validate_name


@given(st.lists(st.text(min_size=1, max_size=20), max_size=6))
def test_split_path_never_yields_escaping_segments(segments: list[str]) -> None:
    path = "/" + "/".join(segments)
    try:
        parts = split_path(path)
    except BadRequest:
        return
    for part in parts:
        assert part not in ("", ".", "..")
        assert "/" not in part and "\\" not in part
        assert not any(ord(c) < 32 or ord(c) == 127 for c in part)
        assert unicodedata.is_normalized("NFC", part)


@given(st.text(min_size=1, max_size=40))
def test_valid_names_round_trip_through_paths(name: str) -> None:
    try:
        clean = validate_name(name)
    except BadRequest:
        return
    assert split_path(join(["folder", clean])) == ["folder", clean]


@pytest.mark.parametrize(
    "path", ["/a/../b", "/..", "/a/./b", "/a\\b", "/a\x00b", "/a\nb", "/a\x7fb"]
)
def test_escaping_or_control_paths_are_refused(path: str) -> None:
    with pytest.raises(BadRequest):
        split_path(path)


@pytest.mark.parametrize(
    "name",
    ["", ".", "..", "a/b", "a\\b", "a:b", "a*b", "a?b", 'a"b', "a<b", "a>b", "a|b",
     "CON", "con.txt", "LPT1", "trailing.", "trailing ", "x" * 256, "tab\there"],
)
def test_names_windows_cannot_store_are_refused(name: str) -> None:
    with pytest.raises(BadRequest):
        validate_name(name, windows=True)


def test_windows_rules_can_be_switched_off() -> None:
    assert validate_name("a:b", windows=False) == "a:b"
    with pytest.raises(BadRequest):
        validate_name("a/b", windows=False)


def test_names_are_stored_in_nfc_and_compared_case_insensitively() -> None:
    decomposed = "Re\u0301union.txt"  # e + combining acute
    assert validate_name(decomposed) == "R\u00e9union.txt"
    assert name_key(decomposed) == name_key("R\u00c9UNION.TXT")


@given(st.text(max_size=20) | st.text(alphabet=st.characters(max_codepoint=127), max_size=20))
def test_the_key_of_any_name_is_nfc_of_its_case_fold(name: str) -> None:
    """``name_key`` answers ASCII names without Unicode normalisation (issue 12: it
    runs for every path segment of every request); the key stays the rule's."""
    expected = unicodedata.normalize("NFC", unicodedata.normalize("NFC", name).casefold())
    assert name_key(name) == expected


# --- safe names for records -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Dupont / Martin", "Dupont _ Martin"),
        ('a\\b:c*d?e"f<g>h|i', "a_b_c_d_e_f_g_h_i"),
        ("CON", "_CON"),
        ("lpt1.txt", "_lpt1.txt"),
        ("Association...", "Association..._"),
        ("  ", "record"),
        ("..", "record"),
        ("tab\there", "tab_here"),
        ("Café", "Café"),
        ("é" * 150, "é" * 100),
    ],
)
def test_safe_name_makes_any_record_name_a_valid_folder_name(text: str, expected: str) -> None:
    assert paths.safe_name(text, set()) == expected
    assert paths.validate_name(expected) == expected


def test_safe_name_numbers_duplicates_case_insensitively() -> None:
    taken: set[str] = set()
    given = []
    for text in ("Martin", "MARTIN", "martin", "Mar/tin", "Mar\\tin"):
        name = paths.safe_name(text, taken)
        taken.add(paths.name_key(name))
        given.append(name)
    assert given == ["Martin", "MARTIN (2)", "martin (3)", "Mar_tin", "Mar_tin (2)"]


@given(st.text(max_size=300))
def test_safe_name_is_always_valid_and_free(text: str) -> None:
    taken = {paths.name_key("record"), paths.name_key(text)}
    name = paths.safe_name(text, taken)
    assert paths.validate_name(name) == name
    assert paths.name_key(name) not in taken


# --- finding 9: lookalike, invisible and device names ------------------------------------
# Requests of the finding: MKCOL /dav/ｂａｃｋｏｆｆｉｃｅ/, /dav/backoffiсe/ (Cyrillic с) and
# /dav/backoffice%E2%80%8B/ were created beside the read-only branch; U+202E, a lone
# U+200B and a BOM were accepted in names; COM0, LPT0.txt, CONOUT$ and COM².txt passed
# the Windows check.

BACKOFFICE_KEY = paths.reserved_key("backoffice")

# Lookalikes of each letter of "backoffice", written independently of the drive's table:
# fullwidth and mathematical forms by their Unicode names, other scripts by code point.
_SCRIPT_LOOKALIKES = {
    "a": "\u0430\u0410\u03b1\u0391\u0251",  # Cyrillic а А, Greek α Α, Latin alpha
    "b": "\u0412\u0392\u042c\u13f4",  # Cyrillic В, Greek Β, Cyrillic Ь, Cherokee Ᏼ
    "c": "\u0441\u0421\u03f2\u03f9\u1d04",  # Cyrillic с С, Greek lunate sigma, small cap C
    "k": "\u041a\u039a\u13e6",  # Cyrillic К, Greek Κ, Cherokee Ꮶ
    "o": "\u043e\u041e\u03bf\u039f\u0585\u0030",  # Cyrillic о О, Greek ο Ο, Armenian օ, zero
    "f": "\u017f\u03dc\ua798",  # long s, Greek digamma, Latin F with stroke
    "i": "\u0456\u0406\u0131\u03b9\u0399\u0031\u006c\u04cf",  # і І ı ι Ι 1 l ӏ
    "e": "\u0435\u0415\u0395\u13ac",  # Cyrillic е Е, Greek Ε, Cherokee Ꭼ
}


def _letter_forms(letter: str) -> list[str]:
    forms = [letter, letter.upper(), *_SCRIPT_LOOKALIKES[letter]]
    for size in ("SMALL", "CAPITAL"):
        forms.append(unicodedata.lookup(f"FULLWIDTH LATIN {size} LETTER {letter.upper()}"))
        forms.append(unicodedata.lookup(f"MATHEMATICAL BOLD {size} {letter.upper()}"))
        forms.append(unicodedata.lookup(f"MATHEMATICAL MONOSPACE {size} {letter.upper()}"))
    return forms


INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e\u034f\u2061\ufe0f\U000e0020"


@st.composite
def backoffice_lookalikes(draw: st.DrawFn) -> str:
    out = []
    for letter in "backoffice":
        out.append(draw(st.sampled_from(_letter_forms(letter))))
        out.append(draw(st.text(alphabet=INVISIBLE, max_size=2)))
    return "".join(out)


@pytest.mark.parametrize(
    "name",
    ["backoffice", "BACKOFFICE", "BackOffice",
     "\uff42\uff41\uff43\uff4b\uff4f\uff46\uff46\uff49\uff43\uff45",
     "backoffi\u0441e", "backoffice\u200b", "ba\u00adckoffice", "\ufeffbackoffice",
     "\u0412\u0410\u0421\u041a\u041e\uff26\uff26\u0406\u0421\u0415", "backoffice.",
     "back\u2060office", "\u0299\u1d00\u1d04\u1d0b\u1d0f\ua730\ua730\u026a\u1d04\u1d07"],
)
def test_names_that_read_as_backoffice_have_the_reserved_key(name: str) -> None:
    assert paths.reserved_key(name) == BACKOFFICE_KEY, name.encode("unicode_escape")


@given(backoffice_lookalikes())
def test_any_mix_of_backoffice_lookalikes_has_the_reserved_key(name: str) -> None:
    assert paths.reserved_key(name) == BACKOFFICE_KEY, name.encode("unicode_escape")


@pytest.mark.parametrize(
    "name", ["backoffices", "back office", "back-office", "backoffice2", "office", "backup",
             "Backoff", "b\u00e4ckoffice"],
)
def test_names_that_do_not_read_as_backoffice_keep_their_own_key(name: str) -> None:
    assert paths.reserved_key(name) != BACKOFFICE_KEY


def _fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) for c in text)  # U+FF01..U+FF5E mirror ASCII


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
               min_size=1, max_size=12))
def test_reserved_key_ignores_case_fullwidth_and_invisible_characters(name: str) -> None:
    key = paths.reserved_key(name)
    assert paths.reserved_key(name.upper()) == key
    assert paths.reserved_key(_fullwidth(name)) == key
    assert paths.reserved_key("\u200b".join(name) + "\ufeff") == key


BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"


@pytest.mark.parametrize("char", list(BIDI_CONTROLS + ZERO_WIDTH) + [
    "\u00ad", "\u180e", "\u2061", "\u2064", "\ufff9", "\U000e0001", "\U000e0041", "\u3164",
    "\u115f", "\u034f", "\ud800", "\udfff", "\x85", "\x9b", "\u2028", "\u2029", "\ufffe",
    "\ufdd0", "\U0010ffff",
])
@pytest.mark.parametrize("windows", [True, False])
def test_invisible_reordering_and_invalid_characters_are_refused_in_names(
    char: str, windows: bool
) -> None:
    for name in (char, f"report{char}.pdf", f"{char}report.pdf", f"invoice{char}fdp.exe"):
        with pytest.raises(BadRequest, match="may not contain"):
            validate_name(name, windows=windows)


def test_the_refusal_names_the_character() -> None:
    with pytest.raises(BadRequest, match="U\\+202E RIGHT-TO-LEFT OVERRIDE"):
        validate_name("invoice\u202efdp.exe")
    with pytest.raises(BadRequest, match="U\\+200B ZERO WIDTH SPACE"):
        validate_name("\u200b")
    with pytest.raises(BadRequest, match="U\\+FEFF"):
        validate_name("\ufeffnotes.txt")


def test_variation_selectors_are_allowed_after_emoji_and_ideographs_only() -> None:
    assert validate_name("\u2764\ufe0f.txt") == "\u2764\ufe0f.txt"  # red heart, emoji style
    assert validate_name("\u845b\U000e0100.txt") == "\u845b\U000e0100.txt"  # ideograph variant
    for name in ("re\ufe0fport.txt", "report\ufe0f.txt", "\ufe0freport"):
        with pytest.raises(BadRequest, match="invisible"):
            validate_name(name)


@pytest.mark.parametrize("name", [
    "\u0645\u0631\u062d\u0628\u0627.txt",  # Arabic letters: right-to-left script, no control
    "\u05e9\u05dc\u05d5\u05dd.pdf", "\u0600\u0661.txt",  # Hebrew; Arabic number sign (visible)
    "Caf\u00e9 cr\u00e8me.odt", "\u65e5\u672c\u8a9e.docx", "\U0001f600.png",
])
def test_ordinary_names_of_every_script_are_accepted(name: str) -> None:
    assert validate_name(name) == unicodedata.normalize("NFC", name)


@given(st.text(min_size=1, max_size=30))
def test_validate_name_never_accepts_a_bidi_control_or_zero_width_character(name: str) -> None:
    for windows in (True, False):
        try:
            clean = validate_name(name, windows=windows)
        except BadRequest:
            continue
        assert not set(clean) & set(BIDI_CONTROLS + ZERO_WIDTH + "\u00ad")
        assert not any(unicodedata.category(c) in ("Cc", "Cs", "Zl", "Zp") for c in clean)


@given(st.text(alphabet=BIDI_CONTROLS + ZERO_WIDTH, min_size=1, max_size=3),
       st.text(max_size=10), st.text(max_size=10))
def test_validate_name_refuses_any_name_holding_one(bad: str, before: str, after: str) -> None:
    with pytest.raises(BadRequest):
        validate_name(before + bad + after, windows=False)


WINDOWS_DEVICES = (
    ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"]
    + [f"{p}{d}" for p in ("COM", "LPT") for d in "0123456789"]
    + ["COM\u00b9", "COM\u00b2", "COM\u00b3", "LPT\u00b9", "LPT\u00b2", "LPT\u00b3"]
)


@pytest.mark.parametrize("device", WINDOWS_DEVICES)
def test_every_windows_device_name_is_refused_with_any_case_and_extension(device: str) -> None:
    for name in (device, device.lower(), device.title(), f"{device}.txt",
                 f"{device.lower()}.tar.gz", f"{device} .txt", f"{device}  .log"):
        with pytest.raises(BadRequest, match="device name"):
            validate_name(name, windows=True)
        assert paths.is_windows_device_name(name)
    assert validate_name(device, windows=False) == device


@pytest.mark.parametrize("name", ["CONSOLE", "COM10", "LPT", "COM", "NULL.txt", "xCON",
                                  "CON_1.txt", "AUX-notes", " CON", "COM\u2074", "CONERR$"])
def test_names_that_only_resemble_a_device_are_accepted(name: str) -> None:
    assert validate_name(name, windows=True) == name
    assert not paths.is_windows_device_name(name)


@pytest.mark.parametrize("name", ["notes.", "notes ", "notes. ", "CON.", "a.b.."])
def test_names_ending_in_a_dot_or_space_are_refused_under_windows_rules(name: str) -> None:
    with pytest.raises(BadRequest):
        validate_name(name, windows=True)


@pytest.mark.parametrize(("text", "expected"), [
    ("Dupont\u200bMartin", "DupontMartin"),
    ("\u202eevil\u202c", "evil"),
    ("\ufeffMarie", "Marie"),
    ("line\u2028break", "line_break"),
    ("COM\u00b2", "_COM\u00b2"),
    ("CONOUT$.txt", "_CONOUT$.txt"),
    ("\u200b", "record"),
])
def test_safe_name_drops_invisible_characters_and_guards_devices(text: str, expected: str) -> None:
    assert paths.safe_name(text, set()) == expected

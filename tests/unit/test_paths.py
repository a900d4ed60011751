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

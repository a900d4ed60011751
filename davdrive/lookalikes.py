"""A skeleton of a name: what it looks like, for comparing with reserved names.

Pure, no I/O. In the spirit of the confusable skeleton of Unicode TR39
(UTS #39), restricted to what matters here, names that read as an ASCII name:

1. lookalikes mapped (step 3) and NFKC: fullwidth, mathematical, circled, superscript and other
   compatibility forms become their plain letters and digits;
2. default-ignorable characters (zero-width, soft hyphen, BOM...) removed;
3. letters of other scripts that look like an ASCII letter or digit mapped to
   it (``LOOKALIKES``, before and after case folding, so that both
   ``CYRILLIC CAPITAL LETTER VE`` and its small form count as ``b``);
4. case folded; ``1``, ``i``, ``l`` and ``|`` count as one letter, ``0`` as
   ``o``, ``rn`` as ``m`` and ``vv`` as ``w``;
5. surrounding spaces and trailing dots dropped (Windows drops them too).

The result over-approximates on purpose: it only decides whether a *new*
name is too close to a reserved one, never how existing names resolve.
"""

from __future__ import annotations

import unicodedata
from types import MappingProxyType

from davdrive.invisible import is_ignorable

# Lookalikes of ASCII letters and digits in Latin (IPA, small capitals,
# extensions), Greek, Cyrillic, Armenian, Cherokee and Lisu, after UTS #39
# confusables. Keys are the ASCII lookalike, values the code points (hex).
# Compatibility forms (fullwidth, mathematical...) are left to NFKC.
_TABLE = {
    "2": "01A7 A644 A75A",
    "3": "0417 04E0 021C 01B7 A76A A7AB",
    "4": "13CE",
    "5": "01BC",
    "6": "0431 13EE",
    "8": "0222 0223",
    "9": "A76E",
    "a": "0251 03B1 0430 0391 0410 13AA A4EE",
    "b": "0184 042C 13CF 0392 0412 13F4 A4D0 A7B4",
    "c": "1D04 03F2 0441 ABAF 03F9 0421 13DF A4DA",
    "d": "0501 13E7 A4D2 13A0 A4D3",
    "e": "AB32 0435 04BD 0395 0415 13AC A4F0",
    "f": "AB35 A799 017F 1E9D 0584 A798 03DC A4DD",
    "g": "0261 1D83 018D 0581 050C 13C0 13F3 A4D6",
    "h": "04BB 0570 13C2 0397 041D 13BB A4E7",
    "i": "0131 026A 0269 03B9 1FBE 037A 0456 A647 04CF AB75 13A5",
    "j": "03F3 0458 037F 0408 13AB A4D9 A7B2 0237",
    "k": "039A 041A 13E6 A4D7",
    "l": "0196 01C0 0399 0406 04C0 A4F2 13DE A4E1",
    "m": "039C 03FA 041C 13B7 A4DF",
    "n": "0578 057C 039D A4E0",
    "o": "1D0F 1D11 AB3D 03BF 03C3 043E 0585 039F 041E 0555 A4F3",
    "p": "03C1 03F1 0440 03A1 0420 13E2 A4D1",
    "q": "051B 0563 0566 051A",
    "r": "AB47 AB48 1D26 0433 AB81 01A6 13A1 13D2 A4E3",
    "s": "A731 01BD 0455 ABAA 0405 054F 13D5 13DA A4E2",
    "t": "03A4 0422 13A2 A4D4",
    "u": "A79F 1D1C AB4E AB52 028B 03C5 057D 054D A4F4",
    "v": "1D20 03BD 0475 ABA9 0474 13D9 A4E6",
    "w": "026F 1D21 0461 051D 0561 AB83 051C 13B3 13D4 A4EA",
    "x": "0445 A7B3 03A7 0425 A4EB",
    "y": "0263 1D8C 028F 1EFF AB5A 03B3 0443 04AF 03A5 03D2 0423 04AE 13A9 13BD A4EC",
    "z": "1D22 AB93 0396 13C3 A4DC",
}

# Same-letter classes once case is folded: I (capital i) and l look alike.
_CLASSES = {"1": "l", "i": "l", "|": "l", "0": "o"}
_SEQUENCES = (("rn", "m"), ("vv", "w"))


def _build() -> MappingProxyType[int, str]:
    mapping: dict[int, str] = {}
    for target, codes in _TABLE.items():
        for hex_code in codes.split():
            char = chr(int(hex_code, 16))
            mapping[ord(char)] = target
            folded = char.casefold()
            if len(folded) == 1 and not folded.isascii():
                mapping.setdefault(ord(folded), target)
    # Small capitals and dotless letters, by their Unicode names.
    for low, high in ((0x0100, 0x0300), (0x1D00, 0x1D2C), (0xA730, 0xA800)):
        for code in range(low, high):
            _name_rule(mapping, chr(code))
    for char, letter in _CLASSES.items():
        mapping[ord(char)] = letter
    return MappingProxyType(mapping)


def _name_rule(mapping: dict[int, str], char: str) -> None:
    name = unicodedata.name(char, "")
    for prefix in ("LATIN LETTER SMALL CAPITAL ", "LATIN SMALL LETTER DOTLESS "):
        letter = name.removeprefix(prefix)
        if letter != name and len(letter) == 1:
            mapping.setdefault(ord(char), letter.lower())


LOOKALIKES = _build()


def skeleton(name: str) -> str:
    """What ``name`` reads as: equal skeletons mean names a reader can confuse."""
    text = unicodedata.normalize("NFKC", name.translate(LOOKALIKES))
    text = "".join(c for c in text if not is_ignorable(c))
    text = text.translate(LOOKALIKES).casefold().translate(LOOKALIKES)
    text = unicodedata.normalize("NFKC", text).translate(LOOKALIKES)
    for sequence, letter in _SEQUENCES:
        text = text.replace(sequence, letter)
    return text.strip().rstrip(". ").strip()

"""A short description of content that is none of the allowed types, for refusals."""

from __future__ import annotations

import re

from davdrive.filetypes.source import Buffer

MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"GIF8", "a GIF image"),
    (b"MZ", "a Windows program"),
    (b"\x7fELF", "a Linux program"),
    (bytes.fromhex("cffaedfe"), "a macOS program"),
    (bytes.fromhex("cefaedfe"), "a macOS program"),
    (bytes.fromhex("cafebabe"), "a macOS program or Java class"),
    (b"#!", "a script"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"PK\x05\x06", "an empty ZIP archive"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"{\\rtf", "an RTF document"),
)
MARKUP = (
    (re.compile(rb"<svg[\s>]", re.IGNORECASE), "an SVG image (markup that may hold scripts)"),
    (re.compile(rb"<(!doctype\s+html|html|head|body|script)[\s>]", re.IGNORECASE),
     "an HTML page"),
    (re.compile(rb"<\?xml", re.IGNORECASE), "an XML document"),
)


def describe(buf: Buffer) -> str:
    """What ``buf`` looks like: "an HTML page", "a PNG image", ... or "unknown data"."""
    head = bytes(buf[:1024])
    if not head:
        return "empty"
    for magic, what in MAGIC:
        if head.startswith(magic):
            return what
    for pattern, what in MARKUP:
        if pattern.search(head):
            return what
    return "unknown data"

"""Attachment types are decided on the content (seed 000): JPEG, PDF, and Word,
Excel, PowerPoint in their old binary (OLE2) and OOXML forms; everything else,
and anything in disguise, is refused with a clear message.

The sample files are real small files built here with the standard library.
"""

from __future__ import annotations

import contextlib
import io
import struct
import time
import zipfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from davdrive import demo_files, filetypes
from davdrive.filetypes import FileTypeRefused, check_attachment

FREE = 0xFFFFFFFF
END = 0xFFFFFFFE
FATSECT = 0xFFFFFFFD


def _dir_entry(name: str, kind: int, child: int = FREE) -> bytes:
    encoded = (name + "\0").encode("utf-16-le")
    entry = bytearray(128)
    entry[: len(encoded)] = encoded
    struct.pack_into("<HB", entry, 64, len(encoded), kind)
    struct.pack_into("<III", entry, 68, FREE, FREE, child)
    struct.pack_into("<I", entry, 116, END)
    return bytes(entry)


def compound_file(stream_name: str, *, loop: bool = False) -> bytes:
    """A minimal OLE2 compound file (512-byte sectors) holding one named stream."""
    header = bytearray(512)
    header[:8] = filetypes.OLE_MAGIC
    struct.pack_into("<HHHHH", header, 24, 0x3E, 3, 0xFFFE, 9, 6)
    struct.pack_into("<I", header, 44, 1)  # one FAT sector
    struct.pack_into("<I", header, 48, 1)  # the directory starts at sector 1
    struct.pack_into("<IIIII", header, 56, 4096, END, 0, END, 0)
    difat = [0] + [FREE] * 108
    struct.pack_into("<109I", header, 76, *difat)
    fat = [FATSECT, 1 if loop else END, END] + [FREE] * 125
    root = _dir_entry("Root Entry", 5, child=1)  # the stream is the root's child
    directory = (root + _dir_entry(stream_name, 2)).ljust(512, b"\0")
    content = b"payload".ljust(512, b"\0")
    return bytes(header) + struct.pack("<128I", *fat) + directory + content


def ooxml(main_part: str, content_type: str = "document.main+xml") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            f'content-types"><Override PartName="/{main_part}" ContentType="{content_type}"/>'
            "</Types>",
        )
        archive.writestr("_rels/.rels", "<Relationships/>")
        archive.writestr(main_part, "<document/>")
    return buffer.getvalue()


SAMPLES = {
    "photo.jpg": (demo_files.JPEG_1X1, "image/jpeg"),
    "minutes.pdf": (demo_files.pdf_with_text("Minutes"), "application/pdf"),
    "letter.doc": (compound_file("WordDocument"), "application/msword"),
    "budget.xls": (compound_file("Workbook"), "application/vnd.ms-excel"),
    "slides.ppt": (compound_file("PowerPoint Document"), "application/vnd.ms-powerpoint"),
    "letter.docx": (ooxml("word/document.xml"), filetypes.ALL_TYPES["docx"].content_type),
    "budget.xlsx": (ooxml("xl/workbook.xml"), filetypes.ALL_TYPES["xlsx"].content_type),
    "slides.pptx": (ooxml("ppt/presentation.xml"), filetypes.ALL_TYPES["pptx"].content_type),
}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_each_allowed_type_is_accepted_with_its_content_type(name: str) -> None:
    data, content_type = SAMPLES[name]
    assert check_attachment(io.BytesIO(data), name).content_type == content_type
    assert check_attachment(io.BytesIO(data), name.upper()).content_type == content_type


HTML = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"
DISGUISED = {
    "invoice.pdf": HTML,
    "photo.jpg": b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
    "report.docx": HTML,
    "setup.doc": b"MZ\x90\x00\x03" + bytes(200),
    "tool.xlsx": b"\x7fELF\x02\x01\x01" + bytes(200),
    "run.pdf": b"#!/bin/sh\nrm -rf /\n",
    "empty.pdf": b"",
    "archive.docx": (lambda: (lambda b: (zipfile.ZipFile(b, "w").close(), b.getvalue())[1])(
        io.BytesIO()))(),
    "macros.docm.docx": ooxml("word/document.xml",
                              "application/vnd.ms-word.document.macroEnabled.main+xml"),
    "other.doc": compound_file("SomethingElse"),
    "looping.doc": compound_file("WordDocument", loop=True)[:1024],
    "truncated.pdf": b"%PDF-1.4\n1 0 obj<<>>endobj\n",  # no %%EOF: cut short
}


@pytest.mark.parametrize("name", sorted(DISGUISED))
def test_disguised_or_unknown_content_is_refused_with_a_clear_message(name: str) -> None:
    with pytest.raises(FileTypeRefused) as refused:
        check_attachment(io.BytesIO(DISGUISED[name]), name)
    message = str(refused.value)
    assert repr(name) in message and "Allowed:" in message


def test_the_extension_must_match_the_content() -> None:
    pdf = demo_files.pdf_with_text("x")
    with pytest.raises(FileTypeRefused) as refused:
        check_attachment(io.BytesIO(pdf), "report.docx")
    assert ".pdf" in str(refused.value)
    with pytest.raises(FileTypeRefused):
        check_attachment(io.BytesIO(pdf), "report")


def test_a_compound_file_whose_fat_loops_is_refused_quickly() -> None:
    looping = bytearray(compound_file("Other", loop=True))
    start = time.monotonic()
    with pytest.raises(FileTypeRefused):
        check_attachment(io.BytesIO(bytes(looping)), "loop.doc")
    assert time.monotonic() - start < 1


def test_a_zip_bomb_declaration_is_refused() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", b"\0" * (filetypes.MAX_ZIP_UNCOMPRESSED + 1))
    with pytest.raises(FileTypeRefused):
        check_attachment(io.BytesIO(buffer.getvalue()), "bomb.docx")


def test_the_allowed_set_is_configurable() -> None:
    pdf = io.BytesIO(demo_files.pdf_with_text("x"))
    with pytest.raises(FileTypeRefused) as refused:
        check_attachment(pdf, "a.pdf", frozenset({"jpeg"}))
    assert "PDF document" in str(refused.value) and "JPEG image" in str(refused.value)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2048), st.sampled_from(sorted(SAMPLES)))
def test_random_bytes_only_ever_raise_the_refusal(data: bytes, name: str) -> None:
    with contextlib.suppress(FileTypeRefused):
        check_attachment(io.BytesIO(data), name)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([filetypes.OLE_MAGIC, b"PK\x03\x04", b"%PDF-", b"\xff\xd8\xff"]),
       st.binary(max_size=4096), st.sampled_from(sorted(SAMPLES)))
def test_random_bytes_behind_a_real_magic_only_raise_the_refusal(
    magic: bytes, data: bytes, name: str
) -> None:
    with contextlib.suppress(FileTypeRefused):
        check_attachment(io.BytesIO(magic + data), name)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_corrupted_real_samples_only_raise_the_refusal(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(SAMPLES)))
    sample = bytearray(SAMPLES[name][0])
    for _ in range(data.draw(st.integers(1, 20))):
        sample[data.draw(st.integers(0, len(sample) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(sample)))
    with contextlib.suppress(FileTypeRefused):
        check_attachment(io.BytesIO(bytes(sample[:cut])), name)

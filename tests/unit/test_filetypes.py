"""More checks of ``davdrive.filetypes`` beyond ``test_attachment_types.py``.

These cover what that file does not: compound files with 4096-byte sectors, the
``Book`` stream, directory and FAT sectors outside the file, a path as input,
PNG and other refused content, ZIP entry counts, stray macros and templates,
a PDF marker out of place, embedded and orphan compound-file entries, the
DIFAT chain, and refusals that say what the content is.

The compound files are built here by a small writer (``compound_file``) that
can place the directory anywhere and write DIFAT sectors for large files.
"""

from __future__ import annotations

import io
import struct
import time
import zipfile
from pathlib import Path

import pytest

from davdrive import demo_files, filetypes
from davdrive.filetypes import FileTypeRefused, check_attachment

FREE = 0xFFFFFFFF
END = 0xFFFFFFFE
FATSECT = 0xFFFFFFFD
DIFSECT = 0xFFFFFFFC
STORAGE, STREAM, ROOT = 1, 2, 5
WORD_DOCX = filetypes.ALL_TYPES["docx"].content_type


def dir_entry(name: str, kind: int, *, left: int = FREE, right: int = FREE,
              child: int = FREE) -> bytes:
    """One 128-byte directory entry (no data: start END, size 0)."""
    encoded = (name + "\0").encode("utf-16-le")
    entry = bytearray(128)
    entry[: len(encoded)] = encoded
    struct.pack_into("<HBB", entry, 64, len(encoded), kind, 1)
    struct.pack_into("<III", entry, 68, left, right, child)
    struct.pack_into("<I", entry, 116, END)
    return bytes(entry)


def one_stream(name: str) -> list[bytes]:
    """A root entry whose only child is the stream ``name``."""
    return [dir_entry("Root Entry", ROOT, child=1), dir_entry(name, STREAM)]


def _fat_layout(data_sectors: int, sector: int) -> tuple[int, int]:
    """How many FAT and DIFAT sectors a file with ``data_sectors`` needs."""
    fat_count = 1
    while True:
        per_difat = sector // 4 - 1
        difat_count = max(0, -(-(fat_count - 109) // per_difat))
        if fat_count * (sector // 4) >= data_sectors + fat_count + difat_count:
            return fat_count, difat_count
        fat_count += 1


def compound_file(entries: list[bytes], *, shift: int = 9, padding: int = 0,
                  dir_start: int | None = None) -> bytes:
    """A compound file: ``padding`` filler sectors, the directory, the FAT, any DIFAT.

    ``dir_start`` overrides the directory's first sector in the header (to
    point it outside the file, say).
    """
    sector = 1 << shift
    dir_count = max(1, -(-len(entries) * 128 // sector))
    data_sectors = padding + dir_count
    fat_count, difat_count = _fat_layout(data_sectors, sector)
    fat = [FREE] * (fat_count * sector // 4)
    for run_start, run_length in ((0, padding), (padding, dir_count)):
        for i in range(run_start, run_start + run_length):
            fat[i] = i + 1 if i + 1 < run_start + run_length else END
    fat_sectors = list(range(data_sectors, data_sectors + fat_count))
    difat_sectors = list(range(data_sectors + fat_count,
                               data_sectors + fat_count + difat_count))
    for s in fat_sectors:
        fat[s] = FATSECT
    for s in difat_sectors:
        fat[s] = DIFSECT
    header = bytearray(512)
    header[:8] = filetypes.OLE_MAGIC
    struct.pack_into("<HHHHH", header, 24, 0x3E, 3 if shift == 9 else 4, 0xFFFE, shift, 6)
    struct.pack_into("<I", header, 40, dir_count if shift == 12 else 0)
    struct.pack_into("<II", header, 44, fat_count, padding if dir_start is None else dir_start)
    struct.pack_into("<IIIII", header, 56, 4096, END, 0,
                     difat_sectors[0] if difat_sectors else END, difat_count)
    in_header = fat_sectors[:109]
    struct.pack_into("<109I", header, 76, *(in_header + [FREE] * (109 - len(in_header))))
    out = bytearray(bytes(header).ljust(sector, b"\0"))
    out += bytes(padding * sector)
    out += b"".join(entries).ljust(dir_count * sector, b"\0")
    out += struct.pack(f"<{len(fat)}I", *fat)
    per_difat = sector // 4 - 1
    rest = fat_sectors[109:]
    for i in range(difat_count):
        chunk = rest[i * per_difat:(i + 1) * per_difat]
        following = difat_sectors[i + 1] if i + 1 < difat_count else END
        out += struct.pack(f"<{sector // 4}I",
                           *chunk, *([FREE] * (per_difat - len(chunk))), following)
    return bytes(out)


def zip_of(parts: dict[str, bytes | str]) -> bytes:
    """A ZIP holding ``parts`` (name -> content), built in memory."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in parts.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def content_types(main_part: str, content_type: str) -> str:
    """A ``[Content_Types].xml`` declaring ``main_part`` with ``content_type``."""
    return ('<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/'
            f'2006/content-types"><Override PartName="/{main_part}" '
            f'ContentType="{content_type}"/></Types>')


def refusal(data: bytes, name: str, allowed: frozenset[str] = filetypes.DEFAULT_ALLOWED
            ) -> str:
    """The message of the refusal of ``data`` named ``name`` (fails if accepted)."""
    with pytest.raises(FileTypeRefused) as refused:
        check_attachment(io.BytesIO(data), name, allowed)
    return str(refused.value)


# --- accepted ------------------------------------------------------------------------


@pytest.mark.parametrize(("stream", "name", "key"), [
    ("WordDocument", "letter.doc", "doc"),
    ("Workbook", "budget.xls", "xls"),
    ("Book", "old-budget.xls", "xls"),
    ("PowerPoint Document", "slides.ppt", "ppt"),
])
@pytest.mark.parametrize("shift", [9, 12])
def test_compound_files_with_512_and_4096_byte_sectors_are_recognised(
    stream: str, name: str, key: str, shift: int
) -> None:
    data = compound_file(one_stream(stream), shift=shift)
    found = check_attachment(io.BytesIO(data), name)
    assert found is filetypes.ALL_TYPES[key]


def test_the_directory_may_span_several_sectors_and_follow_other_sectors() -> None:
    filler = [dir_entry(f"Stream{i}", STREAM) for i in range(1, 9)]
    entries = [dir_entry("Root Entry", ROOT, child=9), *filler, dir_entry("Workbook", STREAM)]
    data = compound_file(entries, padding=3)
    assert check_attachment(io.BytesIO(data), "budget.xls").key == "xls"


def test_a_path_is_accepted_as_well_as_a_file_object(tmp_path: Path) -> None:
    path = tmp_path / "minutes.pdf"
    path.write_bytes(demo_files.pdf_with_text("Minutes"))
    assert check_attachment(path, path.name).content_type == "application/pdf"


def test_sniff_reports_the_content_whatever_the_name() -> None:
    found = filetypes.sniff(io.BytesIO(demo_files.JPEG_1X1))
    assert found is not None and found.key == "jpeg"
    assert filetypes.sniff(io.BytesIO(b"<html></html>")) is None


def test_the_default_allows_exactly_the_eight_known_types() -> None:
    eight = {"jpeg", "pdf", "doc", "xls", "ppt", "docx", "xlsx", "pptx"}
    assert eight == filetypes.DEFAULT_ALLOWED
    assert set(filetypes.ALL_TYPES) == filetypes.DEFAULT_ALLOWED


# --- refused -------------------------------------------------------------------------

PNG_1X1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
HTML = b"<!doctype html><html><body><script>alert(1)</script></body></html>"
MACH_O = bytes.fromhex("cffaedfe07000001") + bytes(200)

REFUSED = {
    "photo.jpg": HTML,
    "picture.png": PNG_1X1,
    "picture.jpg": PNG_1X1,
    "tool.ppt": MACH_O,
    "script.pdf": b"#!/usr/bin/env python3\nimport os\n",
    "ole-without-office-stream.xls": compound_file(one_stream("\x05SummaryInformation")),
    "vba-without-macro-type.docx": zip_of({
        "[Content_Types].xml": content_types("word/document.xml", WORD_DOCX),
        "word/document.xml": "<document/>",
        "word/vbaProject.bin": b"\0" * 64,
    }),
    "no-content-types.docx": zip_of({"word/document.xml": "<document/>"}),
    "self-extracting.docx": b"MZ" + bytes(62) + zip_of({
        "[Content_Types].xml": content_types("word/document.xml", WORD_DOCX),
        "word/document.xml": "<document/>",
    }),
    "late-marker.pdf": b"\n" + demo_files.pdf_with_text("x"),
    "no-end.pdf": demo_files.pdf_with_text("x") + b"%" * 2048,
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_other_content_is_refused_naming_the_file_and_the_allowed_types(name: str) -> None:
    message = refusal(REFUSED[name], name)
    assert repr(name) in message
    for label in ("JPEG image", "PDF document", "Word document", "Excel workbook",
                  "PowerPoint presentation"):
        assert label in message


def test_a_template_is_refused_under_its_own_extension() -> None:
    template = zip_of({
        "[Content_Types].xml": content_types(
            "word/document.xml", "application/vnd.openxmlformats-officedocument."
            "wordprocessingml.template.main+xml"),
        "word/document.xml": "<document/>",
    })
    assert "'form.dotx'" in refusal(template, "form.dotx")


def test_a_zip_with_too_many_entries_is_refused() -> None:
    parts: dict[str, bytes | str] = {
        "[Content_Types].xml": content_types("word/document.xml", WORD_DOCX),
        "word/document.xml": "<document/>",
    }
    parts.update({f"word/media/{i}.bin": b"" for i in range(filetypes.MAX_ZIP_ENTRIES)})
    refusal(zip_of(parts), "crowded.docx")


def test_a_directory_sector_outside_the_file_is_refused_quickly() -> None:
    data = compound_file(one_stream("WordDocument"), dir_start=0x00FFFFFF)
    start = time.monotonic()
    refusal(data, "letter.doc")
    assert time.monotonic() - start < 1


def test_a_fat_sector_outside_the_file_is_refused() -> None:
    data = bytearray(compound_file(one_stream("WordDocument")))
    struct.pack_into("<I", data, 76, 0x7FFFFFFF)
    refusal(bytes(data), "letter.doc")


def test_a_directory_chain_looping_on_itself_is_refused_quickly() -> None:
    data = bytearray(compound_file(one_stream("Other"), padding=1))
    fat_offset = 512 * (1 + 2)  # header, one filler sector, one directory sector
    struct.pack_into("<I", data, fat_offset + 4 * 1, 1)  # directory sector 1 -> 1
    start = time.monotonic()
    refusal(bytes(data), "letter.doc")
    assert time.monotonic() - start < 1


@pytest.mark.parametrize(("storage", "stream", "name"), [
    ("Macros", "WordDocument", "letter.doc"),
    ("_VBA_PROJECT_CUR", "Workbook", "budget.xls"),
])
def test_a_compound_file_with_a_vba_macro_storage_is_refused(
    storage: str, stream: str, name: str
) -> None:
    entries = [dir_entry("Root Entry", ROOT, child=1), dir_entry(storage, STORAGE, right=2),
               dir_entry(stream, STREAM)]
    clean = check_attachment(io.BytesIO(compound_file(one_stream(stream))), name)
    assert clean.key == Path(name).suffix[1:]
    message = refusal(compound_file(entries), name)
    assert "VBA macros" in message and storage in message


def test_a_word_file_embedding_a_packaged_file_is_refused() -> None:
    """An Ole10Native object carries any file (a program, say) inside the document."""
    entries = [dir_entry("Root Entry", ROOT, child=1),
               dir_entry("WordDocument", STREAM, right=2),
               dir_entry("ObjectPool", STORAGE, child=3),
               dir_entry("_1234567890", STORAGE, child=4),
               dir_entry("\x01Ole10Native", STREAM)]
    message = refusal(compound_file(entries), "letter.doc")
    assert "embeds a packaged file" in message
    entries[4] = dir_entry("\x01CompObj", STREAM)
    assert check_attachment(io.BytesIO(compound_file(entries)), "letter.doc").key == "doc"


def test_the_extension_advice_names_the_right_extension() -> None:
    data = compound_file(one_stream("Workbook"))
    message = refusal(data, "budget")
    assert "'budget'" in message and ".xls" in message
    assert ".xls" in refusal(data, "budget.pdf")


def test_a_type_left_out_of_the_allowed_set_is_named_in_the_refusal() -> None:
    message = refusal(demo_files.JPEG_1X1, "photo.jpg", frozenset({"pdf"}))
    assert "JPEG image" in message and "PDF document" in message


# --- compound file structure and refusal wording (once known gaps) ------------------


def test_an_excel_file_embedding_a_word_object_is_still_an_excel_file() -> None:
    entries = [
        dir_entry("Root Entry", ROOT, child=3),
        dir_entry("MBD00000001", STORAGE, child=2),
        dir_entry("WordDocument", STREAM),
        dir_entry("Workbook", STREAM, left=1),
    ]
    assert check_attachment(io.BytesIO(compound_file(entries)), "budget.xls").key == "xls"


def test_a_storage_or_an_orphan_entry_named_worddocument_is_not_a_word_file() -> None:
    storage = compound_file([dir_entry("Root Entry", ROOT, child=1),
                             dir_entry("WordDocument", STORAGE)])
    orphan = compound_file([dir_entry("Root Entry", ROOT), dir_entry("WordDocument", STREAM)])
    refusal(storage, "letter.doc")
    refusal(orphan, "letter.doc")


def test_a_large_compound_file_whose_directory_needs_the_difat_is_recognised() -> None:
    data = compound_file(one_stream("WordDocument"), padding=109 * 128 + 10)
    assert check_attachment(io.BytesIO(data), "large.doc").key == "doc"


def test_the_refusal_says_what_the_content_is() -> None:
    assert "HTML" in refusal(HTML, "photo.jpg")

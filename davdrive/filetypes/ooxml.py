"""OOXML (.docx, .xlsx, .pptx): a ZIP package checked part by part.

On top of ``zipscan`` (names, real sizes, nested archives): the package has a
``[Content_Types].xml`` and exactly one main part (``word/document.xml``,
``xl/workbook.xml`` or ``ppt/presentation.xml``); no content type is
macro-enabled or declares VBA, Excel 4 macro sheets or ActiveX; no part is
named like a VBA project (compared on the normalised name, so case, trailing
spaces, backslashes and folders do not hide it); every relationship targets
a part inside the package, except hyperlinks to http, https and mailto
addresses (which open only when clicked). The XML is parsed with defusedxml.
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from typing import BinaryIO
from xml.etree.ElementTree import Element

import defusedxml
import defusedxml.ElementTree as SafeTree

from davdrive.filetypes import zipscan
from davdrive.filetypes.kinds import Unsafe

MAIN_PARTS = {"word/document.xml": ("docx", "a Word document"),
              "xl/workbook.xml": ("xlsx", "an Excel workbook"),
              "ppt/presentation.xml": ("pptx", "a PowerPoint presentation")}
CONTENT_TYPES = "[content_types].xml"
MACRO_TYPES = ("macroenabled", "vbaproject", "vbadata", "macrosheet", "activex")
MACRO_NAMES = ("vbaproject", "vbadata")
LINK_SCHEMES = ("http://", "https://", "mailto:")
WHAT = "an Office document"


def _xml(name: str, data: bytes) -> Iterator[Element]:
    """The elements of the part ``name``, streamed (each is cleared once seen)."""
    try:
        for _event, element in SafeTree.iterparse(io.BytesIO(data), ("end",)):
            yield element
            element.clear()
    except (ElementTree.ParseError, defusedxml.DefusedXmlException, ValueError):
        raise Unsafe(WHAT, f"its part {name!r} is not plain, well-formed XML") from None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _keep(key: str) -> bool:
    return key == CONTENT_TYPES or key.endswith(".rels")


def _refuse_macro_types(types: Iterator[Element]) -> None:
    for element in types:
        if _local(element.tag) not in ("Default", "Override"):
            continue
        content_type = element.get("ContentType", "")
        if any(marker in content_type.casefold() for marker in MACRO_TYPES):
            part = element.get("PartName") or "*." + element.get("Extension", "")
            raise Unsafe(WHAT, f"it holds macros or ActiveX controls ({part}: {content_type})")


def _refuse_external(name: str, rels: Iterator[Element]) -> None:
    for element in rels:
        if _local(element.tag) != "Relationship":
            continue
        if element.get("TargetMode", "").strip().casefold() != "external":
            continue
        kind = element.get("Type", "").rsplit("/", 1)[-1]
        target = element.get("Target", "").strip()
        if kind == "hyperlink" and target.casefold().startswith(LINK_SCHEMES):
            continue
        raise Unsafe(WHAT, f"it loads {kind or 'something'} from outside the file "
                     f"({target[:100]!r} in {name!r})")


def _inspect(name: str, key: str, data: bytes) -> None:
    if key == CONTENT_TYPES:
        _refuse_macro_types(_xml(name, data))
    else:
        _refuse_external(name, _xml(name, data))


def check(stream: BinaryIO) -> str:
    """``"docx"``, ``"xlsx"`` or ``"pptx"`` for a safe OOXML package, else raises."""
    infos = zipscan.entries(stream)
    keys = {zipscan.normal_name(i.filename): i.filename for i in infos}
    if CONTENT_TYPES not in keys:
        raise Unsafe("a ZIP archive that is not an Office document")
    main = [MAIN_PARTS[k] for k in keys if k in MAIN_PARTS]
    if len(main) != 1:
        raise Unsafe("a ZIP archive that is not a Word, Excel or PowerPoint document")
    kind, what = main[0]
    try:
        for key, name in keys.items():
            if key.rsplit("/", 1)[-1].startswith(MACRO_NAMES):
                raise Unsafe(WHAT, f"it holds VBA macros ({name!r})")
        zipscan.scan(stream, infos, _keep, lambda key, data: _inspect(keys[key], key, data))
    except Unsafe as refused:
        raise Unsafe(what, refused.reason) from None
    return kind

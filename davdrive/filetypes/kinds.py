"""The attachment types davdrive knows, and the refusal a format check raises."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FileType:
    key: str
    label: str
    content_type: str
    extensions: tuple[str, ...]


_OOXML = "application/vnd.openxmlformats-officedocument."
ALL_TYPES: dict[str, FileType] = {
    t.key: t
    for t in (
        FileType("jpeg", "JPEG image", "image/jpeg", (".jpg", ".jpeg", ".jpe")),
        FileType("pdf", "PDF document", "application/pdf", (".pdf",)),
        FileType("doc", "Word document", "application/msword", (".doc",)),
        FileType("xls", "Excel workbook", "application/vnd.ms-excel", (".xls",)),
        FileType("ppt", "PowerPoint presentation", "application/vnd.ms-powerpoint", (".ppt",)),
        FileType("docx", "Word document", _OOXML + "wordprocessingml.document", (".docx",)),
        FileType("xlsx", "Excel workbook", _OOXML + "spreadsheetml.sheet", (".xlsx",)),
        FileType("pptx", "PowerPoint presentation", _OOXML + "presentationml.presentation",
                 (".pptx",)),
    )
}
DEFAULT_ALLOWED: frozenset[str] = frozenset(ALL_TYPES)


class Unsafe(Exception):
    """Content refused by a format check.

    ``what`` says what the content is ("a PDF document", "a ZIP archive"),
    ``reason`` why it is refused ("it holds JavaScript (/JS)"), or is empty
    when the content is simply not one of the known types.
    """

    def __init__(self, what: str, reason: str = "") -> None:
        super().__init__(f"{what}: {reason}" if reason else what)
        self.what = what
        self.reason = reason

"""WsgiDAV resources of the read-only back-office branch (DESIGN 3 rule 10).

Folders and attachments come from ``davdrive.backoffice.Backoffice``; every
hook that would change something answers 403 with a message saying that the
branch is read-only and where attachments are added instead.
"""

from __future__ import annotations

from typing import Any, BinaryIO, NoReturn

from wsgidav.dav_error import DAVError
from wsgidav.dav_provider import DAVCollection, DAVNonCollection, _DAVResource

from davdrive.backoffice import BRANCH, Entry
from provider.context import context_of
from provider.errors import quoted_etag
from provider.nextcloud_layout import layout_href

READ_ONLY = (
    "The backoffice branch is read-only over WebDAV: attachments are added in the "
    "admin view or with 'davdrive record attach'."
)


def refuse() -> NoReturn:
    raise DAVError(403, READ_ONLY)


def dav_path(entry: Entry) -> str:
    return "/" + "/".join((BRANCH, *entry.parts))


class _ReadOnly(_DAVResource):
    entry: Entry

    def get_display_name(self) -> str:
        return self.entry.name

    def get_href(self) -> str:
        return layout_href(self.environ, super().get_href(), self.provider.share_path)

    def get_creation_date(self) -> float | None:
        """The attachment's or record's creation; the branch and kind folders, which
        have neither, carry the drive's own creation date (never none, never 1970)."""
        stamp = self.entry.attachment or self.entry.record
        if stamp is not None:
            return stamp.created_at.timestamp()
        root = context_of(self.environ).drive.node_at([])
        return root.created_at.timestamp() if root is not None else None

    def get_last_modified(self) -> float | None:
        return self.get_creation_date()

    def prevent_locking(self) -> bool:
        if self.environ.get("REQUEST_METHOD") == "LOCK":
            refuse()
        return True

    def get_property_value(self, name: str) -> Any:
        """As WsgiDAV's, but no RFC 4331 quota here: nothing can be stored in this branch
        (WsgiDAV alone answers those names with an empty value under 200)."""
        if name in ("{DAV:}quota-available-bytes", "{DAV:}quota-used-bytes"):
            raise DAVError(404)
        return super().get_property_value(name)

    def set_property_value(self, name: str, value: Any, *, dry_run: bool = False) -> Any:
        refuse()

    def set_last_modified(self, dest_path: str, time_stamp: Any, *, dry_run: bool) -> bool:
        refuse()

    def handle_delete(self) -> bool:
        refuse()

    def handle_move(self, dest_path: str) -> bool:
        refuse()

    def handle_copy(self, dest_path: str, *, depth_infinity: bool) -> bool:
        refuse()

    def support_recursive_move(self, dest_path: str) -> bool:
        return True

    def delete(self) -> None:
        refuse()


class BranchFolder(_ReadOnly, DAVCollection):
    """The branch, a kind folder or a record folder."""

    def __init__(self, path: str, environ: dict[str, Any], entry: Entry) -> None:
        super().__init__(path, environ)
        self.entry = entry

    def get_member_names(self) -> list[str]:
        return [child.name for child in self._children()]

    def _children(self) -> list[Entry]:
        return context_of(self.environ).backoffice.children(self.entry)

    def get_member_list(self) -> list[_DAVResource]:
        return [resource_for(dav_path(child), self.environ, child) for child in self._children()]

    def get_member(self, name: str) -> _DAVResource | None:
        return self.provider.get_resource_inst(f"{self.path.rstrip('/')}/{name}", self.environ)

    def create_empty_resource(self, name: str) -> NoReturn:
        refuse()

    def create_collection(self, name: str) -> NoReturn:
        refuse()

    def support_recursive_delete(self) -> bool:
        return True


class AttachmentFile(_ReadOnly, DAVNonCollection):
    def __init__(self, path: str, environ: dict[str, Any], entry: Entry) -> None:
        super().__init__(path, environ)
        self.entry = entry
        assert entry.attachment is not None
        self.attachment = entry.attachment

    def get_content_length(self) -> int:
        return self.attachment.size

    def get_content_type(self) -> str:
        return self.attachment.content_type

    def get_etag(self) -> str:
        return self.attachment.blob_sha256

    def get_property_value(self, name: str) -> Any:
        if name == "{DAV:}getetag":
            return quoted_etag(self.get_etag())
        return super().get_property_value(name)

    def support_etag(self) -> bool:
        return True

    def support_ranges(self) -> bool:
        return True

    def get_content(self) -> BinaryIO:
        return context_of(self.environ).runtime.blobs.open(self.attachment.blob_sha256)

    def begin_write(self, *, content_type: str | None = None) -> NoReturn:
        refuse()

    def finalize_headers(self, environ: dict[str, Any], response_headers: list[Any]) -> None:
        response_headers.append(("X-Content-Type-Options", "nosniff"))


def resource_for(path: str, environ: dict[str, Any], entry: Entry) -> _DAVResource:
    if entry.is_folder:
        return BranchFolder(path, environ, entry)
    return AttachmentFile(path, environ, entry)

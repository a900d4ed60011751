"""The WsgiDAV provider: maps request paths onto visible drive nodes."""

from __future__ import annotations

from typing import Any

from wsgidav.dav_provider import DAVProvider, _DAVResource

from davdrive.paths import join, split_path
from provider.context import context_of
from provider.errors import dav_errors
from provider.resources import FileResource, FolderResource


class DriveProvider(DAVProvider):
    """Resolves paths through the actor's ``Drive``: invisible means absent (None)."""

    def is_readonly(self) -> bool:
        return False

    def get_resource_inst(self, path: str, environ: dict[str, Any]) -> _DAVResource | None:
        with dav_errors():
            parts = split_path(path)
        node = context_of(environ).drive.node_at(parts)
        if node is None:
            return None
        canonical = join(parts)
        if node.is_folder:
            return FolderResource(canonical, environ, node)
        return FileResource(canonical, environ, node)

    def custom_request_handler(
        self, environ: dict[str, Any], start_response: Any, default_handler: Any
    ) -> Any:
        """Answer 201 (not 204) when a COPY or MOVE created its destination."""
        if environ.get("REQUEST_METHOD") not in ("COPY", "MOVE"):
            return default_handler(environ, start_response)

        def _start_response(status: str, headers: list[Any], exc_info: Any = None) -> Any:
            if status.startswith("204") and environ.get("davdrive.created"):
                status = "201 Created"
            return start_response(status, headers, exc_info)

        return default_handler(environ, _start_response)

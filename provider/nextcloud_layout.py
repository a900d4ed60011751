"""Nextcloud's URL layout: ``<mount>/files/LOGIN/`` and ``<mount>/uploads/LOGIN/``.

rclone's nextcloud vendor wants a URL ending in ``/dav/files/USERNAME`` and puts
its chunked uploads under ``/dav/uploads/USERNAME/``. For the signed-in user's
own login (compared case-insensitively, as sign-in does), ``<mount>/files/LOGIN``
is the drive exactly as at ``<mount>`` (same rights, same lock keys); hrefs in
answers keep the prefix the client used, and Destination headers may use
either prefix. ``<mount>/uploads/LOGIN/...`` goes to the chunked-upload handler.

Any other login is not special: the path is an ordinary drive path (a root
folder named ``files``), so it answers 404 unless such a folder exists, the
same for existing and unknown logins.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from provider.context import context_of
from provider.owncloud import recalculate_hash

PREFIX_KEY = "davdrive.layout_prefix"
HREF_SAFE = "/!*'(),$-_|."


def layout_href(environ: dict[str, Any], href: str, share_path: str) -> str:
    """``href`` (quoted, starting with the mount) under the prefix of this request."""
    prefix = environ.get(PREFIX_KEY)
    quoted_share = quote(share_path, safe=HREF_SAFE)
    if not prefix or not href.startswith(quoted_share):
        return href
    return quote(prefix, safe=HREF_SAFE) + href[len(quoted_share):]


class NextcloudLayout:
    """Rewrites ``<mount>/files/LOGIN/...`` onto ``<mount>/...`` for the signed-in
    user, hands ``<mount>/uploads/LOGIN/...`` to ``uploads`` and answers PATCH with
    X-Recalculate-Hash (a method WsgiDAV does not know) through ``provider``."""

    def __init__(self, app: Any, mount: str, provider: Any) -> None:
        self.app = app
        self.mount = mount
        self.provider = provider
        self.uploads: Any = None

    def _own(self, path: str, area: str, login: str) -> tuple[str, str] | None:
        """(prefix, rest) when ``path`` is ``<mount>/<area>/<login>[/rest]``."""
        head = f"{self.mount}/{area}/"
        if not path.startswith(head):
            return None
        segment, slash, rest = path[len(head):].partition("/")
        if segment.casefold() != login.casefold():
            return None
        return head + segment, slash + rest

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        actor = context_of(environ).actor
        login = actor.login if actor is not None else ""
        path = environ.get("PATH_INFO", "")
        if login:
            upload = self._own(path, "uploads", login)
            if upload is not None:
                environ["davdrive.upload_path"] = upload[1]
                return self.uploads(environ, start_response)  # type: ignore[no-any-return]
            files = self._own(path, "files", login)
            if files is not None:
                prefix, rest = files
                environ[PREFIX_KEY] = prefix
                environ["PATH_INFO"] = self.mount + (rest or "/")
        self.rewrite_destination(environ, login)
        if environ.get("REQUEST_METHOD") == "PATCH" and "HTTP_X_RECALCULATE_HASH" in environ:
            path = environ.get("PATH_INFO", "")[len(self.mount):] or "/"
            return recalculate_hash(  # type: ignore[no-any-return]
                self.provider, path, environ, start_response
            )
        return self.app(environ, start_response)  # type: ignore[no-any-return]

    def rewrite_destination(self, environ: dict[str, Any], login: str) -> None:
        """A Destination under ``<mount>/files/LOGIN/`` becomes the same path under
        ``<mount>/`` (the only form WsgiDAV resolves)."""
        destination = environ.get("HTTP_DESTINATION")
        if not destination or not login:
            return
        parts = urlsplit(destination)
        own = self._own(unquote(parts.path), "files", login)
        if own is None:
            return
        path = self.mount + (own[1] or "/")
        environ["HTTP_DESTINATION"] = urlunsplit(
            (parts.scheme, parts.netloc, quote(path, safe=HREF_SAFE), "", "")
        )

    def drive_path(self, environ: dict[str, Any], url: str) -> str | None:
        """The drive path (below the mount) of a Destination URL under either prefix."""
        actor = context_of(environ).actor
        path = unquote(urlsplit(url).path)
        own = self._own(path, "files", actor.login if actor else "")
        if own is not None:
            return own[1] or "/"
        if path == self.mount or path.startswith(self.mount + "/"):
            return path[len(self.mount):] or "/"
        return None

"""PUT without WsgiDAV's request machinery, for the plain uploads clients send most.

``FastPut`` sits directly inside the sign-in middleware. It answers a PUT only
when every part of the request is on its whitelist; anything else goes on to
WsgiDAV untouched, before a byte of the body is read:

- the method is PUT, the path lies in the mount, is canonical (NFC segments,
  no empty or trailing segment, no query string) and names neither the
  back-office branch, a reserved root name, the Nextcloud layout
  (``files``/``uploads`` at the root) nor a junk file (``davdrive.junk``);
- the body has a plain ``Content-Length`` (no Transfer-Encoding);
- every request header is in ``PLAIN_HEADERS``: no ``If*`` or ``Lock-Token``,
  no ownCloud (``X-OC-Mtime``, ``OC-Checksum``), Finder
  (``X-Expected-Entity-Length``) or range/encoding header;
- the parent is a folder the actor sees and the target is missing or a file
  (a folder, or a missing parent, gets WsgiDAV's own answers);
- no lock covers the target (one query); a lock, or a quota or size refusal
  (checked after the locks by WsgiDAV), goes to WsgiDAV, which answers it.

What it does is what ``provider.resources`` does for WsgiDAV, in the same
order and through the same core calls: rights and name rules
(``Drive.begin_upload``, which also checks quotas), WsgiDAV's lock-manager
write transaction (no lock may be taken while the body streams), the body into
the blob writer (``UploadSink``: short bodies refused), ``Drive.finish_upload``
(durable blob, then the commit and its audit event). Refusals are rendered by
``provider.errors``, as WsgiDAV's error printer renders them, and the
success answers repeat WsgiDAV's byte for byte (201 with its status line as
text, 204 empty; both with the strong ETag).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import Any

from sqlalchemy.exc import IntegrityError
from wsgidav import util

from davdrive import small_puts, tree
from davdrive.backoffice import BRANCH
from davdrive.drive_base import RESERVED_ROOT_KEYS
from davdrive.errors import (
    BadRequest,
    DriveError,
    IncompleteUpload,
    InsufficientStorage,
    TooLarge,
)
from davdrive.group_commit import GroupCommit
from davdrive.paths import join, name_key, reserved_key, split_path
from davdrive.services import Drive, Upload
from provider.body_input import body_blocks
from provider.context import RequestContext, context_of
from provider.errors import answerable_error, error_answer, quoted_etag
from provider.uploads import UploadSink

# Request headers that change nothing in a PUT's handling (WSGI environ keys).
PLAIN_HEADERS = frozenset(
    "HTTP_" + h
    for h in (
        "HOST", "USER_AGENT", "ACCEPT", "ACCEPT_ENCODING", "ACCEPT_LANGUAGE",
        "ACCEPT_CHARSET", "AUTHORIZATION", "CONNECTION", "KEEP_ALIVE", "CONTENT_TYPE",
        "CONTENT_LENGTH", "EXPECT", "DATE", "CACHE_CONTROL", "PRAGMA", "ORIGIN",
        "REFERER", "X_FORWARDED_FOR", "X_FORWARDED_PROTO", "X_FORWARDED_HOST",
        "X_REAL_IP",
    )
)
# Root names another handler owns: the Nextcloud layout (provider.nextcloud_layout).
LAYOUT_ROOTS = frozenset({"files", "uploads"})

CREATED_BODY = b"201 Created\n"
ANSWERED = "davdrive.fast_put"  # environ: True when this middleware answered



class _FallThrough(Exception):
    """The request is not one the fast path answers: WsgiDAV handles it."""


def plain_put_parts(environ: dict[str, Any], mount: str) -> list[str] | None:
    """The drive path segments of a PUT on the whitelist, or None (see module doc).

    Reads only the method, path and headers, never the body."""
    if environ.get("REQUEST_METHOD") != "PUT" or environ.get("QUERY_STRING"):
        return None
    length = environ.get("CONTENT_LENGTH", "")
    if not (length.isascii() and length.isdigit()):
        return None
    for key in environ:
        if key.startswith("HTTP_") and key not in PLAIN_HEADERS:
            return None
    raw = environ.get("PATH_INFO", "")
    if not raw.startswith(mount + "/"):
        return None
    try:
        path = raw[len(mount):].encode("latin-1").decode("utf-8")
        parts = split_path(path)
    except (UnicodeError, BadRequest):
        return None
    if not parts or join(parts) != path:
        return None
    first = name_key(parts[0])
    if first == BRANCH or first in LAYOUT_ROOTS or reserved_key(parts[0]) in RESERVED_ROOT_KEYS:
        return None
    return parts


class FastPut:
    """WSGI middleware: plain PUTs answered here, everything else passed to ``app``."""

    def __init__(
        self, app: Any, mount: str, provider: Any, *, enabled: bool = True,
        commits: GroupCommit | None = None,
    ) -> None:
        """``commits``: the new small files of concurrent requests share commits
        (``davdrive.group_commit``); without it each commits alone."""
        self.app = app
        self.mount = mount
        self.provider = provider
        self.enabled = enabled
        self.commits = commits

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        parts = plain_put_parts(environ, self.mount) if self.enabled else None
        if parts is None:
            return self.app(environ, start_response)  # type: ignore[no-any-return]
        try:
            answer = self._put(environ, start_response, parts)
            environ[ANSWERED] = True
            return answer
        except _FallThrough:
            return self.app(environ, start_response)  # type: ignore[no-any-return]

    def _put(
        self, environ: dict[str, Any], start_response: Any, parts: list[str]
    ) -> list[bytes]:
        ctx = context_of(environ)
        drive = ctx.drive
        if drive.is_junk(parts[-1]):
            raise _FallThrough
        expected = int(environ["CONTENT_LENGTH"])
        # One walk, on the request's Core connection: the parent and the name's holder.
        rows = tree.walk_rows(ctx.reads, parts, inline=False)
        new = small_puts.plan(drive, rows, parts, expected)
        if new is not None:
            return self._create_small(environ, start_response, ctx, parts, new, rows, expected)
        drive.settle_walk(parts, rows)  # the general way asks no second walk
        existing = drive.node_at(parts)
        if existing is not None and existing.is_folder:
            raise _FallThrough
        parent = drive.node_at(parts[:-1])
        if parent is None or not parent.is_folder:
            raise _FallThrough
        try:
            upload = self._begin(drive, parent, parts[-1], existing, expected)
        except DriveError as exc:
            return self._refuse(exc, environ, start_response)
        try:
            created, etag = self._write(environ, drive, upload, parts, expected)
        except _FallThrough:
            upload.writer.abort()
            raise
        except Exception as exc:
            upload.writer.abort()
            return self._refuse(exc, environ, start_response)
        return self._answer(start_response, created, etag)

    @staticmethod
    def _answer(start_response: Any, created: bool, etag: str) -> list[bytes]:
        if created:
            start_response("201 Created", [
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Content-Length", str(len(CREATED_BODY))),
                ("X-Content-Type-Options", "nosniff"),
                ("ETag", quoted_etag(etag)),
            ])
            return [CREATED_BODY]
        start_response("204 No Content", [
            ("Content-Length", "0"),
            ("Date", util.get_rfc1123_time()),
            ("ETag", quoted_etag(etag)),
        ])
        return [b""]

    def _create_small(
        self, environ: dict[str, Any], start_response: Any, ctx: RequestContext,
        parts: list[str], new: small_puts.NewFile, rows: list[Any], expected: int,
    ) -> list[bytes]:
        """A new small file (``davdrive.small_puts``): the checks of ``_begin`` and
        ``_write`` in their order, the body received into memory, one commit. A
        race seen at the commit goes the general way (``finish_upload``)."""
        drive = ctx.drive
        limit = drive.options.max_upload_bytes
        if limit is not None and expected > limit:
            raise _FallThrough
        try:
            drive.check_room(None, expected, on_disk=True)  # the disk only: no quotas here
        except InsufficientStorage:
            raise _FallThrough from None
        url = util.quote(self.mount + join(parts))
        with self.provider.lock_manager.plain_write(url, new=True) as free:
            if not free:
                raise _FallThrough
            ctx.release()  # no connection is held while the body is received
            try:
                data = _receive(environ, expected)
                etag = self._commit_small(ctx, new, data)
                created = True
                if etag is None:  # changed meanwhile: decided as a PUT coming now would be
                    created, etag = self._finish_general(drive, new, rows, data)
            except Exception as exc:
                return self._refuse(exc, environ, start_response)
        return self._answer(start_response, created, etag)

    def _commit_small(
        self, ctx: RequestContext, new: small_puts.NewFile, data: bytes
    ) -> str | None:
        """The new file committed (its ETag), or None: changed meanwhile, nothing stored."""
        if self.commits is None:
            with ctx.runtime.engine.connect() as conn:
                return small_puts.commit(conn, ctx.drive, new, data)
        try:
            return self.commits.run(partial(small_puts.store, drive=ctx.drive, new=new, data=data))
        except IntegrityError:  # refused by the database when run alone: the general way
            return None

    @staticmethod
    def _finish_general(
        drive: Drive, new: small_puts.NewFile, rows: list[Any], data: bytes
    ) -> tuple[bool, str]:
        """``finish_upload`` of ``data`` as the upload ``_begin`` would have opened."""
        parent = tree.adopt(drive.session, rows)[-1]
        writer = drive.blobs.writer(drive.options.max_upload_bytes)
        try:
            writer.write(data)
        except BaseException:
            writer.abort()
            raise
        upload = Upload(parent, new.name, None, writer, placement=new.placement)
        node = drive.finish_upload(upload)
        assert node.etag is not None
        return upload.created, node.etag
    @staticmethod
    def _begin(
        drive: Drive, parent: Any, name: str, existing: Any, expected: int
    ) -> Upload:
        """``Drive.begin_upload`` with WsgiDAV's order of answers: the size limit and
        quotas come after the lock check there, so their refusals fall through."""
        limit = drive.options.max_upload_bytes
        if limit is not None and expected > limit:
            raise _FallThrough
        try:
            return drive.begin_upload(parent, name, existing, expected=expected)
        except (InsufficientStorage, TooLarge):
            raise _FallThrough from None

    def _write(
        self, environ: dict[str, Any], drive: Drive, upload: Upload, parts: list[str],
        expected: int,
    ) -> tuple[bool, str]:
        """Stream the body into the upload while its URL is marked as being written
        (no lock is granted on it meanwhile), then commit it. A lock on the way
        falls through: WsgiDAV answers it (423, or the write with the token)."""
        url = util.quote(self.mount + join(parts))
        with self.provider.lock_manager.plain_write(url, new=upload.existing is None) as free:
            if not free:
                raise _FallThrough
            # The lock query ran on the request's connection: give it back before
            # the body streams (a slow client must not hold one).
            context_of(environ).release()
            sink = UploadSink(upload, expected)
            sink.receive(environ, expected)
            sink.close()
            node = drive.finish_upload(upload)
        assert node.etag is not None
        return upload.created, node.etag

    @staticmethod
    def _refuse(exc: Exception, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        """The error answer WsgiDAV's error printer would give for ``exc``; the unread
        body is discarded first, as WsgiDAV does, so the connection stays usable."""
        error = answerable_error(exc, environ)
        util.read_and_discard_input(environ)
        if not environ.get("wsgidav.all_input_read"):
            error.add_headers = [*(error.add_headers or []), ("Connection", "close")]
        return error_answer(error, environ, start_response)


def _receive(environ: dict[str, Any], expected: int) -> bytes:
    """The request body of ``expected`` bytes; ``IncompleteUpload`` when it ends short."""
    body = b"".join(body_blocks(environ, expected))
    if len(body) < expected:
        raise IncompleteUpload(
            f"Received {len(body)} of {expected} announced bytes; nothing was stored."
        )
    return body

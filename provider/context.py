"""Per-request context: one DB session, the signed-in actor and their Drive.

Reads on the hot paths (sign-in from the cache, the fast GET's path walk) go
through ``reads``, a plain Core connection: an ORM session costs several
times more than the statements it runs there. The connection is given back
to the pool as soon as the session begins a transaction
(``davdrive.db.ON_BEGIN``), so a request holds one pooled connection at a
time; a caller never keeps ``reads`` across a use of the session. A request
that needed no session leaves it to its thread's next request
(``davdrive.read_connections``).

The context middleware opens it before WsgiDAV runs and closes it when the
response iterator is closed, so that streamed GET bodies still have their
session; its pooled connection is released before each chunk is handed to
the server, so a slow reader holds no connection. The provider, the lock
storage and the authenticator find it in ``environ["davdrive.ctx"]``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from davdrive.backoffice import Backoffice
from davdrive.db import ON_BEGIN, release_connection
from davdrive.policy import Actor
from davdrive.rights_cache import Stamp
from davdrive.runtime import Runtime
from davdrive.services import Drive
from davdrive.source_address import source_of
from provider.file_body import FileBody

ENV_KEY = "davdrive.ctx"


class RequestContext:
    """Lazily opened session + actor + drive for one request."""

    def __init__(self, runtime: Runtime, environ: dict[str, Any]) -> None:
        self.runtime = runtime
        self.environ = environ
        self._session: Session | None = None
        self._reads: Connection | None = None
        self._drive: Drive | None = None
        self._backoffice: Backoffice | None = None
        self.actor: Actor | None = None
        # (category id, version) of the actor, read at sign-in: validates cached rights.
        self.rights_stamp: Stamp | None = None
        # The tree's version, read with the account at sign-in: validates the process's
        # readable files (davdrive.readable_files); None when sign-in did not read it.
        self.tree_version: int | None = None
        # The lock rows this request's write checks share (provider.lock_manager).
        self.lock_snapshot: Any = None
        self._source: str | None = None

    @property
    def source(self) -> str:
        """The client's address: REMOTE_ADDR, or what a trusted proxy says it is
        (``davdrive.source_address``); the address sign-in counts and audits."""
        if self._source is None:
            self._source = source_of(self.environ, self.runtime.trusted_proxies)
        return self._source

    @property
    def session(self) -> Session:
        if self._session is None:
            self._session = self.runtime.sessions(info={ON_BEGIN: self._close_reads})
        return self._session

    @property
    def reads(self) -> Connection:
        """A Core connection for reads only (no transaction is ever committed on it).
        Once the request's session has a transaction, its connection serves instead."""
        if self._session is not None and self._session.in_transaction():
            return self._session.connection()
        if self._reads is None:
            self._reads = self.runtime.reads.take()
        return self._reads

    def _close_reads(self) -> None:
        """The reads connection, and any this thread kept, go back to the pool (the
        session begins, or the request waits on its client: it holds none meanwhile)."""
        reads = self.runtime.reads
        if self._reads is not None:
            conn, self._reads = self._reads, None
            reads.release(conn)
        reads.release_kept()

    def _finish_reads(self) -> None:
        """Done reading for now: the thread keeps the connection for its next reads."""
        if self._reads is not None:
            reads, self._reads = self._reads, None
            self.runtime.reads.finish(reads)

    @property
    def backoffice(self) -> Backoffice:
        if self._backoffice is None:
            if self.actor is None:
                raise RuntimeError("no signed-in actor for this request")
            self._backoffice = Backoffice(self.session, self.actor)
        return self._backoffice

    @property
    def drive(self) -> Drive:
        if self._drive is None:
            if self.actor is None:
                raise RuntimeError("no signed-in actor for this request")
            self._drive = Drive(
                lambda: self.session,  # opened on first use: the fast paths need none
                self.runtime.blobs,
                self.actor,
                self.runtime.drive_options,
                ip=self.source,
                rights_cache=self.runtime.rights_cache,
                rights_stamp=self.rights_stamp,
                readable_files=self.runtime.readable_files,
                tree_version=self.tree_version,
            )
        return self._drive

    def release(self) -> None:
        """Give the pooled connection back; the next query takes one again."""
        self._close_reads()
        if self._session is not None:
            release_connection(self._session)

    def idle(self) -> None:
        """``release``, except that the reads connection stays with this thread for
        its next reads (``davdrive.read_connections``): for answers already in
        memory, whose sending costs no wait worth a connection."""
        self._finish_reads()
        if self._session is not None:
            release_connection(self._session)

    def close(self) -> None:
        self._finish_reads()
        if self._session is not None:
            self._session.rollback()
            self._session.close()
            self._session = None
            self._drive = None
            self._backoffice = None


def signed_in_login(environ: dict[str, Any]) -> str:
    """The login the request signed in as, "" when none (for the connection statistics,
    ``provider.traffic``); still known after the context is closed."""
    ctx = environ.get(ENV_KEY)
    actor = ctx.actor if ctx is not None else None
    return actor.login if actor is not None else ""


def context_of(environ: dict[str, Any]) -> RequestContext:
    ctx = environ.get(ENV_KEY)
    if ctx is None:
        raise RuntimeError("request context missing: is ContextMiddleware installed?")
    return ctx  # type: ignore[no-any-return]


class _Closing:
    """Response iterable that closes the request context after the body.

    Before each chunk goes to the server (which may block on a slow client's
    socket), the request's DB connection is released; producing the next
    chunk takes one again if it needs SQL. An answer already in memory (a
    list) leaves the reads connection with the thread (``RequestContext.idle``).
    """

    def __init__(
        self, body: Iterable[bytes], ctx: RequestContext, done: Any = None
    ) -> None:
        self._body = body
        self._ctx = ctx
        self._done = done

    def __iter__(self) -> Iterator[bytes]:
        release = self._ctx.idle if isinstance(self._body, list) else self._ctx.release
        for chunk in self._body:
            release()
            yield chunk

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            try:
                self._ctx.close()
            finally:
                if self._done is not None:
                    self._done()


class CurrentRequest(threading.local):
    """The context of the request this thread is handling, while the app runs.

    For code that WsgiDAV calls without the request (its lock manager). One
    instance per app; ``ctx`` is set from the start of a request until its
    response is closed, None outside requests.
    """

    ctx: RequestContext | None = None


class ContextMiddleware:
    """Opens a ``RequestContext`` for every request and closes it afterwards."""

    def __init__(self, app: Any, runtime: Runtime, current: CurrentRequest | None = None) -> None:
        self.app = app
        self.runtime = runtime
        self.current = current

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        ctx = RequestContext(self.runtime, environ)
        environ[ENV_KEY] = ctx
        current = self.current
        done = None
        if current is not None:
            # WsgiDAV does its work while the body is iterated: keep ``ctx``
            # current until the server closes the response.
            outer = current.ctx
            current.ctx = ctx

            def done() -> None:
                current.ctx = outer

        try:
            body = self.app(environ, start_response)
        except BaseException:
            ctx.close()
            if done is not None:
                done()
            raise
        if isinstance(body, FileBody):  # kept as is, so the server can sendfile it
            body.before_send.append(ctx.release)
            body.on_close.append(ctx.close)
            if done is not None:
                body.on_close.append(done)
            return body
        return _Closing(body, ctx, done)

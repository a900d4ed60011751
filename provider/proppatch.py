"""PROPPATCH as one transaction (RFC 4918 9.2: all or nothing).

WsgiDAV checks every property of the request in a dry run, and only if all
pass applies them one by one. ``proppatch_in_one_transaction`` runs its
handler inside ``Drive.one_transaction``: the drive writes without
committing, and the request commits once at the end. The answer is held
back until the commit succeeded. A property that fails while being applied
(after its dry run passed: unexpected) rolls back the whole request, which
then answers a plain 500 saying nothing was stored.
"""

from __future__ import annotations

from typing import Any

from provider.context import context_of
from provider.errors import UserDAVError, dav_errors

APPLY_FAILED = "davdrive.proppatch_apply_failed"
# WsgiDAV has no reason phrase for 507 and writes "507 Status".
_BARE_507 = b"<D:status>HTTP/1.1 507 Status</D:status>"
_FULL_507 = b"<D:status>HTTP/1.1 507 Insufficient Storage</D:status>"


def proppatch_in_one_transaction(
    environ: dict[str, Any], start_response: Any, default_handler: Any
) -> list[bytes]:
    # RFC 4918 9.2 defines no Depth for PROPPATCH: any value is ignored (WsgiDAV
    # refused all but 0 with 400).
    environ["HTTP_DEPTH"] = "0"
    drive = context_of(environ).drive
    captured: list[Any] = []

    def _capture(status: str, headers: list[Any], exc_info: Any = None) -> Any:
        captured[:] = [status, headers, exc_info]
        return lambda data: None

    with dav_errors(), drive.one_transaction():
        body = b"".join(default_handler(environ, _capture))
        if environ.get(APPLY_FAILED):
            raise UserDAVError(500, "A property could not be stored; nothing was stored.")
    body = body.replace(_BARE_507, _FULL_507)
    status, headers, exc_info = captured
    headers = [(k, str(len(body)) if k.lower() == "content-length" else v) for k, v in headers]
    start_response(status, headers, exc_info)
    return [body]

""""Connect your computer" (``/files/connect``), for every signed-in user.

The page shows the drive's WebDAV URL as this browser reached the server
(``davdrive.public_url``: forwarded headers only from trusted proxies, plus
``dav.mount``), the login, and each client's steps (``davdrive.client_steps``).
"Create an app password" makes one through the account use case and shows it in
the steps of that answer only: only its hash is stored, and the page never shows
it again. The self-test (``web.files.self_test``) checks that same URL from the
server, never another one; with the app password of the form it also signs in.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from flask import g, render_template, request

from davdrive.account_checks import check_text
from davdrive.client_steps import client_steps
from davdrive.errors import BadRequest, status_of
from davdrive.public_url import PublicOrigin, drive_path, public_origin
from davdrive.users import app_password
from web.admin.blueprint import signed_in
from web.files import self_test
from web.files.blueprint import files
from web.forms import Errors, refusal
from web.request_state import state

# What app passwords look like (secrets.token_urlsafe); anything else is refused.
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,200}$")
LABEL_LIMIT = 200


@files.get("/connect", endpoint="connect")
@signed_in
def connect_page() -> Any:
    return _page()


@files.post("/connect/app-password", endpoint="connect_app_password")
@signed_in
def create_app_password() -> Any:
    raw = request.form.get("label", "")[: LABEL_LIMIT * 4].strip()
    errors = Errors()
    label = errors.check("label", lambda: check_text(raw, LABEL_LIMIT, "The label"))
    if errors or label is None:
        return _page(errors=errors, status=400, label=raw[:LABEL_LIMIT])
    label = label or default_label()
    made: list[str] = []
    refused = refusal(lambda: made.append(app_password(g.db, g.user.login, label, g.actor)))
    if refused:
        return _page(errors=Errors({"label": refused.message}), status=status_of(refused))
    return _page(token=made[0], created=label)


@files.post("/connect/self-test", endpoint="connect_self_test")
@signed_in
def run_self_test() -> Any:
    token = request.form.get("app_password", "")
    if token and not _TOKEN.match(token):
        raise BadRequest("This is not an app password; nothing was checked.")
    origin = _origin()
    target = self_test.Target(
        origin=origin,
        path=drive_path(state().settings["dav.mount"]),
        request_port=_request_port(),
        allowed_hosts=frozenset(h.lower() for h in state().settings["server.allowed_hosts"]),
    )
    login = g.user.login
    g.db.rollback()  # hold no transaction while the drive answers the test's requests
    checks = self_test.run(target, login, token or None)
    return _page(token=token, checks=checks)


def default_label() -> str:
    return f"rclone on {dt.datetime.now(dt.UTC):%Y-%m-%d}"


def _page(*, token: str = "", created: str = "", checks: list[self_test.Check] | None = None,
          errors: Errors | None = None, status: int = 200, label: str = "") -> Any:
    origin = _origin()
    mount = state().settings["dav.mount"]
    steps = client_steps(origin, mount, g.user.login, token or None)
    return render_template(
        "files/connect.html", steps=steps, origin=origin, token=token, created=created,
        checks=checks, errors=errors or Errors(), label=label or default_label(),
    ), status


def _origin() -> PublicOrigin:
    return public_origin(request.environ, state().runtime.trusted_proxies)


def _request_port() -> int:
    port = str(request.environ.get("SERVER_PORT", ""))
    return int(port) if port.isdigit() else 0
